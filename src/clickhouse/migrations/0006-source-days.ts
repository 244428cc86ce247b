import { keptFromEvents, type Migration } from './migration.js'

// Failed sign-ins are not use, and AWS acting for the account is not the principal's network.
const SOURCE_DAYS = `SELECT account_id, principal_arn, assumeNotNull(source_ip) AS source_ip, toDate(event_time) AS day,
            any(source_asn) AS source_asn, any(source_country) AS source_country,
            min(event_time) AS first_seen, max(event_time) AS last_seen, count() AS calls
     FROM events
     WHERE source_network = 'public' AND actor_kind != 'aws-service' AND principal_arn != ''
       AND NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure')
     GROUP BY account_id, principal_arn, source_ip, day`

/**
 * Each principal's addresses per day, replacing the all-time baseline: a run for a past window
 * (detect --from, a replay) must judge an address by what came before the window, not after it.
 */
export const sourceDays: Migration = {
  version: 6,
  name: 'principal addresses per day',
  statements: () => [
    ...keptFromEvents(
      'baseline_principal_source_days',
      `(
      account_id LowCardinality(String),
      principal_arn String,
      source_ip String,
      day Date,
      source_asn SimpleAggregateFunction(any, UInt32),
      source_country SimpleAggregateFunction(any, LowCardinality(String)),
      first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
      calls SimpleAggregateFunction(sum, UInt64)
    ) ENGINE = AggregatingMergeTree ORDER BY (account_id, principal_arn, source_ip, day)`,
      SOURCE_DAYS,
    ),
    // The all-time baseline it replaces: one view fewer on every insert.
    'DROP VIEW IF EXISTS baseline_principal_sources_mv',
    'DROP TABLE IF EXISTS baseline_principal_sources',
  ],
}
