import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../detectors/define.js'
import { runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { Alerter } from '../src/alerting/alerter.js'
import { changeIncident, incidentOfAlerts, noteIncident } from '../src/incidents/incidents.js'
import { smtpTransport } from '../src/alerting/mailer.js'
import { webhookSignature } from '../src/alerting/outputs.js'
import { loadAlertingSettings } from '../src/alerting/settings.js'
import { loadConfig } from '../src/config.js'
import { principalsFrom } from '../src/principals.js'
import { horizontalOverflow, openBrowser } from './helpers/browser.js'
import { INVICTUS } from './helpers/datasets.js'
import { testSettings } from './helpers/detect.js'
import { ACCOUNT } from './helpers/events.js'
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js'
import { openTestStore, recordAt, testLogger } from './helpers/store.js'
import { validateDetectionFinding } from './helpers/ocsf-schema.js'

const RUNNING = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
const NOBODY_KNOWN = principalsFrom({})

let smtp: TestSmtpServer
let browser: Browser
beforeAll(async () => {
  smtp = await startSmtpServer()
  browser = await openBrowser()
}, 60_000)
afterAll(async () => {
  await browser.close()
  await smtp.close()
})

describe('invictus-ir aws_dataset at 2023-07-10T12:40Z, through the alerter', () => {
  it('is one email, not 34, that fits a 400 px phone screen', async () => {
    const store = await openTestStore()
    const now = new Date('2023-07-10T12:40:00Z')
    await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
    for (const d of RUNNING) await recordAt(store, await runDetector(store, d, { from: new Date('2023-07-10T11:00:00Z'), now }, testSettings()), now)
    smtp.received.length = 0
    const transport = smtpTransport(smtp.url)
    const settings = loadAlertingSettings(loadConfig({ TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_ACCOUNT_ALIASES: '123837392027=invictus' }))
    const summary = await new Alerter({ store, settings, principals: NOBODY_KNOWN, transport, logger: testLogger }).runOnce(now)
    transport.close()
    await store.close()

    expect(summary.sent).toHaveLength(1)
    const mail = smtp.received[0]?.mail
    expect(mail?.subject).toBe('[trailwatch] CRITICAL bert-jan@invictus: cloudtrail-tampering DeleteTrail (+33)')
    expect(mail?.subject?.length).toBeLessThanOrEqual(80)
    const text = mail?.text ?? ''
    // The critical DeleteTrail alert comes first, with its DeleteTrail calls under it.
    expect(text).toMatch(/ALERTS \(34, most severe first\)\n {2}1\. CRITICAL cloudtrail-tampering: .*DeleteTrail.*\n {5}2023-07-10 \d\d:\d\d:\d\d UTC {2}DeleteTrail /)
    // What to act on, by name, and the runbook with them in place.
    expect(text).toMatch(/ACT ON\n(.*\n)*? {2}trail: stratus-red-team-/)
    expect(text).toContain("aws iam update-access-key --user-name 'bert-jan' --access-key-id AKIATFQR7NSC8Q4X20BJ --status Inactive")
    expect(text).toMatch(/aws cloudtrail get-trail-status --name 'stratus-red-team-\w+-trail-\w+'/)
    expect(text).not.toMatch(/--name TRAIL\b/)
    expect(await horizontalOverflow(browser, typeof mail?.html === 'string' ? mail.html : '', 400)).toBe(0)
  }, 120_000)
})

describe('every alert email at 400 px', () => {
  it('has no horizontal overflow, even with unbroken attacker-written values', async () => {
    const store = await openTestStore()
    const now = Date.parse('2026-11-20T12:00:00Z')
    const long = `arn:aws:iam::${ACCOUNT}:user/${'a'.repeat(120)}`
    const finding = (id: string, principal: string, at: number, overrides: Partial<Finding> = {}): Finding => ({
      detector: 'unusual-source-ip',
      alertId: id,
      severity: 'high',
      principal,
      account: ACCOUNT,
      title: `${principal} acted from ${'x'.repeat(200)}`,
      firstSeen: new Date(at).toISOString(),
      lastSeen: new Date(at).toISOString(),
      evidence: { address: '203.0.113.9', note: 'y'.repeat(300) },
      why: 'z'.repeat(300),
      dedupKey: id,
      attack: ['T1078.004'],
      runbook: [`Run ${'w'.repeat(200)}`],
      ...overrides,
    })
    smtp.received.length = 0
    const transport = smtpTransport(smtp.url)
    const settings = loadAlertingSettings(loadConfig({ TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_CONSOLE_URL: `https://trailwatch.example.com/${'v'.repeat(100)}` }))
    const alerter = new Alerter({ store, settings: { ...settings, dedupWindowMs: () => 3_600_000 }, principals: NOBODY_KNOWN, transport, logger: testLogger })
    // An incident email, a digest of its repeat, and an update when it grows.
    await recordAt(store, [finding('one', long, now)], new Date(now))
    await alerter.runOnce(new Date(now))
    await recordAt(store, [finding('one', long, now, { lastSeen: new Date(now + 60_000).toISOString() })], new Date(now + 60_000))
    await alerter.runOnce(new Date(now + 60_000))
    await alerter.runOnce(new Date(now + 3_600_000 + 60_001))
    await recordAt(store, [finding('two', long, now + 7_200_000, { detector: 'cloudtrail-tampering', severity: 'critical', attack: ['T1562.008'] })], new Date(now + 7_200_000))
    await alerter.runOnce(new Date(now + 7_200_000))
    transport.close()
    await store.close()

    expect(smtp.received.map((r) => r.mail.subject?.replace(/a{20,}…/, 'a…'))).toEqual([
      '[trailwatch] HIGH a…: unusual-source-ip 203.0.113.9',
      '[trailwatch] digest of 1 alert (1 occurrence)',
      '[trailwatch] CRITICAL a…: update: severity rose from high…',
    ])
    // The probe sees overflow where there is some.
    expect(await horizontalOverflow(browser, `<table><tr><td>${'x'.repeat(500)}</td></tr></table>`, 400)).toBeGreaterThan(0)
    for (const { mail } of smtp.received) {
      expect({ subject: mail.subject, overflow: await horizontalOverflow(browser, typeof mail.html === 'string' ? mail.html : '', 400) }).toEqual({ subject: mail.subject, overflow: 0 })
    }
  }, 120_000)
})

interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
  status: number
}

