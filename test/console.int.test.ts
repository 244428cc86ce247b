import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { simpleParser } from 'mailparser'
import type { Browser, Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../src/console/auth.js'
import { accessibilityProblems, openBrowser, screenshots } from './helpers/browser.js'
import { signInTo } from './helpers/console.js'
import { consoleAddress, runCli, startCli, type RunningCli } from './helpers/cli.js'

const USER = 'alice'
const PASSWORD = 'correct horse battery staple'
/** Where the emails say the console is; the test reaches the same pages on its own address. */
const CONSOLE_URL = 'http://trailwatch.example.com'
const SCREENSHOTS = path.resolve(import.meta.dirname, '../test-results/console')

let dataDir: string
let usersFile: string
let run: RunningCli
let base = ''
let browser: Browser

/** `trailwatch run` on the demo organisation, its console behind a password. */
beforeAll(async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-console-'))
  dataDir = path.join(work, 'data')
  usersFile = path.join(work, 'console-users')
  writeFileSync(usersFile, `# console users\n${USER}:${await hashPassword(PASSWORD)}\n`)
  run = startCli(['run'], { env: { TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_CONSOLE_USERS_FILE: usersFile, TRAILWATCH_CONSOLE_URL: CONSOLE_URL, TRAILWATCH_LOG_LEVEL: 'warn' } })
  // The demo is loaded first; then run names where its console is.
  base = await consoleAddress(run)
  browser = await openBrowser()
}, 120_000)

afterAll(async () => {
  await browser.close()
  if (run.exitCode === null) {
    run.kill('SIGINT')
    await once(run, 'exit')
  }
})

const form = (fields: Record<string, string>): { method: string; headers: Record<string, string>; body: string; redirect: 'manual' } => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
  redirect: 'manual',
})

/** fetch() may not set Host: a plain request may. */
function statusWithHost(url: string, host: string, cookie: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host, cookie } }, (response) => {
      response.resume()
      resolve(response.statusCode)
    })
      .on('error', reject)
      .end()
  })
}

const signIn = (): Promise<string> => signInTo(base, USER, PASSWORD)

