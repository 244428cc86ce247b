import { keptFromEvents, type Migration } from './migration.js'

const SOURCES = `SELECT account_id, principal_arn, assumeNotNull(source_ip) AS source_ip, any(source_asn) AS source_asn,
            any(source_country) AS source_country, min(event_time) AS first_seen, max(event_time) AS last_seen, count() AS calls
     FROM events
     WHERE source_network = 'public' AND actor_kind != 'aws-service' AND principal_arn != ''
       AND NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure')
     GROUP BY account_id, principal_arn, source_ip`

const HOURS = `SELECT account_id, principal_arn, toDate(event_time) AS day,
            toUInt8((toDayOfWeek(event_time) - 1) * 24 + toHour(event_time)) AS hour_of_week, count() AS calls
     FROM events
     WHERE principal_arn != '' AND actor_kind IN ('human-console', 'human-cli') AND error_code = ''
     GROUP BY account_id, principal_arn, day, hour_of_week`

const ACCESS_KEYS = `SELECT access_key_id, any(account_id) AS account_id, any(principal_arn) AS principal_arn,
            min(event_time) AS first_used, max(event_time) AS last_used,
            argMaxState(coalesce(source_ip, source_host), event_time) AS last_source,
            argMaxState(toString(aws_region), event_time) AS last_region,
            argMaxState(toString(event_source), event_time) AS last_service
     FROM events
     WHERE access_key_kind = 'long-term'
     GROUP BY access_key_id`

const KEY_LIFECYCLE = `SELECT
       if(event_name = 'CreateAccessKey', JSONExtractString(raw, 'responseElements', 'accessKey', 'accessKeyId'),
          JSONExtractString(raw, 'requestParameters', 'accessKeyId')) AS access_key_id,
       account_id,
       if(event_name = 'CreateAccessKey', JSONExtractString(raw, 'responseElements', 'accessKey', 'userName'),
          coalesce(nullIf(JSONExtractString(raw, 'requestParameters', 'userName'), ''), user_name)) AS user_name,
       event_name AS action,
       multiIf(event_name = 'CreateAccessKey', 'Active', event_name = 'DeleteAccessKey', 'Deleted',
               JSONExtractString(raw, 'requestParameters', 'status')) AS status,
       event_time, event_id
     FROM events
     WHERE event_source = 'iam.amazonaws.com' AND event_name IN ('CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey') AND error_code = ''`

/**
 * What detection needs: where each call came from, per-principal baselines kept up to date by
 * materialised views (so a detector never rescans months of events), findings as alerts, and the
 * detectors' watermarks.
 */
export const detection: Migration = {
  version: 2,
  name: 'source enrichment, baselines, alerts, detector watermarks',
  statements: () => [
    `ALTER TABLE events
       ADD COLUMN IF NOT EXISTS source_network LowCardinality(String) AFTER source_host,
       ADD COLUMN IF NOT EXISTS source_country LowCardinality(String) AFTER source_network,
       ADD COLUMN IF NOT EXISTS source_asn UInt32 AFTER source_country,
       ADD COLUMN IF NOT EXISTS source_as_org LowCardinality(String) AFTER source_asn`,

    // Every address a principal acted from, with its network, first and last use.
    // Failed sign-ins are not use, and AWS acting for the account is not the principal's network.
    ...keptFromEvents(
      'baseline_principal_sources',
      `(
      account_id LowCardinality(String),
      principal_arn String,
      source_ip String,
      source_asn SimpleAggregateFunction(any, UInt32),
      source_country SimpleAggregateFunction(any, LowCardinality(String)),
      first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
      calls SimpleAggregateFunction(sum, UInt64)
    ) ENGINE = AggregatingMergeTree ORDER BY (account_id, principal_arn, source_ip)`,
      SOURCES,
    ),

    // When each person works: calls per hour of the week (UTC) and per day. Automation and AWS are left out.
    ...keptFromEvents(
      'baseline_principal_hours',
      `(
      account_id LowCardinality(String),
      principal_arn String,
      day Date,
      hour_of_week UInt8,
      calls SimpleAggregateFunction(sum, UInt64)
    ) ENGINE = AggregatingMergeTree ORDER BY (account_id, principal_arn, day, hour_of_week)`,
      HOURS,
    ),

    // Long-term access keys: first and last use, and where from.
    ...keptFromEvents(
      'baseline_access_keys',
      `(
      access_key_id String,
      account_id SimpleAggregateFunction(any, LowCardinality(String)),
      principal_arn SimpleAggregateFunction(any, String),
      first_used SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      last_used SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
      last_source AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
      last_region AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
      last_service AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
    ) ENGINE = AggregatingMergeTree ORDER BY access_key_id`,
      ACCESS_KEYS,
    ),

    // Key lifecycle: CreateAccessKey, UpdateAccessKey (Active/Inactive), DeleteAccessKey.
    ...keptFromEvents(
      'access_key_lifecycle',
      `(
      access_key_id String,
      account_id LowCardinality(String),
      user_name String,
      action LowCardinality(String),
      status LowCardinality(String),
      event_time DateTime64(3, 'UTC'),
      event_id String
    ) ENGINE = ReplacingMergeTree ORDER BY (access_key_id, event_time, event_id)`,
      KEY_LIFECYCLE,
    ),

    // Findings: deterministic ids, so the same finding from two runs is one alert.
    `CREATE TABLE IF NOT EXISTS alerts (
      alert_id String,
      detector LowCardinality(String),
      severity LowCardinality(String),
      principal String,
      account LowCardinality(String),
      title String,
      first_seen DateTime64(3, 'UTC'),
      last_seen DateTime64(3, 'UTC'),
      evidence String,
      dedup_key String,
      detected_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(detected_at) ORDER BY alert_id`,

    `CREATE TABLE IF NOT EXISTS detector_watermarks (
      detector LowCardinality(String),
      window_end DateTime64(3, 'UTC'),
      ran_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(ran_at) ORDER BY detector`,
  ],
}
