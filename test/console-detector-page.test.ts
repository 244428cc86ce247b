import { afterAll, beforeAll, expect, it } from 'vitest'
import cloudtrailTampering from '../detectors/cloudtrail-tampering/detector.js'
import rootAccountUsage from '../detectors/root-account-usage/detector.js'
import type { OpsServer } from '../src/ops/server.js'
import { serveConsole } from './helpers/console.js'
import { apiCall, ingestRecords, roleSession } from './helpers/events.js'
import { openTestStore, queryRows, type TestStore } from './helpers/store.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const DAY = 86_400_000
const deployer = roleSession('deployer', 'ci-1')
const stopLogging = (at: number, trail: string) => apiCall(at, deployer, '203.0.113.50', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name: trail }, readOnly: false })

let store: TestStore
let server: OpsServer
beforeAll(async () => {
  store = await openTestStore()
  // A trail stopped two days ago; two more yesterday, one with a name written to be markup.
  await ingestRecords(store, [stopLogging(NOW - 2 * DAY, 'org-trail'), stopLogging(NOW - DAY - 3_600_000, 'audit-trail'), stopLogging(NOW - DAY, '<img src=x onerror=alert(1)>')])
  server = await serveConsole(store, { detectors: [cloudtrailTampering, rootAccountUsage], now: new Date(NOW) })
}, 60_000)
afterAll(async () => {
  await server.close()
  await store.close()
})

it('draws what a detector would have found, a bar per day, and lists the findings, storing nothing', async () => {
  const listing = await (await fetch(`${server.url}/detectors`)).text()
  expect(listing).toContain('<a href="/detectors/cloudtrail-tampering"><span class="id">cloudtrail-tampering</span></a>')

  const response = await fetch(`${server.url}/detectors/cloudtrail-tampering?days=7`)
  expect(response.status).toBe(200)
  const page = await response.text()
  expect(page).toContain('What it would have found, last 7 days')
  expect(page).toContain('<svg class="history" role="img"')
  // Yesterday's two stops are one alert: one principal, one call, one day.
  expect(page).toContain('aria-label="2 findings over 7 days, by the day each was first seen"')
  expect(page.match(/<title>[^<]*<\/title><rect/g)).toEqual([
    '<title>2026-11-14: 0 findings</title><rect',
    '<title>2026-11-15: 0 findings</title><rect',
    '<title>2026-11-16: 0 findings</title><rect',
    '<title>2026-11-17: 0 findings</title><rect',
    '<title>2026-11-18: 1 finding</title><rect',
    '<title>2026-11-19: 1 finding</title><rect',
    '<title>2026-11-20: 0 findings</title><rect',
  ])
  expect(page).toContain('org-trail')
  // What an event says is shown, never obeyed.
  expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;')
  expect(page).not.toContain('<img src=x')
  expect(await queryRows(store, 'SELECT alert_id FROM alerts')).toEqual([])
})

it('replays at most a month, and has no page for what does not run here', async () => {
  expect(await (await fetch(`${server.url}/detectors/root-account-usage?days=100000`)).text()).toContain('last 30 days')
  expect((await fetch(`${server.url}/detectors/rule%3Anothing-here`)).status).toBe(404)
})
