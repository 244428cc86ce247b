import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, queryRows, type TestStore } from '../../test/helpers/store.js'
import { BusyError, ReadOnlyQueries, type QueryLimits } from './read-only-queries.js'

const LIMITS: QueryLimits = { seconds: 2, memoryBytes: 256 * 1024 ** 2, resultBytes: 64 * 1024, concurrent: 2, waiting: 4 }

let store: TestStore
let queries: ReadOnlyQueries
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7')])
  queries = new ReadOnlyQueries(store, LIMITS)
})
afterAll(async () => {
  await queries.close()
  await store.close()
})

const ask = async (sql: string, limits?: Partial<QueryLimits>) => {
  const own = limits ? new ReadOnlyQueries(store, { ...LIMITS, ...limits }) : queries
  try {
    return (await own.run({ sql, json: true, color: false })).toString('utf8')
  } finally {
    if (own !== queries) await own.close()
  }
}
const eventCount = async () => Number((await queryRows<{ n: string }>(store, 'SELECT uniqExact(event_id) AS n FROM events'))[0]?.n)

describe('a person’s query', () => {
  it('reads the store', async () => {
    expect(await ask('SELECT DISTINCT event_name, source_ip FROM events')).toBe('{"event_name":"ListBuckets","source_ip":"198.51.100.7"}\n')
    expect(await ask('SHOW TABLES')).toContain('{"name":"events"}')
  })

  it('cannot change the store, its schema or any setting', async () => {
    await expect(ask('DROP TABLE events')).rejects.toThrow('not DropQuery')
    await expect(ask("INSERT INTO events (event_id) VALUES ('forged')")).rejects.toThrow('not InsertQuery')
    await expect(ask('SET readonly = 1')).rejects.toThrow(/may run here, not Set/)
    await expect(ask('SELECT 1 SETTINGS max_execution_time = 1000')).rejects.toThrow(/SETTINGS in a query|readonly mode/)
    await expect(ask('SELECT 1; DROP TABLE events')).rejects.toThrow('one statement at a time')
    expect(await eventCount()).toBe(1)
    // The shared session that ingestion and the detectors use kept its own settings, and can write.
    expect(await queryRows(store, "SELECT getSetting('readonly') AS readonly, getSetting('max_execution_time') AS seconds")).toEqual([{ readonly: 0, seconds: 0 }])
    await ingestRecords(store, [apiCall('2026-11-20T09:05:00Z', iamUser('alice'), '198.51.100.7')])
    expect(await eventCount()).toBe(2)
  })

  it('cannot read or write files, or reach other servers', async () => {
    await expect(ask("SELECT file('/etc/passwd')")).rejects.toThrow('file() reads outside the store')
    await expect(ask("SELECT * FROM file('/etc/passwd', 'LineAsString')")).rejects.toThrow(/file\(\) reads outside the store/)
    await expect(ask("SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')")).rejects.toThrow(/table function url\(\)/)
    await expect(ask("SELECT * FROM remote('127.0.0.1:9', system.one)")).rejects.toThrow(/table function remote\(\)/)
    await expect(ask("SELECT 1 INTO OUTFILE '/tmp/trailwatch-outfile-test'")).rejects.toThrow(/INTO OUTFILE/)
  })

  it('stops at its time and result limits', async () => {
    await expect(ask('SELECT count() FROM numbers_mt(1000000000000)', { seconds: 1 })).rejects.toThrow(/Timeout exceeded/)
    await expect(ask('SELECT number FROM numbers(100000)')).rejects.toThrow(/Limit for result exceeded/)
  })

  it('runs a bounded number at once and turns the rest away', async () => {
    const narrow = new ReadOnlyQueries(store, { ...LIMITS, concurrent: 1, waiting: 1 })
    try {
      const slow = () => narrow.run({ sql: 'SELECT sleepEachRow(0.3) FROM numbers(3)', json: true, color: false })
      const results = await Promise.allSettled([slow(), slow(), slow()])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
      expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(BusyError)
    } finally {
      await narrow.close()
    }
  })
})
