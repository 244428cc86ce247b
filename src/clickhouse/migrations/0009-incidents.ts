import type { Migration } from './migration.js'

/**
 * Incidents: alerts joined by the identity behind them. Membership is one row per alert (a merge
 * writes it again, later); what happened to an incident (opened, merged, acknowledged, resolved)
 * is an append-only log, so who did what and why is never overwritten. Severity, tactics and span
 * are read from the member alerts, never stored twice.
 */
export const incidents: Migration = {
  version: 9,
  name: 'incidents',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS incident_members (
      alert_id String,
      incident_id String,
      identities Array(String),
      link String,
      joined_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(joined_at) ORDER BY alert_id`,
    `CREATE TABLE IF NOT EXISTS incident_actions (
      incident_id String,
      action LowCardinality(String),
      actor String,
      reason String,
      merged_into String,
      at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (incident_id, at)`,
  ],
}
