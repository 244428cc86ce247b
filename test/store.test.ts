import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { backfill } from '../ingest/backfill.js'
import { EventWriter } from '../ingest/event-writer.js'
import type { Store } from '../src/clickhouse/client.js'
import { LATEST_VERSION, MIGRATIONS, migrate } from '../src/clickhouse/migrations.js'
import { eventLine, insertEventLines } from '../src/clickhouse/events.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import type { NormalisedEvent } from '../src/cloudtrail/normalise.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { refusingEventInserts, slowEventInserts } from './helpers/faults.js'
import { openTestStore, queryRows, testLogger, type TestStore } from './helpers/store.js'

const opened: TestStore[] = []
async function freshStore(options: { retentionDays?: number } = {}): Promise<TestStore> {
  const store = await openTestStore(options)
  opened.push(store)
  return store
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close()
})

function event(id: string): NormalisedEvent {
  const decoded = decodeEvent(Buffer.from(JSON.stringify({ eventID: id, eventTime: '2026-11-02T09:15:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com', recipientAccountId: '111122223333' })))
  if (!decoded.ok) throw new Error(decoded.reason)
  return decoded.event
}

/** Refuses the next `failures.remaining` inserts into events. */
function failingInserts(store: Store, failures: { remaining: number }): Store {
  return refusingEventInserts(store, () => failures.remaining > 0 && failures.remaining-- > 0)
}

describe('migrations', () => {
  it('records each version applied, and applies nothing twice', async () => {
    const store = await freshStore()
    const rows = await queryRows<{ version: number | string }>(store, 'SELECT version FROM schema_migrations FINAL ORDER BY version')
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version))
    const again = await migrate(store, { retentionDays: 400 }, testLogger)
    expect(again).toEqual({ from: LATEST_VERSION, to: LATEST_VERSION, applied: [], repaired: [] })
  })

  it('refuses a store whose schema is newer than the code', async () => {
    const store = await freshStore()
    await store.client.insert({ table: 'schema_migrations', values: [{ version: LATEST_VERSION + 1, name: 'from the future', applied_at: Date.now() }], format: 'JSONEachRow' })
    await expect(migrate(store, { retentionDays: 400 }, testLogger)).rejects.toThrow(`schema version ${LATEST_VERSION + 1}, newer than this trailwatch knows (${LATEST_VERSION}); upgrade trailwatch`)
  })

  it('follows the configured retention', async () => {
    const store = await freshStore({ retentionDays: 30 })
    const ttl = async () => (await queryRows<{ engine_full: string }>(store, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'"))[0]?.engine_full
    expect(await ttl()).toMatch(/toIntervalDay\(30\)/)
    await migrate(store, { retentionDays: 90 }, testLogger)
    expect(await ttl()).toMatch(/toIntervalDay\(90\)/)
  })
})

describe('event rows', () => {
  it('keep each event’s instant to the millisecond, whatever the offset it was written with', async () => {
    const store = await freshStore()
    const times = ['2026-11-02T09:15:00Z', '2026-11-02T09:15:00.005Z', '2026-11-02T09:15:00.05+02:00', '2000-01-01T00:00:00.999Z', '2099-12-31T23:59:59.123-05:30']
    await insertEventLines(store, times.map((eventTime, i) => eventLine({ ...event(`t${String(i)}`), eventTimeMs: Date.parse(eventTime) }).line))
    const rows = await queryRows<{ ms: string }>(store, 'SELECT toUnixTimestamp64Milli(event_time) AS ms FROM events ORDER BY event_id')
    expect(rows.map((row) => Number(row.ms))).toEqual(times.map((time) => Date.parse(time)))
  })
})