describe('the console over HTTP', () => {
  it('serves the incident page an email links to', async () => {
    const outbox = path.join(dataDir, 'outbox')
    const mails = await Promise.all(readdirSync(outbox).map(async (file) => simpleParser(readFileSync(path.join(outbox, file)))))
    const anna = mails.find((mail) => mail.subject?.includes('anna'))
    const link = new RegExp(`${CONSOLE_URL}(/incidents/inc-[0-9a-f]{12})`).exec(anna?.text ?? '')?.[1]
    expect(link).toBeDefined()
    const page = await fetch(`${base}${link ?? ''}`, { headers: { cookie: await signIn() } })
    expect(page.status).toBe(200)
    const body = await page.text()
    expect(body).toContain('anna acted from 5.255.255.77')
    // The address with its country and network.
    expect(body).toContain('<td data-label="Address"><a href="/events?address=5.255.255.77"><span class="id">5.255.255.77</span></a></td><td data-label="Country">RU</td><td data-label="Network">AS13238 YANDEX LLC</td>')
  })

  it('demands a sign-in, refuses a wrong password, and sends its security headers', async () => {
    const anonymous = await fetch(`${base}/`, { redirect: 'manual' })
    expect(anonymous.status).toBe(303)
    expect(anonymous.headers.get('location')).toBe('/login')
    expect((await fetch(`${base}/incidents/anything`, { redirect: 'manual' })).headers.get('location')).toBe('/login')

    const wrong = await fetch(`${base}/login`, form({ user: USER, password: 'not the password' }))
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()

    const cookie = await signIn()
    const page = await fetch(`${base}/`, { headers: { cookie } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(await page.text()).toContain('<h1>Incidents</h1>')
  })

  it('refuses a change from another site, a change without the page’s token, and a foreign Host', async () => {
    const cookie = await signIn()
    const listing = await (await fetch(`${base}/`, { headers: { cookie } })).text()
    const incident = /href="\/incidents\/([^"]+)"/.exec(listing)?.[1] ?? ''
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${base}/incidents/${incident}`, { headers: { cookie } })).text())?.[1] ?? ''
    expect(csrf).not.toBe('')
    const ack = (headers: Record<string, string>, fields: Record<string, string>) => {
      const request = form(fields)
      return fetch(`${base}/incidents/${incident}/ack`, { ...request, headers: { ...request.headers, cookie, ...headers } })
    }
    expect((await ack({ origin: 'https://attacker.example' }, { csrf, reason: 'forged' })).status).toBe(403)
    expect((await ack({ 'sec-fetch-site': 'cross-site' }, { csrf, reason: 'forged' })).status).toBe(403)
    expect((await ack({}, { csrf: 'guessed', reason: 'forged' })).status).toBe(403)
    // A name an attacker points at 127.0.0.1 (DNS rebinding) gets nothing.
    expect(await statusWithHost(`${base}/`, 'attacker.example:80', cookie)).toBe(403)
    // The same form from the console's own page goes through.
    expect((await ack({ origin: base }, { csrf, reason: 'looking into it' })).status).toBe(303)
    const log = await (await fetch(`${base}/audit`, { headers: { cookie } })).text()
    expect(log).toMatch(/alice<\/td><td data-label="What">acknowledged<\/td><td data-label="To what"><a href="\/incidents\/inc-[0-9a-f]{12}">inc-[0-9a-f]{12}<\/a><\/td><td data-label="Detail">looking into it/)
    expect(log).not.toContain('forged')
  })
})

/** The text of each element `selector` finds, spaces collapsed. */
async function texts(page: Page, selector: string): Promise<string[]> {
  return (await page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => e.textContent.replace(/\\s+/g, ' ').trim())`)) as string[]
}

describe('address reputation in the console', () => {
  it('marks the demo’s Tor exit on its incident, and lists every call from Tor’s exits in one click', async () => {
    const cookie = await signIn()
    const listing = await (await fetch(`${base}/?from=2000-01-01`, { headers: { cookie } })).text()
    const incident = /href="(\/incidents\/inc-[0-9a-f]{12})">[^<]*185\.220\.101\.1/.exec(listing)?.[1] ?? ''
    expect(incident).not.toBe('')
    const page = await (await fetch(`${base}${incident}`, { headers: { cookie } })).text()
    expect(page).toContain('<a href="/events?address=185.220.101.1"><span class="id">185.220.101.1</span></a> <a class="list" href="/events?list=tor-exit">tor-exit</a>')
    const found = await (await fetch(`${base}/events?list=tor-exit`, { headers: { cookie } })).text()
    const froms = [...found.matchAll(/<td data-label="From"><a href="\/events\?address=([^"]+)"/g)].map((m) => m[1])
    expect(froms.length).toBeGreaterThan(0)
    expect(new Set(froms)).toEqual(new Set(['185.220.101.1']))
  })
})

describe('tuning from an alert', () => {
  it('starts the suppress form from any alert of an incident: its detector chosen, its principal filled in', async () => {
    const cookie = await signIn()
    const listing = await (await fetch(`${base}/`, { headers: { cookie } })).text()
    const anna = /href="(\/incidents\/inc-[0-9a-f]{12})">anna acted from/.exec(listing)?.[1] ?? ''
    const page = await (await fetch(`${base}${anna}`, { headers: { cookie } })).text()
    const links = [...page.matchAll(/<a href="([^"]+\?suppress=[0-9a-f]+)#suppress">Suppress alerts like this<\/a>/g)].map((m) => (m[1] ?? '').replaceAll('&amp;', '&'))
    expect(links).toHaveLength(2)
    const chosen = await Promise.all(
      links.map(async (link) => {
        const form = await (await fetch(`${base}${link}`, { headers: { cookie } })).text()
        return [/<option value="([^"]+)" selected>/.exec(form)?.[1], /id="s-principal" name="principal" value="([^"]+)"/.exec(form)?.[1]]
      }),
    )
    expect(chosen.map(([detector]) => detector).sort()).toEqual(['off-hours-activity', 'unusual-source-ip'])
    expect(new Set(chosen.map(([, principal]) => principal))).toEqual(new Set(['arn:aws:iam::111122223333:user/anna']))
  })
})

describe('turning a detector off and on from the console', () => {
  it('needs a reason, says who turned it off on the detectors page, and audits both changes', async () => {
    const cookie = await signIn()
    const page = await (await fetch(`${base}/detectors/console-brute-force`, { headers: { cookie } })).text()
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''
    const post = (action: string, reason: string) => {
      const request = form({ csrf, reason })
      return fetch(`${base}/detectors/console-brute-force/${action}`, { ...request, headers: { ...request.headers, cookie, origin: base } })
    }
    expect((await post('disable', ' ')).status).toBe(400)
    expect((await post('disable', 'the pentest this week')).status).toBe(303)
    expect((await fetch(`${base}/detectors/no-such-detector/disable`, { ...form({ csrf, reason: 'x' }), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base } })).status).toBe(404)
    const listing = await (await fetch(`${base}/detectors`, { headers: { cookie } })).text()
    expect(listing).toMatch(/console-brute-force<\/span><\/a><br><span class="muted">[^<]*<\/span><br><span class="failed">turned off<\/span> by alice: the pentest this week/)
    expect((await post('enable', 'the pentest is over')).status).toBe(303)
    expect(await (await fetch(`${base}/detectors/console-brute-force`, { headers: { cookie } })).text()).toContain('Turned on again by alice')
    const log = await (await fetch(`${base}/audit`, { headers: { cookie } })).text()
    expect(log).toContain('<td data-label="What">disabled</td><td data-label="To what">console-brute-force</td><td data-label="Detail">the pentest this week</td>')
    expect(log).toContain('<td data-label="What">enabled</td><td data-label="To what">console-brute-force</td><td data-label="Detail">the pentest is over</td>')
  })
})

