import type { Migration } from './migration.js'

/**
 * IAM configuration as `aws iam get-account-authorization-details` (and the password policy) give it, one snapshot per
 * account and time, every one kept: what changed between two snapshots is itself a finding.
 */
export const iamSnapshots: Migration = {
  version: 11,
  name: 'IAM authorization snapshots',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS iam_snapshots (
      account_id LowCardinality(String),
      taken_at DateTime64(3, 'UTC'),
      imported_at DateTime64(3, 'UTC'),
      document String CODEC(ZSTD(3)),
      -- get-account-password-policy's PasswordPolicy as JSON; empty when not given.
      password_policy String
    ) ENGINE = ReplacingMergeTree(imported_at) ORDER BY (account_id, taken_at)`,
  ],
}
