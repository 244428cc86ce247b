import { mkdtempSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Browser, Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessibilityProblems, openBrowser, screenshots } from './helpers/browser.js'
import { consoleAddress, runCli, startCli, type RunningCli } from './helpers/cli.js'
import { INVICTUS, STRATUS } from './helpers/datasets.js'

const SCREENSHOTS = path.resolve(import.meta.dirname, '../test-results/console-captures')
const BERT_JAN = 'arn:aws:iam::123837392027:user/bert-jan'
/** Stratus's password-data role, its calls all from one Brazilian address. */
const BRAZIL_ROLE = 'arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role'
/** The days the captures hold calls on: the detectors replay these, as `detect --from` would for a user. */
const DAYS = [
  ['2023-07-10T00:00:00Z', '2023-07-11T00:00:00Z'],
  ['2024-07-30T00:00:00Z', '2024-08-03T00:00:00Z'],
]

let env: Record<string, string>
let run: RunningCli
let base = ''
let browser: Browser
let bertJansIncident = ''

/** The invictus-ir and Stratus Red Team captures loaded, the detectors replayed over their days, then `trailwatch console`. */
beforeAll(async () => {
  env = { TRAILWATCH_DATA_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-captures-')), 'data'), TRAILWATCH_LOG_LEVEL: 'warn' }
  const loaded = await runCli(['backfill', INVICTUS, STRATUS], { env })
  expect(loaded.stdout, loaded.stderr).toContain('3210 stored')
  for (const [from, to] of DAYS) {
    const detected = await runCli(['detect', '--from', from ?? '', '--to', to ?? '', '--yes'], { env })
    expect(detected.code, detected.stderr).toBe(0)
  }
  const listed = await runCli(['incidents', 'list', '--from', '2023-01-01T00:00:00Z', '--to', '2025-01-01T00:00:00Z', '--json'], { env })
  const incidents = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; principals: string[]; severity: string })
  bertJansIncident = incidents.find((i) => i.principals.includes(BERT_JAN))?.id ?? ''
  expect(bertJansIncident).toMatch(/^inc-[0-9a-f]{12}$/)
  run = startCli(['console'], { env })
  base = await consoleAddress(run)
  browser = await openBrowser()
}, 240_000)

afterAll(async () => {
  await browser.close()
  if (run.exitCode === null) {
    run.kill('SIGINT')
    await once(run, 'exit')
  }
})

async function open(route: string): Promise<Page> {
  const page = await browser.newPage()
  // axe is added to each page by the test; the console itself sends no script.
  await page.setBypassCSP(true)
  await page.setViewport({ width: 1280, height: 900 })
  const response = await page.goto(`${base}${route}`)
  expect(response?.status(), route).toBe(200)
  return page
}

/** Where an element's top is, in pixels from the top of the page; -1 when there is none. */
async function topOf(page: Page, selector: string, text: string): Promise<number> {
  return (await page.evaluate(
    `(() => { const e = [...document.querySelectorAll(${JSON.stringify(selector)})].find((e) => e.textContent.includes(${JSON.stringify(text)})); return e ? e.getBoundingClientRect().top + window.scrollY : -1 })()`,
  )) as number
}