describe('posture in the console', () => {
  it('keeps the stale key off the incidents, links its email to its page, and accepts it until a day and back, audited', async () => {
    const cookie = await signIn()
    const outbox = path.join(dataDir, 'outbox')
    const mails = await Promise.all(readdirSync(outbox).map(async (file) => simpleParser(readFileSync(path.join(outbox, file)))))
    const told = mails.find((mail) => mail.subject?.startsWith('[trailwatch] posture:'))
    const link = new RegExp(`${CONSOLE_URL}(/posture/[0-9a-f]{32})`).exec(told?.text ?? '')?.[1] ?? ''
    expect(link).toMatch(/^\/posture\/[0-9a-f]{32}$/)
    expect(await (await fetch(`${base}/`, { headers: { cookie } })).text()).not.toContain('legacy-etl')
    expect(await (await fetch(`${base}/posture`, { headers: { cookie } })).text()).toContain(`<a href="${link}">Access key in slot 1 of legacy-etl`)

    const page = await (await fetch(`${base}${link}`, { headers: { cookie } })).text()
    expect(page).toContain('<dt>State</dt><dd><span class="status">open</span></dd>')
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''
    const post = (action: string, fields: Record<string, string>) => {
      const request = form({ csrf, ...fields })
      return fetch(`${base}${link}/${action}`, { ...request, headers: { ...request.headers, cookie, origin: base } })
    }
    const refused = await post('accept', { reason: 'the ETL moves to a role in January' })
    expect(refused.status).toBe(400)
    expect(await refused.text()).toContain('an acceptance needs an end within the next year')
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)
    expect((await post('accept', { reason: 'the ETL moves to a role in January', until })).status).toBe(303)
    expect(await (await fetch(`${base}${link}`, { headers: { cookie } })).text()).toContain(`until ${until} 23:59:59 UTC by alice`)
    expect(await (await fetch(`${base}/posture`, { headers: { cookie } })).text()).not.toContain('legacy-etl')
    expect(await (await fetch(`${base}/posture?state=accepted`, { headers: { cookie } })).text()).toContain('legacy-etl')
    expect((await post('reopen', { reason: 'the move slipped to next year' })).status).toBe(303)
    expect(await (await fetch(`${base}/posture`, { headers: { cookie } })).text()).toContain('legacy-etl')
    expect((await post('reopen', { reason: 'again' })).status).toBe(400)

    const id = link.split('/').pop() ?? ''
    const log = await (await fetch(`${base}/audit`, { headers: { cookie } })).text()
    expect(log).toContain(`<td data-label="What">accepted risk</td><td data-label="To what"><a href="${link}"><span class="id">${id}</span></a></td><td data-label="Detail">the ETL moves to a role in January (until ${until})</td>`)
    expect(log).toContain(`<td data-label="What">reopened</td><td data-label="To what"><a href="${link}"><span class="id">${id}</span></a></td><td data-label="Detail">the move slipped to next year</td>`)
  })
})

