import type { Migration } from './migration.js'

/** Every change made from the console, and every sign-in: who, what, to what, when, from where. Append only. */
export const consoleAudit: Migration = {
  version: 10,
  name: 'console audit log',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS console_audit (
      at DateTime64(3, 'UTC'),
      actor String,
      action LowCardinality(String),
      target String,
      detail String,
      address String
    ) ENGINE = MergeTree ORDER BY at`,
  ],
}
