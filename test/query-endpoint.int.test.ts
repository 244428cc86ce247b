import { once } from 'node:events'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { openSharedStore, type StoreHolder } from '../src/clickhouse/shared-store.js'
import { runCli, startCli, type RunningCli } from './helpers/cli.js'
import { STRATUS } from './helpers/datasets.js'

const freshDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), `trailwatch-${prefix}-`))
const FILES = readdirSync(STRATUS).filter((f) => f.endsWith('.json'))

describe('trailwatch query on the store itself', () => {
  it('only reads unless told --write, and migrate makes dropped tables again', async () => {
    const dataDir = freshDir('query')
    expect((await runCli(['backfill', path.join(STRATUS, FILES[0] ?? ''), '--data-dir', dataDir])).code).toBe(0)
    const count = async () => Number((JSON.parse((await runCli(['query', 'SELECT uniqExact(event_id) AS n FROM events', '--json', '--data-dir', dataDir])).stdout || '{}') as { n?: string }).n)
    const stored = await count()
    expect(stored).toBeGreaterThan(0)

    const refused = await runCli(['query', 'DROP TABLE events', '--data-dir', dataDir])
    expect([refused.code, refused.stderr]).toEqual([1, 'trailwatch: only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN may run here; this one changes the store (trailwatch query --write, on the store itself)\n'])
    // The audit's walk-around: a `$b$` inside a name hid INTO OUTFILE from a lexer.
    const target = path.join(dataDir, 'pwned')
    const hidden = await runCli(['query', `SELECT 'echo PWNED' AS a$b$ INTO OUTFILE '${target}' APPEND FORMAT RawBLOB -- $b$`, '--data-dir', dataDir])
    expect([hidden.code, existsSync(target)]).toEqual([1, false])
    const file = await runCli(['query', "SELECT file('/etc/passwd')", '--data-dir', dataDir])
    expect([file.code, file.stderr]).toEqual([1, 'trailwatch: file() reads outside the store: not allowed here\n'])
    expect(await count()).toBe(stored)

    // A person who drops tables on purpose can; the next migrate says what it made again.
    expect((await runCli(['query', '--write', 'DROP TABLE events', '--data-dir', dataDir])).code).toBe(0)
    const migrate = await runCli(['migrate', '--data-dir', dataDir])
    expect(migrate.code).toBe(0)
    expect(migrate.stdout).toContain('made again, empty (they had been dropped): events\n')
    // And the schema works again as a whole: events stored, and the views that keep baselines feed from them again.
    expect((await runCli(['query', '--write', 'TRUNCATE TABLE baseline_principal_source_days', '--data-dir', dataDir])).code).toBe(0)
    expect((await runCli(['backfill', path.join(STRATUS, FILES[0] ?? ''), '--data-dir', dataDir])).code).toBe(0)
    expect(await count()).toBe(stored)
    const baseline = await runCli(['query', 'SELECT count() > 0 AS kept FROM baseline_principal_source_days', '--json', '--data-dir', dataDir])
    expect(baseline.stdout.trim()).toBe('{"kept":1}')
  })
})

/** The status of a GET that names `host` as its Host header, as a page rebinding a name to this address would send. */
async function statusOf(url: string, host: string): Promise<number | undefined> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (response) => {
      response.resume()
      resolve(response.statusCode)
    })
      .on('error', reject)
      .end()
  })
}

/**
 * The status of a POST that declares a body over the limit: the server answers from the declared
 * length, before reading a byte of the body, so the client sends only the headers and waits.
 */
async function statusOfOversized(url: string, token: string): Promise<number | undefined> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': 73 * 1024 * 1024 } }, (response) => {
      response.resume()
      resolve(response.statusCode)
      req.destroy()
    })
    req.on('error', reject)
    req.flushHeaders()
  })
}

/** A request to the store `run` shares: one line of JSON, as the commands send it. */
function storeRequest(url: string, route: string, headers: Record<string, string>, body: unknown = { sql: 'SELECT 1' }): Promise<Response> {
  return fetch(`${url}/store/${route}`, { method: 'POST', headers, body: Buffer.isBuffer(body) ? body : `${JSON.stringify(body)}\n` })
}

