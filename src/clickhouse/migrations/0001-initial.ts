import type { Migration } from './migration.js'

/** Every event, kept `retentionDays` after it was ingested. */
function eventsTable(retentionDays: number): string {
  return `CREATE TABLE IF NOT EXISTS events (
    event_id String,
    event_time DateTime64(3, 'UTC'),
    event_name LowCardinality(String),
    event_source LowCardinality(String),
    event_type LowCardinality(String),
    event_category LowCardinality(String),
    event_version LowCardinality(String),
    account_id LowCardinality(String),
    aws_region LowCardinality(String),
    principal_arn String,
    principal_type LowCardinality(String),
    principal_account_id LowCardinality(String),
    user_name String,
    session_name String,
    actor_kind LowCardinality(String),
    invoked_by LowCardinality(String),
    access_key_id String,
    access_key_kind LowCardinality(String),
    mfa_authenticated Bool,
    console_session Bool,
    source_ip Nullable(String),
    source_host LowCardinality(String),
    user_agent String,
    error_code LowCardinality(String),
    error_message String,
    read_only Nullable(Bool),
    management_event Nullable(Bool),
    request_id String,
    vpc_endpoint_id String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    -- ZSTD(1) packs CloudTrail JSON nearly as tight as higher levels at a fraction of the insert cost.
    raw String CODEC(ZSTD(1))
  )
  ENGINE = ReplacingMergeTree
  PARTITION BY toYYYYMM(event_time)
  ORDER BY (account_id, event_time, event_id)
  TTL toDateTime(ingested_at) + toIntervalDay(${retentionDays})
  -- Ingest batches (up to ~50k records) stay compact parts, one file instead of two per column:
  -- inserts measured about a third faster on the embedded engine. Merged parts become wide.
  SETTINGS min_bytes_for_wide_part = 134217728`
}

export const initial: Migration = {
  version: 1,
  name: 'events, rejected input, credential reports',
  statements: ({ retentionDays }) => [
    eventsTable(retentionDays),

    `CREATE TABLE IF NOT EXISTS rejected_input (
      rejected_at DateTime64(3, 'UTC'),
      source String,
      location String,
      reason String,
      size_bytes UInt64,
      truncated Bool,
      raw String CODEC(ZSTD(3))
    )
    ENGINE = ReplacingMergeTree(rejected_at)
    ORDER BY (source, location)
    TTL toDateTime(rejected_at) + toIntervalDay(${retentionDays})`,

    `CREATE TABLE IF NOT EXISTS credential_reports (
      generated_at DateTime('UTC'),
      account_id LowCardinality(String),
      user String,
      arn String,
      user_creation_time Nullable(DateTime('UTC')),
      password_enabled Nullable(Bool),
      password_last_used Nullable(DateTime('UTC')),
      password_last_changed Nullable(DateTime('UTC')),
      password_next_rotation Nullable(DateTime('UTC')),
      mfa_active Bool,
      access_key_1_active Bool,
      access_key_1_last_rotated Nullable(DateTime('UTC')),
      access_key_1_last_used_date Nullable(DateTime('UTC')),
      access_key_1_last_used_region LowCardinality(String),
      access_key_1_last_used_service LowCardinality(String),
      access_key_2_active Bool,
      access_key_2_last_rotated Nullable(DateTime('UTC')),
      access_key_2_last_used_date Nullable(DateTime('UTC')),
      access_key_2_last_used_region LowCardinality(String),
      access_key_2_last_used_service LowCardinality(String),
      cert_1_active Bool,
      cert_1_last_rotated Nullable(DateTime('UTC')),
      cert_2_active Bool,
      cert_2_last_rotated Nullable(DateTime('UTC')),
      imported_at DateTime64(3, 'UTC')
    )
    ENGINE = ReplacingMergeTree(imported_at)
    ORDER BY (account_id, generated_at, user)`,
  ],
}
