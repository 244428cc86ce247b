import type { Migration } from './migration.js'

/**
 * The alerter's state. Alerts carry what an email needs (why, ATT&CK ids, runbook) so the alerter
 * never depends on the detectors' code. Every routing decision and every delivery attempt is a row:
 * the log is the state, and a restart reads it back.
 */
export const alerting: Migration = {
  version: 3,
  name: 'alert routing, notifications log, suppressions',
  statements: () => [
    `ALTER TABLE alerts
       ADD COLUMN IF NOT EXISTS why String AFTER evidence,
       ADD COLUMN IF NOT EXISTS attack Array(LowCardinality(String)) AFTER why,
       ADD COLUMN IF NOT EXISTS runbook Array(String) AFTER attack`,

    // One decision per alert occurrence (its last_seen when routed) and recipient; recipient '' when it
    // reached nobody (suppressed, or below every route's severity).
    `CREATE TABLE IF NOT EXISTS alert_routes (
      alert_id String,
      occurrence DateTime64(3, 'UTC'),
      recipient String,
      group_key String,
      severity LowCardinality(String),
      disposition LowCardinality(String),
      reason String,
      rule_id String,
      due_at DateTime64(3, 'UTC'),
      routed_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(routed_at) ORDER BY (alert_id, occurrence, recipient)`,

    // One row per state of one message to one recipient; the highest version is the current state.
    `CREATE TABLE IF NOT EXISTS notifications (
      notification_id String,
      kind LowCardinality(String),
      recipient String,
      subject String,
      items Array(String),
      status LowCardinality(String),
      attempts UInt16,
      next_attempt_at DateTime64(3, 'UTC'),
      message_id String,
      error String,
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      version UInt32
    ) ENGINE = ReplacingMergeTree(version) ORDER BY notification_id`,

    // The message exactly as composed, so a retry sends the same bytes.
    `CREATE TABLE IF NOT EXISTS notification_messages (
      notification_id String,
      raw String CODEC(ZSTD(3))
    ) ENGINE = ReplacingMergeTree ORDER BY notification_id`,

    `CREATE TABLE IF NOT EXISTS suppressions (
      rule_id String,
      detector LowCardinality(String),
      principal String,
      cidr String,
      account String,
      owner String,
      reason String,
      created_at DateTime64(3, 'UTC'),
      expires_at DateTime64(3, 'UTC'),
      removed_at Nullable(DateTime64(3, 'UTC')),
      removed_by String,
      version UInt32
    ) ENGINE = ReplacingMergeTree(version) ORDER BY rule_id`,
  ],
}
