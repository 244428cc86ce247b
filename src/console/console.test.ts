import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore, testLogger, type TestStore } from '../../test/helpers/store.js'
import { loadConfig } from '../config.js'
import { startOpsServer, type OpsServer } from '../ops/server.js'
import { principalsFrom } from '../principals.js'
import { createConsole } from './console.js'

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
})
afterAll(async () => {
  await store.close()
})

/** The console as it would answer when bound to `host`; the test server itself listens on loopback only. */
async function serve(host: string, env: Record<string, string> = {}, skippedRules: string[] = []): Promise<OpsServer> {
  let port = 0
  const server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    logger: testLogger,
    readiness: () => Promise.resolve({}),
    pages: createConsole({
      store,
      settings: loadConfig(env).console,
      host,
      port: () => port,
      aliases: {},
      principals: principalsFrom({}),
      detectors: [],
      skippedRules,
      failures: () => Promise.resolve(new Map()),
      logger: testLogger,
      clock: () => new Date('2026-11-20T12:00:00Z'),
    }),
  })
  port = Number(new URL(server.url).port)
  return server
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number | undefined; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => {
        resolve({ status: response.statusCode, location: response.headers.location, body })
      })
    })
      .on('error', reject)
      .end()
  })
}

describe('who the console serves', () => {
  it('on loopback with no sign-in configured, the local user, and only under a loopback name', async () => {
    const server = await serve('127.0.0.1')
    const page = await get(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(page.body).toMatch(/<span>local:[^<]+<\/span>/)
    expect((await get(`${server.url}/`, { host: 'rebound.attacker.example' })).status).toBe(403)
    // Not an incident id, not an error either.
    expect((await get(`${server.url}/incidents/%E0%A4%A`)).status).toBe(404)
    expect((await get(`${server.url}/incidents/inc-000000000000`)).status).toBe(404)
    // The ops routes are still the ops routes.
    expect((await get(`${server.url}/healthz`)).body).toBe('{"status":"ok"}')
    await server.close()
  })

  it('exposed without a sign-in configured, nothing but a page saying what to set', async () => {
    const server = await serve('0.0.0.0')
    const page = await get(`${server.url}/`)
    expect(page.status).toBe(503)
    expect(page.body).toContain('set TRAILWATCH_CONSOLE_USERS_FILE')
    expect((await get(`${server.url}/audit`)).status).toBe(503)
    await server.close()
  })

  it('exposed behind a proxy that signs people in, the user its header names, and only from that proxy', async () => {
    const server = await serve('0.0.0.0', { TRAILWATCH_CONSOLE_TRUSTED_HEADER: 'X-Forwarded-User' })
    expect((await get(`${server.url}/`, { 'x-forwarded-user': 'carol@example.com' })).body).toContain('<span>carol@example.com</span>')
    await server.close()
    const elsewhere = await serve('0.0.0.0', { TRAILWATCH_CONSOLE_TRUSTED_HEADER: 'X-Forwarded-User', TRAILWATCH_CONSOLE_TRUSTED_PROXIES: '10.0.0.5' })
    const refused = await get(`${elsewhere.url}/`, { 'x-forwarded-user': 'carol@example.com' })
    expect([refused.status, refused.location]).toEqual([303, '/login'])
    await elsewhere.close()
  })

  it('escapes what CloudTrail wrote wherever a page shows it', async () => {
    const server = await serve('127.0.0.1')
    const page = await get(`${server.url}/principals?arn=${encodeURIComponent('arn:aws:iam::111122223333:user/<script>alert(1)</script>')}`)
    expect(page.status).toBe(200)
    expect(page.body).not.toContain('<script>')
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    await server.close()
  })
})

describe('the detectors page', () => {
  it('names each rule file that does not run, as text', async () => {
    const server = await serve('127.0.0.1', {}, ['/rules/<b>bomb</b>.yml:1: not loaded: Excessive alias count'])
    try {
      const page = await get(`${server.url}/detectors`, { host: new URL(server.url).host })
      expect(page.status).toBe(200)
      expect(page.body).toContain('<h2>Rules that do not run</h2>')
      expect(page.body).toContain('<li class="failed">/rules/&lt;b&gt;bomb&lt;/b&gt;.yml:1: not loaded: Excessive alias count</li>')
    } finally {
      await server.close()
    }
  })
})
