import { z } from 'zod'
import type { Logger } from '../logger.js'
import { StorageError } from '../errors.js'
import type { Store } from './client.js'
import { distributedEvents, onCluster } from './cluster.js'
import { selectRows } from './rows.js'
import { initial } from './migrations/0001-initial.js'
import { detection } from './migrations/0002-detection.js'
import { alerting } from './migrations/0003-alerting.js'
import { inbox } from './migrations/0004-inbox.js'
import { keyUseByDay } from './migrations/0005-key-use-by-day.js'
import { sourceDays } from './migrations/0006-source-days.js'
import { personHours } from './migrations/0007-person-hours.js'
import { ruleHistory } from './migrations/0008-rule-history.js'
import { incidents } from './migrations/0009-incidents.js'
import { consoleAudit } from './migrations/0010-console-audit.js'
import { iamSnapshots } from './migrations/0011-iam-snapshots.js'
import { storedBatches } from './migrations/0012-stored-batches.js'
import { objectsRead } from './migrations/0013-objects-read.js'
import { guardDutyFindings } from './migrations/0014-guardduty-findings.js'
import { replayProgress } from './migrations/0015-replay-progress.js'
import { addressLists } from './migrations/0016-address-lists.js'
import { detectorSwitches } from './migrations/0017-detector-switches.js'
import { posture } from './migrations/0018-posture.js'
import { containments } from './migrations/0019-containments.js'
import { iamReach } from './migrations/0020-iam-reach.js'
import type { Migration, MigrationContext } from './migrations/migration.js'

/** Every schema change, in order. Append only: a released migration never changes. */
export const MIGRATIONS: readonly Migration[] = [initial, detection, alerting, inbox, keyUseByDay, sourceDays, personHours, ruleHistory, incidents, consoleAudit, iamSnapshots, storedBatches, objectsRead, guardDutyFindings, replayProgress, addressLists, detectorSwitches, posture, containments, iamReach]

export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version))

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY version`

export interface MigrationReport {
  from: number
  to: number
  applied: { version: number; name: string }[]
  /** Tables and views of the current schema that were missing (dropped by hand) and made again, empty. */
  repaired: string[]
}

/** The tables and views the schema ends with: every one created, less those a later step dropped. */
function schemaObjects(context: MigrationContext): string[] {
  const objects = new Set<string>()
  for (const statement of MIGRATIONS.flatMap((m) => m.statements(context))) {
    const created = /^\s*CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS (\w+)/.exec(statement)?.[1]
    const dropped = /^\s*DROP (?:TABLE|VIEW) IF EXISTS (\w+)/.exec(statement)?.[1]
    if (created) objects.add(created)
    if (dropped) objects.delete(dropped)
  }
  return [...objects]
}

async function missingObjects(store: Store, context: MigrationContext): Promise<string[]> {
  const rows = await selectRows(store, 'SELECT name FROM system.tables WHERE database = currentDatabase()', {}, z.object({ name: z.string() }))
  const present = new Set(rows.map((row) => row.name))
  return schemaObjects(context).filter((name) => !present.has(name))
}

/**
 * Brings the store to the schema this code knows, recording each step in `schema_migrations`.
 * Refuses a store whose schema is newer than the code: an older binary must not write into it.
 */
export async function migrate(store: Store, context: MigrationContext, logger: Logger, now: Date = new Date()): Promise<MigrationReport> {
  const { client } = store
  const current = await schemaVersion(store)
  const ddl = (statement: string): string => (context.cluster ? onCluster(statement, context.cluster.name) : statement)
  // Up to date: no DDL at all, so services may run as users without schema rights, unless a table
  // was dropped by hand: every step is written to be run again, so running them all makes it anew.
  if (current === LATEST_VERSION) {
    const missing = store.embedded || context.repair ? await missingObjects(store, context) : []
    if (missing.length > 0) {
      logger.warn({ missing }, 'tables of the schema are missing; making them again, empty')
      for (const statement of MIGRATIONS.flatMap((m) => m.statements(context))) await client.command({ query: ddl(statement) })
    }
    await applyRetention(store, context)
    return { from: current, to: current, applied: [], repaired: missing }
  }
  await client.command({ query: ddl(LEDGER) })
  if (current > LATEST_VERSION) {
    throw new StorageError(
      `the store at ${store.location} has schema version ${current}, newer than this trailwatch knows (${LATEST_VERSION}); upgrade trailwatch`,
      { retriable: false },
    )
  }

  const applied: MigrationReport['applied'] = []
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue
    for (const statement of migration.statements(context)) await client.command({ query: ddl(statement) })
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name, applied_at: now.getTime() }],
      format: 'JSONEachRow',
    })
    logger.info({ version: migration.version, name: migration.name }, 'applied migration')
    applied.push({ version: migration.version, name: migration.name })
  }
  if (context.cluster) await client.command({ query: distributedEvents(context.cluster.name, context.cluster.database) })
  await applyRetention(store, context)
  return { from: current, to: Math.max(current, LATEST_VERSION), applied, repaired: [] }
}

async function schemaVersion(store: Store): Promise<number> {
  const [table] = await selectRows(store, 'EXISTS TABLE schema_migrations', {}, z.object({ result: z.coerce.number() }))
  if (table?.result !== 1) return 0
  const [row] = await selectRows(store, 'SELECT max(version) AS version FROM schema_migrations', {}, z.object({ version: z.coerce.number() }))
  return row?.version ?? 0
}

/**
 * Retention is configuration, not schema: follow the configured number of days on every start.
 * It counts from ingestion, so a backfill of last year's logs is kept as long as today's events.
 */
async function applyRetention(store: Store, { retentionDays: days, cluster }: MigrationContext): Promise<void> {
  for (const [table, column] of [
    ['events', 'ingested_at'],
    ['rejected_input', 'rejected_at'],
  ] as const) {
    const [row] = await selectRows(store, 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}', { table }, z.object({ engine_full: z.string() }))
    const current = Number(/toIntervalDay\((\d+)\)/.exec(row?.engine_full ?? '')?.[1])
    if (current === days) continue
    await store.client.command({
      query: `ALTER TABLE ${table}${cluster ? ` ON CLUSTER ${cluster.name}` : ''} MODIFY TTL toDateTime(${column}) + toIntervalDay(${days})`,
      // Old parts are cleaned by merges as usual; rewriting every part now could take hours.
      clickhouse_settings: { materialize_ttl_after_modify: 0 },
    })
  }
}
