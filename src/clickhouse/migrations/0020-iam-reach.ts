import type { Migration } from './migration.js'

/**
 * What each identity can become, computed from the organisation's latest IAM snapshots at a time
 * (`as_of`): one row per identity that can become administrator without being one, with its
 * shortest path and the smallest cut of it, and one row with an empty principal marking that the
 * computation ran (so an organisation where nobody can is told apart from one never computed).
 */
export const iamReach: Migration = {
  version: 20,
  name: 'paths to administrator',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS iam_reach (
      as_of DateTime64(3, 'UTC'),
      principal String,
      account_id LowCardinality(String),
      kind LowCardinality(String),
      name String,
      steps UInt8,
      -- The shortest path as JSON: {from, to, steps: [{from, to, action, via, conditions}]}.
      path String,
      -- The shortest path to each administrator it can become (up to five), as a JSON array of paths.
      paths String,
      -- The fewest steps that cut every path, as JSON; empty when there are too many ways to name.
      cut String,
      computed_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(computed_at) ORDER BY (as_of, principal)`,
  ],
}
