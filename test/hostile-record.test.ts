import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { Alerter } from '../src/alerting/alerter.js'
import { smtpTransport } from '../src/alerting/mailer.js'
import { outputBody, type Output } from '../src/alerting/outputs.js'
import { loadAlertingSettings } from '../src/alerting/settings.js'
import { addSuppression } from '../src/alerting/suppressions.js'
import { loadConfig } from '../src/config.js'
import { changeIncident, incidentById, listIncidents } from '../src/incidents/incidents.js'
import type { OpsServer } from '../src/ops/server.js'
import { principalsFrom } from '../src/principals.js'
import { serveConsole } from './helpers/console.js'
import { testSettings } from './helpers/detect.js'
import { ACCOUNT, ingestRecords, type RawEvent } from './helpers/events.js'
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js'
import { openTestStore, recordAt, testLogger, type TestStore } from './helpers/store.js'

/** Markup, a script URL and direction overrides: what an attacker who makes API calls may write into any field. */
const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>javascript:alert(3)\u202egnp.exe\u2066x\u2069'
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/
const AT = Date.parse('2026-11-20T03:00:00Z')
const NOW = new Date(AT + 3_600_000)

/** Fields whose value decides what the record is: the rest carry the payload. */
const KEPT = new Set(['eventVersion', 'eventTime', 'eventType', 'type', 'accountId', 'recipientAccountId', 'mfaAuthenticated', 'creationDate', 'readOnly', 'managementEvent'])

function poisoned(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return KEPT.has(key) ? value : `${value}${HOSTILE}`
  if (Array.isArray(value)) return value.map((item) => poisoned(item))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poisoned(v, k)]))
  return value
}

/** A root call from a host name, every free-text field carrying the payload. */
const RECORD = poisoned({
  eventVersion: '1.08',
  userIdentity: { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: 'ASIAHOSTILEKEY00001', userName: 'root', sessionContext: { attributes: { mfaAuthenticated: 'false', creationDate: new Date(AT).toISOString() } } },
  eventTime: new Date(AT).toISOString(),
  eventSource: 'cloudtrail.amazonaws.com',
  eventName: 'StopLogging',
  awsRegion: 'us-east-1',
  sourceIPAddress: 'intruder.example',
  userAgent: 'aws-cli/2.15.0',
  errorCode: 'AccessDenied',
  errorMessage: 'not allowed',
  requestParameters: { name: 'org-trail', userName: 'victim' },
  responseElements: { note: 'none' },
  requestID: 'request-1',
  eventID: 'event-hostile-1',
  readOnly: false,
  eventType: 'AwsApiCall',
  managementEvent: true,
  recipientAccountId: ACCOUNT,
}) as RawEvent