describe('EventWriter', () => {
  it('waits out a store that refuses connections, then stores everything once', async () => {
    const store = await freshStore()
    const failures = { remaining: 3 }
    const writer = new EventWriter(failingInserts(store, failures), { maxBatch: 2, logger: testLogger, retryDelayMs: 10 })
    for (const id of ['a', 'b', 'c', 'd', 'e']) await writer.add(event(id))
    await writer.flush()
    expect(failures.remaining).toBe(0)
    expect(writer.totals).toEqual({ stored: 5, duplicate: 0, rejected: 0 })
    const rows = await queryRows<{ event_id: string }>(store, 'SELECT event_id FROM events ORDER BY event_id')
    expect(rows.map((r) => r.event_id)).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('gives up after its attempts with a retriable storage error, and does not count the batch', async () => {
    const store = await freshStore()
    const writer = new EventWriter(failingInserts(store, { remaining: 100 }), { maxBatch: 10, logger: testLogger, maxAttempts: 3, retryDelayMs: 5 })
    await writer.add(event('lost-if-acknowledged'))
    const failure = writer.flush()
    await expect(failure).rejects.toThrow(/ECONNREFUSED/)
    expect(writer.totals.stored).toBe(0)
  })

  it('counts an event of the batch still being inserted as a duplicate when the next batch repeats it', async () => {
    const store = await freshStore()
    // The next batch's look-up runs during this insert, before the store has the first batch.
    const writer = new EventWriter(slowEventInserts(store, 500), { maxBatch: 2, logger: testLogger })
    for (const id of ['a', 'b', 'b', 'c']) await writer.add(event(id))
    await writer.flush()
    expect(writer.totals).toEqual({ stored: 3, duplicate: 1, rejected: 0 })
    const rows = await queryRows<{ event_id: string }>(store, 'SELECT event_id FROM events ORDER BY event_id')
    expect(rows.map((r) => r.event_id)).toEqual(['a', 'b', 'c'])
  })

  it('keeps the stored event when another arrives under its id with other content, and records the newcomer', async () => {
    const store = await freshStore()
    const writer = new EventWriter(store, { maxBatch: 10, logger: testLogger })
    await writer.add(event('taken'))
    await writer.flush()
    const forged = decodeEvent(Buffer.from(JSON.stringify({ eventID: 'taken', eventTime: '2026-11-02T09:15:00Z', eventName: 'DeleteTrail', eventSource: 'cloudtrail.amazonaws.com', recipientAccountId: '111122223333' })))
    if (!forged.ok) throw new Error(forged.reason)
    // A re-delivery of the same event is a duplicate, nothing more; the other one leaves a trace.
    await writer.add(event('taken'))
    await writer.add(forged.event)
    await writer.flush()
    expect(writer.totals).toEqual({ stored: 1, duplicate: 1, rejected: 1 })
    // Against the store too, not only within a batch.
    await writer.add(forged.event)
    await writer.flush()
    expect(writer.totals).toEqual({ stored: 1, duplicate: 1, rejected: 2 })
    expect(await queryRows(store, 'SELECT event_name FROM events FINAL')).toEqual([{ event_name: 'ListUsers' }])
    const [row] = await queryRows<{ source: string; location: string; reason: string }>(store, 'SELECT source, location, reason FROM rejected_input FINAL')
    expect(row).toEqual({ source: 'events', location: 'event taken', reason: 'an event with this id is already stored with another time, name or source; the stored one is kept' })
  })

  it('finds the one row the store refuses, dead-letters it, and stores the rest', async () => {
    const store = await freshStore()
    const writer = new EventWriter(store, { maxBatch: 100, logger: testLogger })
    const good = ['g1', 'g2', 'g3', 'g4', 'g5'].map(event)
    // A value the engine cannot read into its column: something validation let through.
    const refused = { ...event('refused'), sourceAsn: Number.NaN }
    for (const e of [...good.slice(0, 3), refused, ...good.slice(3)]) await writer.add(e)
    await writer.flush()
    expect(writer.totals).toEqual({ stored: 5, duplicate: 0, rejected: 1 })
    const [dead] = await queryRows<{ location: string; reason: string }>(store, 'SELECT location, reason FROM rejected_input')
    expect(dead?.location).toBe('event refused')
    expect(dead?.reason).toMatch(/^the store refused this event: /)
    expect(dead?.reason).not.toContain('ListUsers')
  })
})

describe('backfill against a failing store', () => {
  it('stops with the store error rather than calling the file unreadable', async () => {
    const store = await freshStore()
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    writeFileSync(path.join(dir, 'one.json'), JSON.stringify({ eventID: 'x', eventTime: '2026-11-02T09:15:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com' }))
    const run = backfill(failingInserts(store, { remaining: 100 }), [dir], { maxBatch: 10, maxRecordBytes: 1 << 20, logger: testLogger, retryDelayMs: 5 })
    await expect(run).rejects.toThrow(/ECONNREFUSED/)
    const rejected = await queryRows(store, 'SELECT * FROM rejected_input')
    expect(rejected).toEqual([])
  })
})

describe('credential reports', () => {
  it('stores a report row by row, and a second import of the same snapshot replaces it', async () => {
    const store = await freshStore()
    const rows = parseCredentialReport(readFileSync(path.resolve(import.meta.dirname, 'fixtures/credential-report.csv'), 'utf8'))
    const generated = Date.parse('2026-11-27T06:30:00Z')
    await insertCredentialReport(store, rows, generated, Date.parse('2026-11-27T07:00:00Z'))
    await insertCredentialReport(store, rows, generated, Date.parse('2026-11-27T07:05:00Z'))
    const stored = await queryRows<Record<string, unknown>>(
      store,
      `SELECT user, password_enabled, toString(password_last_used) AS password_last_used, access_key_2_active,
              toString(access_key_2_last_used_date) AS key_2_used, access_key_1_last_used_service
       FROM credential_reports FINAL ORDER BY user`,
    )
    expect(stored).toEqual([
      { user: '<root_account>', password_enabled: null, password_last_used: '2026-10-02 08:11:00', access_key_2_active: false, key_2_used: null, access_key_1_last_used_service: '' },
      { user: 'alice', password_enabled: true, password_last_used: '2026-11-20 07:45:00', access_key_2_active: false, key_2_used: null, access_key_1_last_used_service: 's3' },
      { user: 'bob', password_enabled: true, password_last_used: null, access_key_2_active: false, key_2_used: null, access_key_1_last_used_service: '' },
      { user: 'ci-deploy', password_enabled: false, password_last_used: null, access_key_2_active: true, key_2_used: null, access_key_1_last_used_service: 'cloudformation' },
    ])
  })
})