describe('the console on the public captures, in Chromium', () => {
  it('shows bert-jan’s incident in under 300 KB, the critical DeleteTrail in the first screen, and his calls collapsed and paged', async () => {
    const html = await (await fetch(`${base}/incidents/${bertJansIncident}`)).text()
    expect(html.length).toBeLessThan(300 * 1024)
    const page = await open(`/incidents/${bertJansIncident}`)
    const critical = await topOf(page, '.summary li', 'DeleteTrail')
    expect(critical).toBeGreaterThan(0)
    expect(critical).toBeLessThan(900)
    expect(await topOf(page, '.summary li .sev-critical', 'critical')).toBeLessThan(900)
    // His role's 29 GetPasswordData calls in a row are one row.
    const rows = (await page.evaluate(`[...document.querySelectorAll('#timeline ~ .scroll tbody tr')].map((r) => r.textContent)`)) as string[]
    expect(rows.some((row) => /GetPasswordData ×\d+/.test(row))).toBe(true)
    expect(rows.length).toBeLessThanOrEqual(100)
    expect(await page.$('nav[aria-label="Timeline pages"] a')).not.toBeNull()
    // No time is broken across lines: each is one line high.
    const heights = (await page.evaluate(`[...document.querySelectorAll('time')].map((t) => t.getBoundingClientRect().height)`)) as number[]
    expect(Math.max(...heights)).toBeLessThan(30)
    await page.close()
  }, 60_000)

  it('from an address on the incident lists its events in one click, and from an event opens its principal in one click', async () => {
    const page = await open(`/incidents/${bertJansIncident}`)
    await Promise.all([page.waitForNavigation(), page.click('.summary a[href^="/events?address="]')])
    expect(new URL(page.url()).pathname).toBe('/events')
    const address = new URL(page.url()).searchParams.get('address') ?? ''
    expect(address).not.toBe('')
    const froms = (await page.evaluate(`[...document.querySelectorAll('table.data tbody td[data-label="From"]')].map((td) => td.textContent)`)) as string[]
    expect(froms.length).toBeGreaterThan(0)
    expect(froms.every((from) => from.startsWith(address))).toBe(true)
    await Promise.all([page.waitForNavigation(), page.click('table.data tbody td[data-label="Who"] a[href^="/principals"]')])
    expect(new URL(page.url()).pathname).toBe('/principals')
    expect((await page.evaluate(`document.querySelector('h1').textContent`)) as string).not.toBe('')
    await page.close()
  }, 60_000)

  it('shows bert-jan over his own days: his addresses, his hours and his key as he used it', async () => {
    const page = await open(`/principals?arn=${encodeURIComponent(BERT_JAN)}`)
    const text = (await page.evaluate('document.body.innerText')) as string
    expect(text).toContain('192.168.10.20')
    expect(text).toContain('AKIATFQR7NSC8Q4X20BJ')
    const busy = (await page.evaluate(`[...document.querySelectorAll('.heat td')].filter((td) => td.textContent !== '').length`)) as number
    expect(busy).toBeGreaterThan(0)
    await page.close()
  }, 60_000)

  it('draws bert-jan’s day in pictures: alerts by severity, who raised the most, and the ATT&CK techniques, each a way in', async () => {
    const page = await open('/overview?to=2023-07-10&days=30')
    const label = (await page.evaluate(`document.querySelector('svg.chart[role=img]').getAttribute('aria-label')`)) as string
    expect(label).toMatch(/^\d+ alerts and 1 incident over 30 days/)
    expect(await page.evaluate(`document.querySelectorAll('svg.chart rect.sev-fill-critical').length`)).toBeGreaterThan(0)
    // Who raised the most leads to their page, and a technique to ATT&CK's.
    expect(await page.evaluate(`document.querySelector('svg.ranked a').getAttribute('href')`)).toBe(`/principals?arn=${encodeURIComponent(BERT_JAN)}`)
    const techniques = (await page.evaluate(`[...document.querySelectorAll('svg.matrix a')].map((a) => a.getAttribute('href'))`)) as string[]
    expect(techniques).toContain('https://attack.mitre.org/techniques/T1562/008/')
    // Beside what the alerts named, what the enabled detectors and rules look for: exfiltration to another account by several.
    const looked = (await page.evaluate(`[...document.querySelectorAll('svg.matrix')[1].querySelectorAll('a title')].map((t) => t.textContent)`)) as string[]
    expect(looked).toContainEqual(expect.stringMatching(/^T1537 \(exfiltration\): [2-9] detectors$/))
    await page.close()
  }, 60_000)

  it('maps where a principal called from and shows its days of activity', async () => {
    const page = await open(`/principals?arn=${encodeURIComponent(BRAZIL_ROLE)}`)
    expect(await page.evaluate(`[...document.querySelectorAll('svg.map g title')].map((t) => t.textContent)`)).toEqual(['BR (Brazil): 30 calls'])
    const [x, y] = (await page.evaluate(`(() => { const c = document.querySelector('svg.map circle'); return [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))] })()`)) as [number, number]
    // South America: west of Greenwich, south of the equator, on a 720 × 360 grid.
    expect(x).toBeLessThan(360)
    expect(y).toBeGreaterThan(180)
    expect(await page.evaluate(`document.querySelector('svg.history').getAttribute('aria-label')`)).toMatch(/^30 calls over 31 days/)
    await page.close()
  }, 60_000)

  it('lays out every page without sideways scrolling at 400 px, with no serious accessibility problem', async () => {
    const routes = {
      incidents: '/?from=2023-07-01&to=2024-12-31',
      overview: '/overview?to=2023-07-10&days=30',
      'overview-year': '/overview?to=2024-12-31&days=400',
      'principal-role': `/principals?arn=${encodeURIComponent(BRAZIL_ROLE)}`,
      incident: `/incidents/${bertJansIncident}`,
      'incident-filtered': `/incidents/${bertJansIncident}?event=GetPasswordData#timeline`,
      events: '/events',
      'events-failed': '/events?error=any',
      principal: `/principals?arn=${encodeURIComponent(BERT_JAN)}`,
      timeline: `/timeline?principal=${encodeURIComponent(BERT_JAN)}&to=2023-07-10T13:00:00Z`,
      detectors: '/detectors',
      freshness: '/freshness',
      credentials: '/credentials',
      suppressions: '/suppressions',
      audit: '/audit',
    }
    for (const [name, route] of Object.entries(routes)) {
      const page = await open(route)
      expect(await accessibilityProblems(page), route).toEqual([])
      expect(await screenshots(page, SCREENSHOTS, name), route).toEqual([0, 0])
      await page.close()
    }
  }, 180_000)
})
