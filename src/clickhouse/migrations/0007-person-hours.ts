import { keptFromEvents, type Migration } from './migration.js'

// A failed sign-in carries no error code, and another's guessing is not the person at work.
const PERSON_HOURS = `SELECT account_id, principal_arn, toDate(event_time) AS day,
            toUInt8((toDayOfWeek(event_time) - 1) * 24 + toHour(event_time)) AS hour_of_week, count() AS calls
     FROM events
     WHERE principal_arn != '' AND actor_kind IN ('human-console', 'human-cli') AND error_code = ''
       AND NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure')
     GROUP BY account_id, principal_arn, day, hour_of_week`

/** When each person works, without the hours that held only failed sign-ins in their name. */
export const personHours: Migration = {
  version: 7,
  name: 'person hours without failed sign-ins',
  statements: () => [
    ...keptFromEvents(
      'baseline_person_hours',
      `(
      account_id LowCardinality(String),
      principal_arn String,
      day Date,
      hour_of_week UInt8,
      calls SimpleAggregateFunction(sum, UInt64)
    ) ENGINE = AggregatingMergeTree ORDER BY (account_id, principal_arn, day, hour_of_week)`,
      PERSON_HOURS,
    ),
    'DROP VIEW IF EXISTS baseline_principal_hours_mv',
    'DROP TABLE IF EXISTS baseline_principal_hours',
  ],
}