/** A real HTTP server that refuses the first `failures` requests on each path with 503, then accepts. */
async function flakyReceiver(failures: number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8')
    })
    request.on('end', () => {
      const path = request.url ?? ''
      const status = received.filter((r) => r.path === path).length < failures ? 503 : 200
      received.push({ path, headers: request.headers, body, status })
      response.writeHead(status).end(status === 200 ? 'ok' : 'busy')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, received }
}

describe('outputs beyond email', () => {
  it('deliver each incident update exactly once to a webhook, Slack and PagerDuty through three failures each, signed', async () => {
    const receiver = await flakyReceiver(3)
    const store = await openTestStore()
    const secret = 'a-webhook-secret-of-some-length'
    const config = loadConfig({
      TRAILWATCH_ALERT_TO: 'secops@example.com',
      TRAILWATCH_WEBHOOK_URL: `${receiver.url}/webhook`,
      TRAILWATCH_WEBHOOK_SECRET: secret,
      TRAILWATCH_SLACK_WEBHOOK_URL: `${receiver.url}/slack`,
      TRAILWATCH_PAGERDUTY_ROUTING_KEY: 'R0123456789ABCDEF0123456789ABCDE',
      TRAILWATCH_PAGERDUTY_URL: `${receiver.url}/pagerduty`,
      TRAILWATCH_SMTP_RETRY_MS: '1000',
    })
    const transport = smtpTransport(smtp.url)
    const alerter = new Alerter({ store, settings: loadAlertingSettings(config), principals: NOBODY_KNOWN, transport, logger: testLogger })
    const principal = `arn:aws:iam::${ACCOUNT}:user/dana`
    const at = Date.parse('2026-11-20T12:00:00Z')
    const finding = (id: string, severity: Finding['severity'], detector: string, attack: string[]): Finding => ({
      detector, alertId: id, severity, principal, account: ACCOUNT, title: `dana ${id}`, firstSeen: new Date(at).toISOString(), lastSeen: new Date(at).toISOString(),
      evidence: {}, why: 'test', dedupKey: id, attack, runbook: [],
    })
    // Cycles a second apart: each attempt fails until the fourth, backing off 1, 2 and 4 s.
    const cycles = async (from: number, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await alerter.runOnce(new Date(from + i * 1000))
    }
    await recordAt(store, [finding('first', 'high', 'unusual-source-ip', ['T1078.004'])], new Date(at))
    await cycles(at, 12)
    // It grows: a new tactic and a critical alert. One more update each, PagerDuty included.
    await recordAt(store, [finding('second', 'critical', 'cloudtrail-tampering', ['T1562.008'])], new Date(at + 60_000))
    await cycles(at + 60_000, 12)
    // More of the same tells nobody anything.
    await recordAt(store, [finding('third', 'high', 'cloudtrail-tampering', ['T1562.008'])], new Date(at + 120_000))
    await cycles(at + 120_000, 12)
    // Contained: each output hears what was changed, and how to undo it.
    const [incidentId] = (await incidentOfAlerts(store, ['first'])).values()
    await noteIncident(store, incidentId ?? '', 'contained', 'pat', 'containment ctn-0123456789ab applied to dana: deactivate access key; undo: trailwatch contain undo ctn-0123456789ab', new Date(at + 150_000))
    await cycles(at + 150_000, 3)
    // Resolved from the command line: each output hears it once, PagerDuty stops paging.
    await changeIncident(store, incidentId ?? '', 'resolved', 'alice', 'key rotated', new Date(at + 180_000))
    await cycles(at + 180_000, 3)
    transport.close()
    await store.close()
    await new Promise<void>((resolve) => receiver.server.close(() => {
      resolve()
    }))

    for (const path of ['/webhook', '/slack', '/pagerduty']) {
      const requests = receiver.received.filter((r) => r.path === path)
      // The first update: three refusals and one acceptance; the growth, the containment and the resolution accepted at once.
      expect(requests.map((r) => r.status)).toEqual([503, 503, 503, 200, 200, 200, 200])
      const accepted = requests.filter((r) => r.status === 200)
      expect(new Set(accepted.map((r) => r.headers['x-trailwatch-delivery'])).size).toBe(4)
      // Every attempt of one update carries the same delivery id and body.
      expect(new Set(requests.slice(0, 4).map((r) => `${String(r.headers['x-trailwatch-delivery'])}${r.body}`)).size).toBe(1)
    }
    const webhooks = receiver.received.filter((r) => r.path === '/webhook' && r.status === 200)
    for (const request of webhooks) {
      const timestamp = String(request.headers['x-trailwatch-timestamp'])
      expect(request.headers['x-trailwatch-signature']).toBe(webhookSignature(secret, timestamp, request.body))
      expect(request.headers['x-trailwatch-signature']).not.toBe(webhookSignature('another-secret-of-some-length', timestamp, request.body))
    }
    const [opened, updated, contained, resolved] = webhooks.map((r) => JSON.parse(r.body) as { type: string; news: string[]; incident: { id: string; severity: string; status: string; alerts: unknown[] } })
    expect([opened?.type, updated?.type, contained?.type, resolved?.type]).toEqual(['incident.opened', 'incident.updated', 'incident.updated', 'incident.resolved'])
    expect(contained?.news).toEqual(['pat: containment ctn-0123456789ab applied to dana: deactivate access key; undo: trailwatch contain undo ctn-0123456789ab'])
    expect(resolved).toMatchObject({ news: ['resolved by alice: key rotated'], incident: { id: incidentId, status: 'resolved' } })
    expect(updated?.incident.id).toBe(opened?.incident.id)
    expect(updated?.news).toEqual(['severity rose from high to critical', 'new ATT&CK tactic: defense-evasion', 'new critical alert: dana second'])
    const bodies = (path: string): Record<string, unknown>[] => receiver.received.filter((r) => r.path === path && r.status === 200).map((r) => JSON.parse(r.body) as Record<string, unknown>)
    const slack = bodies('/slack')[1] as { blocks: { type: string }[] }
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context'])
    const [, page, , unpage] = bodies('/pagerduty')
    expect(page).toMatchObject({ routing_key: 'R0123456789ABCDEF0123456789ABCDE', event_action: 'trigger', dedup_key: opened?.incident.id, payload: { severity: 'critical' } })
    expect(unpage).toEqual({ routing_key: 'R0123456789ABCDEF0123456789ABCDE', event_action: 'resolve', dedup_key: opened?.incident.id })
  }, 120_000)

  it('sends a webhook that asks for OCSF each update as a Detection Finding the schema accepts', async () => {
    const receiver = await flakyReceiver(0)
    const store = await openTestStore()
    const secret = 'a-webhook-secret-of-some-length'
    const config = loadConfig({ TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_WEBHOOK_URL: `${receiver.url}/webhook`, TRAILWATCH_WEBHOOK_SECRET: secret, TRAILWATCH_WEBHOOK_FORMAT: 'ocsf' })
    const transport = smtpTransport(smtp.url)
    const alerter = new Alerter({ store, settings: loadAlertingSettings(config), principals: NOBODY_KNOWN, transport, logger: testLogger })
    const principal = `arn:aws:iam::${ACCOUNT}:user/erin`
    const at = Date.parse('2026-11-20T12:00:00Z')
    const finding = (id: string, severity: Finding['severity'], detector: string, attack: string[]): Finding => ({
      detector, alertId: id, severity, principal, account: ACCOUNT, title: `erin ${id}`, firstSeen: new Date(at).toISOString(), lastSeen: new Date(at).toISOString(),
      evidence: { bucket: 'arn:aws:s3:::records' }, why: 'test', dedupKey: id, attack, runbook: ['Deactivate the key.'],
    })
    await recordAt(store, [finding('ocsf-first', 'high', 'unusual-source-ip', ['T1078.004'])], new Date(at))
    await alerter.runOnce(new Date(at))
    await recordAt(store, [finding('ocsf-second', 'critical', 'rule:trailwatch-s3-object-versions-deleted-many', ['T1485'])], new Date(at + 60_000))
    await alerter.runOnce(new Date(at + 60_000))
    const [incidentId = ''] = (await incidentOfAlerts(store, ['ocsf-first'])).values()
    await changeIncident(store, incidentId, 'acknowledged', 'pat', 'looking', new Date(at + 120_000))
    await alerter.runOnce(new Date(at + 120_000))
    await changeIncident(store, incidentId, 'resolved', 'pat', 'key rotated', new Date(at + 180_000))
    await alerter.runOnce(new Date(at + 180_000))
    transport.close()
    await store.close()
    await new Promise<void>((resolve) => receiver.server.close(() => {
      resolve()
    }))

    const requests = receiver.received.filter((r) => r.path === '/webhook')
    for (const request of requests) expect(request.headers['x-trailwatch-signature']).toBe(webhookSignature(secret, String(request.headers['x-trailwatch-timestamp']), request.body))
    const findings = requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
    for (const f of findings) expect(validateDetectionFinding(f)).toEqual([])
    expect(findings.map((f) => [f.activity_name, f.status, f.severity])).toEqual([
      ['Create', 'New', 'High'],
      ['Update', 'New', 'Critical'],
      ['Update', 'In Progress', 'Critical'],
      ['Close', 'Resolved', 'Critical'],
    ])
    expect(findings[1]).toMatchObject({
      class_uid: 2004,
      finding_info: { uid: incidentId, related_events: [{ uid: 'ocsf-first' }, { uid: 'ocsf-second', type: 'rule:trailwatch-s3-object-versions-deleted-many' }] },
      actor: { user: { uid: principal } },
    })
    // The update's own delivery id, for a receiver to drop a delivery it has seen.
    expect((findings[0]?.unmapped as { trailwatch: { delivery_id: string } }).trailwatch.delivery_id).toBe(requests[0]?.headers['x-trailwatch-delivery'])
  }, 120_000)
})
