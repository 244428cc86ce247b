import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { openEmbeddedStore, type Store } from '../../src/clickhouse/client.js'
import { migrate } from '../../src/clickhouse/migrations.js'
import { createLogger } from '../../src/logger.js'
import type { Finding } from '../../src/alerts/table.js'
import { recordFindings } from '../../src/incidents/record.js'

export const testLogger = createLogger('silent')

// The embedded engine binds one directory per process, and every test file runs in its own process.
let processDataDir: string | undefined

export function testDataDir(): string {
  processDataDir ??= mkdtempSync(path.join(tmpdir(), 'trailwatch-test-'))
  return processDataDir
}

export interface TestStore extends Store {
  database: string
}

/** A store in a database of its own, migrated, on the real engine. */
export async function openTestStore(options: { retentionDays?: number } = {}): Promise<TestStore> {
  const database = `test_${randomBytes(6).toString('hex')}`
  const store = await openEmbeddedStore(testDataDir(), database)
  await migrate(store, { retentionDays: options.retentionDays ?? 400 }, testLogger)
  return { ...store, database }
}

export async function queryRows<T>(store: Store, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const result = await store.client.query({ query, query_params: params, format: 'JSONEachRow' })
  return result.json<T>()
}

/** Findings recorded as one batch detected at `at`, and put into incidents as of then: as a detector run records them. */
export function recordAt(store: Store, findings: Finding[], at: Date): Promise<unknown> {
  return recordFindings(store, [{ findings, detectedAt: at }], at)
}
