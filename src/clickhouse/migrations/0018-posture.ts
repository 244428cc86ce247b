import type { Migration } from './migration.js'

/**
 * Posture apart from threats: each alert says which it is, and what people decide about a posture
 * finding (accept it until a day, with why; take the acceptance back) is an append-only log whose
 * latest row per alert is in force. Alerts stored before are threats, as they were told.
 */
export const posture: Migration = {
  version: 18,
  name: 'posture findings and their decisions',
  statements: () => [
    `ALTER TABLE alerts ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'threat' AFTER detector`,
    `CREATE TABLE IF NOT EXISTS posture_actions (
      alert_id String,
      action LowCardinality(String),
      actor String,
      reason String,
      until Nullable(DateTime64(3, 'UTC')),
      at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (alert_id, at)`,
  ],
}
