import { mkdtempSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import type { OpsServer } from '../ops/server.js'
import { serveConsole } from '../../test/helpers/console.js'
import { storeSnapshot } from '../iam/snapshots.js'
import { hashPassword } from './auth.js'

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
})
afterAll(async () => {
  await store.close()
})

/** The console as it would answer when bound to `host`. */
function serve(host: string, env: Record<string, string> = {}, skippedRules: string[] = []): Promise<OpsServer> {
  return serveConsole(store, { host, env, skippedRules, now: new Date('2026-11-20T12:00:00Z') })
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
    // The ARN may wrap after its slash: the text is there, escaped, on either side of it.
    expect(page.body).toContain('user/<wbr>&lt;script&gt;alert(1)&lt;/<wbr>script&gt;')
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

describe('sessions and requests', () => {
  it('gives each session a token of its own, refuses one session’s token on another, and ends a session on sign-out', async () => {
    const users = path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-users-')), 'console-users')
    writeFileSync(users, `alice:${await hashPassword('correct horse battery staple')}\n`)
    const server = await serve('127.0.0.1', { TRAILWATCH_CONSOLE_USERS_FILE: users })
    const form = (fields: Record<string, string>, cookie = '') => ({
      method: 'POST',
      redirect: 'manual' as const,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    })
    try {
      const signIn = async () => {
        const signedIn = await fetch(`${server.url}/login`, form({ user: 'alice', password: 'correct horse battery staple' }))
        const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
        const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${server.url}/audit`, { headers: { cookie } })).text())?.[1] ?? ''
        return { cookie, csrf }
      }
      const a = await signIn()
      const b = await signIn()
      expect(a.cookie).toMatch(/^trailwatch_session=./)
      expect([a.cookie === b.cookie, a.csrf === b.csrf, a.csrf]).toEqual([false, false, expect.stringMatching(/./) as unknown])
      expect((await fetch(`${server.url}/logout`, form({ csrf: b.csrf }, a.cookie))).status).toBe(403)
      expect((await fetch(`${server.url}/logout`, form({ csrf: a.csrf }, a.cookie))).status).toBe(303)
      // The session is gone: its cookie leads to the sign-in page; the other session goes on.
      expect((await fetch(`${server.url}/audit`, { headers: { cookie: a.cookie }, redirect: 'manual' })).headers.get('location')).toBe('/login')
      expect((await fetch(`${server.url}/audit`, { headers: { cookie: b.cookie }, redirect: 'manual' })).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it('refuses a form that is not a form or is too large, and an address that asks too often', async () => {
    const server = await serve('127.0.0.1')
    try {
      const post = (type: string, body: string) => fetch(`${server.url}/logout`, { method: 'POST', redirect: 'manual', headers: { 'content-type': type }, body })
      expect((await post('application/json', '{"csrf":"x"}')).status).toBe(415)
      expect((await post('application/x-www-form-urlencoded', `csrf=${'x'.repeat(17 * 1024)}`)).status).toBe(413)
      const statuses = await Promise.all(Array.from({ length: 610 }, () => fetch(`${server.url}/console.css`).then((r) => r.status)))
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(8)
      const refused = await fetch(`${server.url}/`)
      expect([refused.status, await refused.text()]).toEqual([429, expect.stringContaining('too many requests from this address') as unknown])
    } finally {
      await server.close()
    }
  })
})

describe('the freshness page', () => {
  it('names an account whose IAM snapshot is older than two days', async () => {
    const document = JSON.stringify({ UserDetailList: [], GroupDetailList: [], RoleDetailList: [], Policies: [] })
    await storeSnapshot(store, '444455556666', Date.parse('2026-11-17T04:15:00Z'), document, Date.parse('2026-11-17T04:15:00Z'))
    await storeSnapshot(store, '111122223333', Date.parse('2026-11-20T04:15:00Z'), document, Date.parse('2026-11-20T04:15:00Z'))
    const server = await serve('127.0.0.1')
    try {
      const page = await get(`${server.url}/freshness`)
      const cell = (label: string, content: string): string => `<td data-label="${label}">${content}</td>`
      const time = '<time[^>]*>[^<]*</time>'
      expect(page.body).toMatch(new RegExp(`<tr>${cell('Account', '111122223333')}${cell('Latest snapshot', time)}${cell('Standing', 'current')}</tr>`))
      expect(page.body).toMatch(new RegExp(`<tr>${cell('Account', '444455556666')}${cell('Latest snapshot', time)}${cell('Standing', '<span class="failed">older than 2 days: trailwatch aws sync</span>')}</tr>`))
    } finally {
      await server.close()
    }
  })
})