describe('the store trailwatch run shares with the other commands', () => {
  let dataDir: string
  let run: RunningCli
  let url: string
  let token: string
  const env = () => ({ TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_DEMO: 'false', TRAILWATCH_QUERY_MAX_SECONDS: '3' })
  let shared: Store
  /** Asked in this process, through the run as a command would: quicker than starting one. */
  const processes = async (text: string) => {
    const sql = `SELECT count() AS n FROM system.processes WHERE query LIKE '%${text}%' AND query NOT LIKE '%system.processes%'`
    return JSON.stringify((await selectRows(shared, sql, {}, z.object({ n: z.coerce.number() })))[0])
  }

  beforeAll(async () => {
    dataDir = freshDir('shared-store')
    run = startCli(['run'], { env: env() })
    const file = path.join(dataDir, 'run.json')
    for (let waited = 0; !existsSync(file); waited += 200) {
      if (waited > 60_000 || run.exitCode !== null) throw new Error(`trailwatch run did not start: ${run.output().stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const holder = JSON.parse(readFileSync(file, 'utf8')) as StoreHolder
    ;({ url, token } = holder)
    shared = await openSharedStore(holder, dataDir)
  })
  afterAll(async () => {
    await shared.close()
    run.kill('SIGTERM')
    await once(run, 'exit')
  })

  it('keeps its secret where only its owner can read it', () => {
    expect(statSync(path.join(dataDir, 'run.json')).mode & 0o777).toBe(0o600)
    expect(token).toMatch(/^[0-9a-f]{64}$/)
  })

  it('answers only requests that carry the secret, name it as Host, come from no web page and stay within bounds', async () => {
    const ok = await storeRequest(url, 'classify', { authorization: `Bearer ${token}` })
    expect([ok.status, await ok.json()]).toEqual([200, { statements: 1, kind: 'read' }])
    expect((await storeRequest(url, 'classify', { authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await storeRequest(url, 'classify', {})).status).toBe(401)
    expect((await storeRequest(url, 'classify', { authorization: `Bearer ${token}`, origin: 'https://attacker.example' })).status).toBe(403)
    expect(await statusOfOversized(`${url}/store/classify`, token)).toBe(413)
    const notJson = await storeRequest(url, 'classify', { authorization: `Bearer ${token}` }, Buffer.from('not json\n'))
    expect(notJson.status).toBe(400)
    expect((await storeRequest(url, 'sessions/nope/exec', { authorization: `Bearer ${token}` }, { query: 'SELECT 1' })).status).toBe(400)
  })

  it('refuses a Host it is not, as a page that rebinds a name to this address would send', async () => {
    const { request } = await import('node:http')
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${url}/store/classify`, { method: 'POST', headers: { host: 'attacker.example', authorization: `Bearer ${token}` } }, (response) => {
        response.resume()
        resolve(response.statusCode)
      })
      req.on('error', reject)
      req.end('{"sql":"SELECT 1"}\n')
    })
    expect(status).toBe(403)
    // Readiness and metrics name hosts, ports and counts: a rebinding page must not read them either.
    for (const route of ['/readyz', '/metrics']) expect(await statusOf(`${url}${route}`, 'attacker.example')).toBe(403)
    expect(await statusOf(`${url}/metrics`, new URL(url).host)).toBe(200)
  })

  it('lets every command work on the held store: a query still only reads, --write changes it, and ingestion goes on after', async () => {
    const setting = await runCli(['query', 'SET readonly = 1'], { env: env() })
    expect(setting.code).toBe(1)
    expect(setting.stderr).toMatch(/^trailwatch: only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN may run here; this one changes the session/)
    // A switch of database by one command reaches no later one (it once poisoned a pooled session).
    expect((await runCli(['query', 'SELECT 1 AS a$b$; USE system -- $b$'], { env: env() })).code).toBe(1)
    expect((await runCli(['query', 'SELECT currentDatabase() AS db', '--json'], { env: env() })).stdout.trim()).toBe('{"db":"trailwatch"}')
    const write = await runCli(['query', '--write', "CREATE TABLE scratch ENGINE = Memory AS SELECT 'kept' AS note"], { env: env() })
    expect([write.code, write.stderr]).toEqual([0, ''])
    expect((await runCli(['query', 'SELECT note FROM scratch', '--json'], { env: env() })).stdout.trim()).toBe('{"note":"kept"}')

    copyFileSync(path.join(STRATUS, FILES[1] ?? ''), path.join(dataDir, 'inbox', 'after.json'))
    await expect.poll(async () => (await runCli(['query', 'SELECT count() > 0 AS stored FROM events', '--json'], { env: env() })).stdout.trim(), { timeout: 30_000, interval: 500 }).toBe('{"stored":1}')
    // A command's own insert goes through the running process too, and is seen there.
    const count = async () => Number((JSON.parse((await runCli(['query', 'SELECT uniqExact(event_id) AS n FROM events', '--json'], { env: env() })).stdout) as { n: string }).n)
    const before = await count()
    const backfill = await runCli(['backfill', path.join(STRATUS, FILES[2] ?? '')], { env: env() })
    expect([backfill.code, backfill.stderr]).toEqual([0, ''])
    expect(await count()).toBeGreaterThan(before)
  })

  it('stops a query at its time limit, and answers health meanwhile', async () => {
    let heavyDone = false
    const heavy = runCli(['query', 'SELECT count() FROM numbers_mt(1000000000000)'], { env: env() }).finally(() => (heavyDone = true))
    // Once the engine runs it, readiness answers before the query ends, not behind it.
    await expect.poll(() => processes('numbers_mt(1000000000000)'), { timeout: 20_000, interval: 100 }).toBe('{"n":1}')
    const ready = await fetch(`${url}/readyz`)
    expect([ready.status, heavyDone]).toEqual([200, false])
    const settled = await heavy
    expect(settled.code).toBe(1)
    expect(settled.stderr).toMatch(/^trailwatch: .*Timeout exceeded/)
  })

  it('serves other commands at once while the statement of a stopped command still runs', async () => {
    const command = startCli(['query', '--write', 'SELECT count() FROM numbers_mt(40000000000)'], { env: env() })
    await expect.poll(() => processes('numbers_mt(40000000000)'), { timeout: 20_000, interval: 100 }).toBe('{"n":1}')
    command.kill('SIGINT')
    await once(command, 'exit')
    // The embedded engine finishes a statement it started; the run goes on answering meanwhile.
    const status = await runCli(['status', '--json'], { env: env() })
    expect([status.code, status.stderr]).toEqual([0, ''])
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
  })
})
