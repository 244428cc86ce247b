import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOpsServer } from '../ops/server.js'
import { openTestStore, testLogger, type TestStore } from '../../test/helpers/store.js'
import { openSharedStore, StoreHost } from './shared-store.js'

/** A request body as a command sends it: one line of JSON. */
const line = (head: unknown): Buffer => Buffer.from(`${JSON.stringify(head)}\n`)

describe('the store run shares', () => {
  let store: TestStore
  let host: StoreHost
  const openSession = async () => {
    const reply = await host.handle('POST', 'sessions', line({ settings: {}, forQuery: false }))
    return (JSON.parse(String(reply.body)) as { id: string }).id
  }
  const exec = (id: string, query: string, params?: Record<string, unknown>) => host.handle('POST', `sessions/${id}/exec`, line({ query, query_params: params }))

  beforeAll(async () => {
    store = await openTestStore()
    host = new StoreHost(store, { maxSessions: 2, idleMs: 300 })
  })
  afterAll(async () => {
    await host.close()
    await store.close()
  })

  it('runs a statement on a session of its own, with the engine error code kept', async () => {
    const id = await openSession()
    const ok = await exec(id, 'SELECT {at:DateTime64(3)} AS at FORMAT JSONEachRow', { at: '2026-11-20 12:00:00.000' })
    expect([ok.status, String(ok.body)]).toEqual([200, '{"at":"2026-11-20 12:00:00.000"}\n'])
    const bad = await exec(id, 'SELECT nonsense')
    expect(bad.status).toBe(400)
    expect(JSON.parse(String(bad.body))).toMatchObject({ code: '47' })
    await host.handle('DELETE', `sessions/${id}`, Buffer.alloc(0))
  })

  it('closes a session left idle, but never one whose statement still runs', async () => {
    const busy = await openSession()
    const idle = await openSession()
    // Longer than the idle limit, several sweeps over.
    const running = exec(busy, 'SELECT sleep(1.5) AS slept FORMAT JSONEachRow')
    await sleep(1_000)
    expect((await exec(idle, 'SELECT 1')).status).toBe(400)
    expect((await running).status).toBe(200)
    expect((await exec(busy, 'SELECT 1 AS one FORMAT JSONEachRow')).body.toString()).toBe('{"one":1}\n')
  })

  it('turns away a session over its limit', async () => {
    // The sessions of the test before are idle by now, and go when the next is asked for.
    await sleep(400)
    const first = await openSession()
    await openSession()
    const refused = await host.handle('POST', 'sessions', line({ settings: {}, forQuery: false }))
    expect([refused.status, String(refused.body)]).toEqual([400, expect.stringContaining('store sessions are open') as unknown])
    await host.handle('DELETE', `sessions/${first}`, Buffer.alloc(0))
  })

  it('is used by a command as its own store, over the endpoint and with its secret only', async () => {
    const token = 'a'.repeat(64)
    const server = await startOpsServer({ host: '127.0.0.1', port: 0, logger: testLogger, readiness: () => Promise.resolve({}), shared: { host, token } })
    try {
      const shared = await openSharedStore({ url: server.url, token, pid: process.pid }, 'data')
      const rows = await (await shared.client.query({ query: 'SELECT {n:UInt8} + 1 AS n', query_params: { n: 41 }, format: 'JSONEachRow' })).json()
      expect(rows).toEqual([{ n: 42 }])
      // The engine's error, with its code, as a command on the store itself would see it.
      await expect(shared.client.query({ query: 'SELECT nonsense' })).rejects.toMatchObject({ code: '47' })
      await shared.close()
      await expect(openSharedStore({ url: server.url, token: 'b'.repeat(64), pid: process.pid }, 'data')).rejects.toThrow(/refused POST \/store\/sessions: HTTP 401 a valid token is required/)
    } finally {
      await server.close()
    }
  })
})
