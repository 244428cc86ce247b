import type { Migration } from './migration.js'

/**
 * What first-seen rules remember: per rule, the values each group has shown, by day, and the span
 * of time that memory covers. A rule reads its history here instead of rescanning the events.
 */
export const ruleHistory: Migration = {
  version: 8,
  name: 'first-seen rule history',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS rule_seen_values (
      rule_key LowCardinality(String),
      account_id LowCardinality(String),
      group_key Array(String),
      value String,
      day Date,
      first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
    ) ENGINE = AggregatingMergeTree ORDER BY (rule_key, account_id, group_key, value, day)
    TTL day + INTERVAL 400 DAY`,
    `CREATE TABLE IF NOT EXISTS rule_seen_coverage (
      rule_key String,
      covered_from SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
      covered_to SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
    ) ENGINE = AggregatingMergeTree ORDER BY rule_key`,
  ],
}
