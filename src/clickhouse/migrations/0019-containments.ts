import type { Migration } from './migration.js'

/**
 * Containment: every change trailwatch made to an identity in AWS, or was asked to and refused or
 * failed to, one row per step and state (planned, applied, failed, rolled back, undone), each with
 * who, why and the state before it, so an undo restores exactly that. Append-only: the latest row
 * of a step is where it stands.
 */
export const containments: Migration = {
  version: 19,
  name: 'containment changes and their undo',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS containments (
      containment_id String,
      step UInt16,
      target String,
      action LowCardinality(String),
      change String,
      status LowCardinality(String),
      actor String,
      reason String,
      incident_id String,
      error String,
      at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (containment_id, step, at)`,
  ],
}
