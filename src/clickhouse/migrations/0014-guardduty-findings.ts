import type { Migration } from './migration.js'

/**
 * GuardDuty's findings, as EventBridge delivers them: one row per finding and update (GuardDuty
 * updates a finding as activity goes on), so a replay sees each update when it happened. The same
 * update delivered twice collapses.
 */
export const guardDutyFindings: Migration = {
  version: 14,
  name: 'GuardDuty findings',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS guardduty_findings (
      finding_id String,
      account_id LowCardinality(String),
      region LowCardinality(String),
      partition LowCardinality(String),
      type LowCardinality(String),
      severity Float32,
      title String,
      description String,
      resource_type LowCardinality(String),
      access_key_id String,
      principal_id String,
      user_name String,
      user_type LowCardinality(String),
      remote_ip String,
      api String,
      service_name LowCardinality(String),
      first_seen DateTime64(3, 'UTC'),
      last_seen DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      count UInt64,
      archived Bool,
      raw String CODEC(ZSTD(3)),
      stored_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(stored_at) PARTITION BY toYYYYMM(updated_at) ORDER BY (account_id, finding_id, updated_at)`,
  ],
}
