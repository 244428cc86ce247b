import { keptFromEvents, type Migration } from './migration.js'

const KEY_DAYS = `SELECT access_key_id, toDate(event_time) AS day, any(account_id) AS account_id, any(principal_arn) AS principal_arn,
            min(event_time) AS first_used, max(event_time) AS last_used,
            argMaxState(coalesce(source_ip, source_host), event_time) AS last_source,
            argMaxState(toString(aws_region), event_time) AS last_region,
            argMaxState(toString(event_source), event_time) AS last_service
     FROM events
     WHERE access_key_kind = 'long-term'
     GROUP BY access_key_id, day`

/**
 * Long-term key use per key and day, replacing the all-time baseline: a report or detector run for a
 * past time must not see use that came after it.
 */
export const keyUseByDay: Migration = {
  version: 5,
  name: 'access-key use per day',
  statements: () => [
    ...keptFromEvents(
      'baseline_access_key_days',
      `(
      access_key_id String,
      day Date,
      account_id SimpleAggregateFunction(any, LowCardinality(String)),
      principal_arn SimpleAggregateFunction(any, String),
      first_used SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      last_used SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
      last_source AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
      last_region AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
      last_service AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
    ) ENGINE = AggregatingMergeTree ORDER BY (access_key_id, day)`,
      KEY_DAYS,
    ),
    // The all-time baseline it replaces: one view fewer on every insert.
    'DROP VIEW IF EXISTS baseline_access_keys_mv',
    'DROP TABLE IF EXISTS baseline_access_keys',
  ],
}
