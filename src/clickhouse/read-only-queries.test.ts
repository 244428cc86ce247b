import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, queryRows, type TestStore } from '../../test/helpers/store.js'
import { seededRandom } from '../simulate/records.js'
import { BusyError, ReadOnlyQueries, type QueryLimits } from './read-only-queries.js'

const LIMITS: QueryLimits = { seconds: 2, memoryBytes: 256 * 1024 ** 2, resultBytes: 64 * 1024, concurrent: 2, waiting: 4 }

let store: TestStore
let queries: ReadOnlyQueries
const scratch = mkdtempSync(path.join(tmpdir(), 'trailwatch-guard-'))
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7')])
  queries = new ReadOnlyQueries(store, LIMITS)
})
afterAll(async () => {
  await queries.close()
  await store.close()
  rmSync(scratch, { recursive: true, force: true })
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
    await expect(ask('DROP TABLE events')).rejects.toThrow(/changes the store/)
    await expect(ask("INSERT INTO events (event_id) VALUES ('forged')")).rejects.toThrow(/changes the store/)
    await expect(ask('SET readonly = 1')).rejects.toThrow(/changes the session/)
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

  it('cannot infer a schema from a file or reach a URL through DESCRIBE', async () => {
    const csv = path.join(scratch, 'secret.csv')
    writeFileSync(csv, 'secret_name,other\n1,2\n')
    await expect(ask(`DESCRIBE TABLE file('${csv}', 'CSVWithNames')`)).rejects.toThrow(/table function file\(\)|file\(\) reads outside/)
    await expect(ask("DESCRIBE url('http://127.0.0.1:9/a.csv')")).rejects.toThrow(/table function url\(\)/)
  })

  // The walk-around found by an audit: a lexer read `$b$` inside a name as a quoted block; the engine did not.
  it('runs nothing a dollar sign inside a name hides', async () => {
    const target = path.join(scratch, 'pwned')
    await expect(ask(`SELECT 'echo PWNED' AS a$b$ INTO OUTFILE '${target}' APPEND FORMAT RawBLOB -- $b$`)).rejects.toThrow(/INTO OUTFILE/)
    await expect(ask('SELECT 1 AS a$b$; KILL QUERY WHERE 1 -- $b$')).rejects.toThrow('one statement at a time')
    await expect(ask('KILL QUERY WHERE 1 SYNC')).rejects.toThrow(/changes the session/)
    // A read-only session alone would let this one write its file.
    await expect(ask(`EXPLAIN SYNTAX SELECT 1 INTO OUTFILE '${target}'`)).rejects.toThrow(/INTO OUTFILE/)
    expect(existsSync(target)).toBe(false)
  })

  it('keeps nothing from one query to the next', async () => {
    await expect(ask('USE system')).rejects.toThrow(/changes the session/)
    expect(await ask('SELECT uniqExact(event_id) AS n FROM events')).toBe(`{"n":${String(await eventCount())}}\n`)
    expect(await ask('SELECT currentDatabase() AS db')).toBe(`{"db":"${store.database}"}\n`)
  })

  it('names the engine’s syntax error and refuses an empty text', async () => {
    await expect(ask('SELEC 1')).rejects.toThrow(/Syntax error/)
    await expect(ask('  -- nothing\n')).rejects.toThrow(/no SQL to run|Syntax error|Empty query/)
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

describe('the read-only path under random attack', () => {
  it('finds no text that writes, reads a file or outlives its request', async () => {
    const marker = path.join(scratch, 'fuzz-out')
    const secret = path.join(scratch, 'fuzz-secret.csv')
    writeFileSync(secret, 'fuzz_secret_column\n1\n')
    // Pieces that have fooled lexers: quotes of every kind, dollar tags, comments, backslashes,
    // Unicode look-alikes, and clauses that write, read files, change settings or the session.
    const pieces = [
      "'", '"', '`', '$b$', '$$', '$a$', '--', '#', '/*', '*/', '\\', "\\'", ';', '\n', ' ', '\u2028', '\uff07', '\u037e', 'é',
      'SELECT 1', 'SELECT count() FROM events', 'AS a$b$', 'AS `x;y`', "AS 'x'", 'FROM numbers(2)',
      `INTO OUTFILE '${marker}'`, `INTO OUTFILE '${marker}' APPEND`, 'FORMAT RawBLOB', 'FORMAT JSONEachRow', 'SETTINGS readonly = 0', 'SETTINGS max_execution_time = 999',
      'USE system', 'KILL QUERY WHERE 1', "INSERT INTO events (event_id) VALUES ('fuzz')", 'DROP TABLE events', 'TRUNCATE TABLE events',
      'SET readonly = 0', 'SYSTEM FLUSH LOGS', `SELECT file('${secret}')`, `DESCRIBE TABLE file('${secret}', 'CSVWithNames')`,
      `SELECT * FROM file('${secret}', 'CSVWithNames')`, "SELECT * FROM url('http://127.0.0.1:9/')", 'CREATE TABLE fuzz (a UInt8) ENGINE = Memory',
      'ALTER TABLE events DELETE WHERE 1', 'OPTIMIZE TABLE events', 'EXPLAIN AST', 'WITH 1 AS x', 'UNION ALL', 'PARALLEL WITH',
    ]
    const random = seededRandom(20261206)
    const before = await eventCount()
    for (let attempt = 0; attempt < 400; attempt++) {
      const parts = Array.from({ length: 2 + Math.floor(random() * 6) }, () => pieces[Math.floor(random() * pieces.length)] ?? '')
      const sql = parts.join(random() < 0.5 ? ' ' : '')
      const answer = await queries.run({ sql, json: true, color: false }).then((r) => r.toString('utf8'), (err: unknown) => String(err))
      expect(answer, sql).not.toContain('fuzz_secret_column')
      expect(existsSync(marker), sql).toBe(false)
    }
    expect(await eventCount()).toBe(before)
    expect(await ask('SELECT currentDatabase() AS db')).toBe(`{"db":"${store.database}"}\n`)
    expect(await queryRows(store, 'SHOW TABLES')).not.toContainEqual({ name: 'fuzz' })
    expect(readdirSync(scratch).sort()).toEqual(['fuzz-secret.csv', 'secret.csv'])
  }, 120_000)
})