/** In HTML, the payload is only ever text: no element, no script URL, no direction override obeyed. */
function expectInertHtml(where: string, markup: string): void {
  expect(markup, where).not.toMatch(/<script|<img/i)
  expect(markup, where).not.toMatch(/(href|src|action)\s*=\s*["']?\s*javascript:/i)
  expect(markup, where).not.toMatch(BIDI)
}

let store: TestStore
let smtp: TestSmtpServer
let server: OpsServer
let incidentId: string

beforeAll(async () => {
  store = await openTestStore()
  smtp = await startSmtpServer()
  await ingestRecords(store, [RECORD])
  const detectors = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
  const findings = await Promise.all(detectors.map((d) => runDetector(store, d, { from: new Date(AT - 3_600_000), now: NOW }, testSettings())))
  await recordAt(store, findings.flat(), NOW)
  const [incident] = await listIncidents(store, { from: new Date(AT - 86_400_000), to: NOW })
  incidentId = incident?.id ?? ''
  server = await serveConsole(store, { skippedRules: [`/rules/${HOSTILE}.yml:1: not loaded`], now: NOW })
}, 120_000)

afterAll(async () => {
  await server.close()
  await smtp.close()
  await store.close()
})

describe('one record whose every free-text field is hostile', () => {
  it('makes an incident', () => {
    expect(incidentId).toMatch(/^inc-[0-9a-f]{12}$/)
  })

  it('is text in both parts of the incident email and in its headers', async () => {
    const transport = smtpTransport(smtp.url)
    const settings = loadAlertingSettings(loadConfig({ TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_CONSOLE_URL: 'https://trailwatch.example.com' }))
    await new Alerter({ store, settings, principals: principalsFrom({}), transport, logger: testLogger }).runOnce(NOW)
    transport.close()
    expect(smtp.received.length).toBeGreaterThanOrEqual(1)
    for (const { mail } of smtp.received) {
      expect(mail.subject ?? '').not.toMatch(BIDI)
      expect(mail.text ?? '').not.toMatch(BIDI)
      expect(mail.text ?? '').toContain('\\u202e')
      expectInertHtml('email', typeof mail.html === 'string' ? mail.html : '')
      expect(mail.html).toContain('&lt;script&gt;')
      // The one link goes to the console, never to something from the record.
      expect([...(typeof mail.html === 'string' ? mail.html : '').matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual([expect.stringMatching(/^https:\/\/trailwatch\.example\.com\/incidents\/inc-[0-9a-f]{12}$/)])
    }
  })

  it('is text on every console page reachable from the incident list, with what people typed about it', async () => {
    await addSuppression(store, { principal: `arn:aws:iam::${ACCOUNT}:root${HOSTILE}`, owner: `owner${HOSTILE}`, reason: `reason${HOSTILE}`, expiresAt: new Date(AT + 86_400_000) }, NOW)
    await changeIncident(store, incidentId, 'acknowledged', `analyst${HOSTILE}`, `looking${HOSTILE}`, NOW)
    const seen = new Set<string>()
    const queue = ['/', `/incidents/${incidentId}`]
    let shown = 0
    while (queue.length > 0 && seen.size < 60) {
      const route = queue.shift() ?? ''
      if (seen.has(route)) continue
      seen.add(route)
      const page = await fetch(`${server.url}${route}`)
      const markup = await page.text()
      expect(page.status, route).toBe(200)
      expectInertHtml(route, markup)
      if (markup.includes('&lt;script&gt;alert(1)&lt;/script&gt;')) shown++
      for (const [, href = ''] of markup.matchAll(/href="(\/[^"#]*)"/g)) {
        const link = href.replace(/&amp;/g, '&').replace(/&#39;/g, "'")
        if (link !== '/console.css' && !seen.has(link)) queue.push(link)
      }
    }
    // Every page of the menu, the incident, the root principal and the timelines were read.
    for (const route of ['/suppressions', '/detectors', '/freshness', '/credentials', '/audit']) expect(seen.has(route), route).toBe(true)
    expect([...seen].some((route) => route.startsWith('/principals?arn='))).toBe(true)
    expect([...seen].some((route) => route.startsWith('/timeline?'))).toBe(true)
    expect(shown).toBeGreaterThanOrEqual(6)
    const login = await fetch(`${server.url}/login`)
    expectInertHtml('/login', await login.text())
  })

  it('is inert in every output body', async () => {
    const incident = await incidentById(store, incidentId)
    const outputs: Output[] = [
      { name: 'webhook', url: 'http://127.0.0.1:9/', minSeverity: 'info', secret: 'key' },
      { name: 'slack', url: 'http://127.0.0.1:9/', minSeverity: 'info', secret: '' },
      { name: 'pagerduty', url: 'http://127.0.0.1:9/', minSeverity: 'info', secret: 'routing' },
    ]
    for (const output of outputs) {
      const body = outputBody(output, { deliveryId: 'delivery-1', incident, news: [`news${HOSTILE}`], link: `https://trailwatch.example.com/incidents/${incidentId}` })
      expect(body, output.name).not.toMatch(BIDI)
      // The same text, only escaped: what the receiver reads back is what the record said.
      expect(JSON.stringify(JSON.parse(body)), output.name).toMatch(/\u202e|\\u202e/)
      if (output.name === 'slack') expect(body).not.toMatch(/<script|<img/)
    }
  })
})