describe('a case in the console', () => {
  it('assigns, links a ticket and takes comments, each in the incident’s history and the audit log, and refuses a ticket that is no address', async () => {
    const cookie = await signIn()
    const listing = await (await fetch(`${base}/`, { headers: { cookie } })).text()
    const incident = /href="\/incidents\/([^"]+)"/.exec(listing)?.[1] ?? ''
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${base}/incidents/${incident}`, { headers: { cookie } })).text())?.[1] ?? ''
    const post = (action: string, text: string) => {
      const request = form({ csrf, text })
      return fetch(`${base}/incidents/${incident}/${action}`, { ...request, headers: { ...request.headers, cookie, origin: base } })
    }
    expect((await post('assign', 'bob')).status).toBe(303)
    expect((await post('ticket', 'https://tracker.example.com/SEC-7')).status).toBe(303)
    expect((await post('comment', 'Talked to <b>anna</b>: not her.')).status).toBe(303)
    const refused = await post('ticket', 'javascript:alert(document.cookie)')
    expect(refused.status).toBe(400)
    expect(await refused.text()).toContain('a ticket is an http(s) address')

    const page = await (await fetch(`${base}/incidents/${incident}`, { headers: { cookie } })).text()
    expect(page).toContain('<dt>Assignee</dt><dd>bob</dd>')
    expect(page).toContain('<a href="https://tracker.example.com/SEC-7" rel="noopener noreferrer">')
    expect(page).toContain('Talked to &lt;b&gt;anna&lt;/b&gt;: not her.')
    expect(page).not.toContain('javascript:')
    const log = await (await fetch(`${base}/audit`, { headers: { cookie } })).text()
    for (const [action, detail] of [['assigned', 'bob'], ['ticket', 'https://tracker.example.com/SEC-7'], ['commented', 'Talked to &lt;b&gt;anna&lt;/b&gt;: not her.']]) {
      expect(log).toContain(`<td data-label="What">${action ?? ''}</td><td data-label="To what"><a href="/incidents/${incident}">${incident}</a></td><td data-label="Detail">${detail ?? ''}</td>`)
    }
  })
})

describe('the console in Chromium', () => {
  it('goes from the list to an incident, its timeline and a suppression with an expiry, accessibly and at phone width', async () => {
    const page = await browser.newPage()
    // axe is added to each page by the test; the console itself sends no script.
    await page.setBypassCSP(true)
    await page.goto(`${base}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    expect(await accessibilityProblems(page)).toEqual([])
    await page.type('#user', USER)
    await page.type('#password', PASSWORD)
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])

    expect(new URL(page.url()).pathname).toBe('/')
    expect(await texts(page, 'h1')).toEqual(['Incidents'])
    expect(await accessibilityProblems(page)).toEqual([])
    expect(await screenshots(page, SCREENSHOTS, 'incidents')).toEqual([0, 0])

    // anna's night: the critical incident.
    const link = (await page.evaluate(`[...document.querySelectorAll('tbody tr')].find((row) => /critical/.test(row.textContent) && /anna/.test(row.textContent))?.querySelector('a')?.getAttribute('href')`)) as string | undefined
    expect(link).toMatch(/^\/incidents\/inc-[0-9a-f]{12}$/)
    await Promise.all([page.waitForNavigation(), page.click(`a[href="${link ?? ''}"]`)])
    expect((await texts(page, 'h1'))[0]).toContain('anna acted from 5.255.255.77')
    expect(await accessibilityProblems(page)).toEqual([])
    expect(await screenshots(page, SCREENSHOTS, 'incident')).toEqual([0, 0])

    await page.click('a[href="#timeline"]')
    expect(new URL(page.url()).hash).toBe('#timeline')
    const calls = await texts(page, '#timeline ~ .scroll tbody tr')
    expect(calls.some((row) => row.includes('ListUsers') && row.includes('5.255.255.77'))).toBe(true)

    const expires = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10)
    await page.select('#s-detector', 'off-hours-activity')
    await page.type('#s-reason', 'anna is on call in Berlin this week')
    await page.evaluate(`document.querySelector('#s-expires').value = ${JSON.stringify(expires)}`)
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/suppress"] button')])
    expect((await texts(page, '[role=status]'))[0]).toContain('Suppression added')

    await page.goto(`${base}/principals?arn=${encodeURIComponent('arn:aws:iam::111122223333:user/anna')}`)
    expect(await texts(page, '.heat td')).toHaveLength(7 * 24)
    expect(await accessibilityProblems(page)).toEqual([])
    expect(await screenshots(page, SCREENSHOTS, 'principal')).toEqual([0, 0])
    for (const route of ['/overview', '/posture', '/events', '/detectors', '/freshness', '/credentials', '/suppressions', '/audit']) {
      await page.goto(`${base}${route}`)
      expect(await accessibilityProblems(page), route).toEqual([])
      expect(await screenshots(page, SCREENSHOTS, route.slice(1)), route).toEqual([0, 0])
    }
    // A posture finding's own page, with its decisions and the form to accept it.
    await page.goto(`${base}/posture`)
    const finding = (await page.evaluate(`document.querySelector('tbody a[href^="/posture/"]')?.getAttribute('href')`)) as string | undefined
    await page.goto(`${base}${finding ?? '/posture/none'}`)
    expect(await texts(page, 'h1')).toEqual(['Access key in slot 1 of legacy-etl: 200 days old (rotation limit 90); unused for 60 days (limit 45)'])
    expect(await accessibilityProblems(page)).toEqual([])
    expect(await screenshots(page, SCREENSHOTS, 'posture-finding')).toEqual([0, 0])
    await page.close()

    run.kill('SIGINT')
    await once(run, 'exit')
    const listed = await runCli(['suppress', 'list'], { env: { TRAILWATCH_DATA_DIR: dataDir } })
    expect(listed.stdout).toContain('anna is on call in Berlin this week')
    expect(listed.stdout).toContain('off-hours-activity')
    expect(listed.stdout).toContain(`expires ${expires}T23:59:59`)
  }, 120_000)

  it('is served alone by trailwatch console, as docker-compose runs it', async () => {
    const alone = startCli(['console'], { env: { TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_CONSOLE_USERS_FILE: usersFile } })
    const url = await consoleAddress(alone)
    const page = await fetch(`${url}/`, { redirect: 'manual' })
    alone.kill('SIGINT')
    await once(alone, 'exit')
    expect([page.status, page.headers.get('location')]).toEqual([303, '/login'])
  }, 90_000)

  it('holds two hundred wrong passwords sent at once to the same limit as ten in a row', async () => {
    // A store of its own, so the test needs no other to have stopped first.
    const own = mkdtempSync(path.join(tmpdir(), 'trailwatch-throttle-'))
    const alone = startCli(['console'], { env: { TRAILWATCH_DATA_DIR: own, TRAILWATCH_CONSOLE_USERS_FILE: usersFile, TRAILWATCH_HTTP_PORT: '0' } })
    try {
      const url = await consoleAddress(alone)
      const statuses = await Promise.all(Array.from({ length: 200 }, () => fetch(`${url}/login`, form({ user: USER, password: 'a guess' })).then((r) => r.status)))
      // Checked: at most the ten failures an address may have; the rest are turned away before any hashing.
      expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10)
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(190)
      // One at a time, the rest of the ten failures are allowed, and no more: the burst took its share.
      let checked = statuses.filter((status) => status === 401).length
      for (let attempt = 0; attempt < 20; attempt++) {
        const status = (await fetch(`${url}/login`, form({ user: USER, password: 'another guess' }))).status
        if (status === 429) break
        checked++
      }
      expect(checked).toBe(10)
      expect((await fetch(`${url}/login`, form({ user: USER, password: PASSWORD }))).status).toBe(429)
    } finally {
      alone.kill('SIGINT')
      await once(alone, 'exit')
    }
  }, 90_000)
})
