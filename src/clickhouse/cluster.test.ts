import { describe, expect, it } from 'vitest'
import { MIGRATIONS } from './migrations.js'
import { onCluster } from './cluster.js'

describe('DDL for a cluster', () => {
  it('runs each statement ON CLUSTER with replicated engines, keeping engine arguments', () => {
    expect(onCluster('CREATE TABLE IF NOT EXISTS alerts (a String) ENGINE = ReplacingMergeTree(detected_at) ORDER BY alert_id', 'tw')).toBe(
      "CREATE TABLE IF NOT EXISTS alerts ON CLUSTER tw (a String) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', detected_at) ORDER BY alert_id",
    )
    expect(onCluster('CREATE TABLE IF NOT EXISTS b (a String) ENGINE = AggregatingMergeTree ORDER BY a', 'tw')).toBe(
      "CREATE TABLE IF NOT EXISTS b ON CLUSTER tw (a String) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') ORDER BY a",
    )
    expect(onCluster('CREATE MATERIALIZED VIEW IF NOT EXISTS v TO b AS SELECT 1', 'tw')).toBe('CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER tw TO b AS SELECT 1')
    expect(onCluster('ALTER TABLE events ADD COLUMN x String', 'tw')).toBe('ALTER TABLE events ON CLUSTER tw ADD COLUMN x String')
    expect(onCluster('DROP VIEW IF EXISTS v', 'tw')).toBe('DROP VIEW IF EXISTS v ON CLUSTER tw')
    // A backfill INSERT runs on one replica; replication carries it to the others.
    expect(onCluster('INSERT INTO b SELECT 1', 'tw')).toBe('INSERT INTO b SELECT 1')
  })

  it('leaves no plain MergeTree and no table without ON CLUSTER in any migration', () => {
    const statements = MIGRATIONS.flatMap((m) => m.statements({ retentionDays: 30 })).map((s) => onCluster(s, 'tw'))
    for (const statement of statements.filter((s) => /^\s*(CREATE|ALTER|DROP)/.test(s))) {
      expect(statement).toContain('ON CLUSTER tw')
      expect(statement).not.toMatch(/ENGINE = (Replacing|Aggregating|Summing)?MergeTree/)
    }
  })
})
