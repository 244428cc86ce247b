import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { simpleParser } from 'mailparser'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import type { Finding } from '../detectors/define.js'

import unusualSourceIp from '../detectors/unusual-source-ip/detector.js'
import { Alerter } from '../src/alerting/alerter.js'
import { outboxTransport, smtpTransport, type MailTransport } from '../src/alerting/mailer.js'
import { notificationsWithStatus } from '../src/alerting/notifications.js'
import { suppressedCounts } from '../src/alerting/routes.js'
import { storeFindings } from '../src/alerts/table.js'
import { decidePosture } from '../src/alerts/posture.js'
import { listIncidents } from '../src/incidents/incidents.js'
import { CreateUserCommand, IAMClient, ListUserPoliciesCommand } from '@aws-sdk/client-iam'
import { listContainments } from '../src/contain/contain.js'
import { startMoto } from './helpers/moto.js'
import { loadAlertingSettings } from '../src/alerting/settings.js'
import { principalsFrom } from '../src/principals.js'
import { addSuppression } from '../src/alerting/suppressions.js'
import { loadConfig } from '../src/config.js'
import { detectAt } from './helpers/detect.js'
import { ACCOUNT, apiCall, daily, iamUser, ingestRecords } from './helpers/events.js'
import { selfSignedCertificate, startSmtpServer, type TestSmtpServer } from './helpers/smtp.js'
import { openTestStore, recordAt, queryRows, testLogger, type TestStore } from './helpers/store.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const HOSTILE_AGENT = '<script>alert(1)</script>\r\nBcc: victim@example.com'
const carol = `arn:aws:iam::${ACCOUNT}:user/carol`
/** No principals file: nobody's time zone is known. */
const NOBODY_KNOWN = principalsFrom({})

function settingsFor(env: Record<string, string>, file: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-alerting-'))
  const alertingFile = path.join(dir, 'alerting.json')
  writeFileSync(alertingFile, JSON.stringify(file))
  return loadAlertingSettings(loadConfig({ TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_ALERTING_FILE: alertingFile, ...env }))
}

/** A finding as a detector would make it, for routing tests that need many alerts of chosen shapes. */
function finding(detector: string, principal: string, dedupKey: string, at: number, overrides: Partial<Finding> = {}): Finding {
  return {
    detector,
    alertId: `${detector}-${dedupKey}`.replace(/[^a-z0-9-]/gi, '-'),
    severity: 'high',
    principal,
    account: ACCOUNT,
    title: `${principal} did something (${dedupKey})`,
    firstSeen: new Date(at).toISOString(),
    lastSeen: new Date(at).toISOString(),
    evidence: { source: '203.0.113.9' },
    why: 'because the test says so',
    dedupKey,
    attack: ['T1078'],
    runbook: ['Look at it.'],
    ...overrides,
  }
}

let smtp: TestSmtpServer
let store: TestStore
let transport: MailTransport

beforeAll(async () => {
  smtp = await startSmtpServer()
})
afterAll(async () => {
  await smtp.close()
})
beforeEach(async () => {
  store = await openTestStore()
  transport = smtpTransport(smtp.url)
  smtp.received.length = 0
  smtp.judge = () => undefined
  smtp.onAccepted = () => undefined
})
afterEach(async () => {
  transport.close()
  await store.close()
})

describe('an alert email', () => {
  it('says who, what, where, when, why, the evidence, the runbook and the alert id; event data stays data', async () => {
    await ingestRecords(store, [
      ...daily(20, NOW, 14, (at) => apiCall(at, iamUser('carol'), '98.207.1.1')),
      apiCall(NOW - 10 * 60_000, iamUser('carol'), '5.255.255.77', { userAgent: HOSTILE_AGENT }),
      apiCall(NOW - 9 * 60_000, iamUser('carol'), '5.255.255.77', { userAgent: HOSTILE_AGENT }),
      apiCall(NOW - 8 * 60_000, iamUser('carol'), '5.255.255.77', { userAgent: HOSTILE_AGENT, eventName: 'GetObject', errorCode: 'AccessDenied' }),
    ])
    const findings = await detectAt(store, unusualSourceIp, new Date(NOW).toISOString())
    expect(findings).toHaveLength(1)
    await recordAt(store, findings, new Date(NOW))
    const [stored] = await queryRows<{ actor_kind: string; source_country: string; source_asn: number; source_as_org: string }>(
      store,
      "SELECT actor_kind, source_country, source_asn, source_as_org FROM events WHERE source_ip = '5.255.255.77' LIMIT 1",
    )

    const settings = settingsFor({ SMTP_URL: smtp.url })
    const principals = principalsFrom({ overrides: [{ principals: ['*:user/carol'], timezone: 'America/Los_Angeles' }] })
    const summary = await new Alerter({ store, settings, principals, transport, logger: testLogger }).runOnce(new Date(NOW + 60_000))
    expect(summary.sent).toHaveLength(1)
    expect(smtp.received).toHaveLength(1)
    const { mail, to } = smtp.received[0] as (typeof smtp.received)[number]
    const alert = findings[0] as Finding

    expect(to).toEqual(['secops@example.com'])
    // Who and what, short enough for a phone.
    expect(mail.subject).toBe('[trailwatch] HIGH carol: unusual-source-ip 5.255.255.77')
    const text = mail.text ?? ''
    // Who
    expect(text).toContain(`${carol} (account ${ACCOUNT})`)
    // The calls that made the alert, first under it, with where they came from
    expect(text).toMatch(/ALERTS \(1, most severe first\)\n {2}1\. HIGH unusual-source-ip: .*\n {5}2026-11-20 11:50:00 UTC {2}ListBuckets {2}5\.255\.255\.77/)
    expect(text).toContain(`GetObject  5.255.255.77 (${stored?.source_country ?? '?'})  us-east-1  AccessDenied`)
    expect(stored?.actor_kind).toBe('human-cli')
    // When: UTC and the principal's own clock
    expect(text).toContain('2026-11-20 11:50:00 UTC → 2026-11-20 11:52:00 UTC')
    expect(text).toContain('Fri 2026-11-20 03:50 America/Los_Angeles (principal’s local time)')
    // Why, in words and numbers
    expect(text).toContain(alert.why)
    expect(alert.why).toMatch(/used 1 addresses in US/)
    // The key to act on, and the runbook with the real address in place of its placeholder
    expect(text).toContain('KEYS\n  access key ASIACAROLXXXXXXXXXXX')
    expect(text).toContain("WHERE source_ip = '5.255.255.77' ORDER BY event_time")
    expect(text).not.toContain("'ADDRESS'")
    // ATT&CK, the alert and the incident
    expect(text).toContain(`Alert ${alert.alertId}`)
    expect(text).toContain('T1078.004')
    expect(text).toMatch(/^Incident inc-[0-9a-f]{12}$/m)

    // The hostile user agent: text in the HTML, never markup; its CRLF never became a header.
    const html = typeof mail.html === 'string' ? mail.html : ''
    expect(html).not.toContain('<script>')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain(`alert ${alert.alertId}`)
    // The silencing command is in the HTML part too.
    expect(html).toContain(`trailwatch suppress add --detector &#39;unusual-source-ip&#39; --principal &#39;${carol}&#39;`)
    expect(mail.headers.has('bcc')).toBe(false)
    expect(mail.messageId).toMatch(/@trailwatch>$/)
  })

  it('keeps CR and LF in a principal’s name out of the headers', async () => {
    await recordAt(store, [finding('cloudtrail-tampering', `${carol}\r\nBcc: victim@example.com\r\nX-Injected: yes`, 'crlf', NOW)], new Date(NOW))
    await new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger }).runOnce(new Date(NOW))
    expect(smtp.received).toHaveLength(1)
    const { mail, to } = smtp.received[0] as (typeof smtp.received)[number]
    expect(to).toEqual(['secops@example.com'])
    expect(mail.headers.has('bcc')).toBe(false)
    expect(mail.headers.has('x-injected')).toBe(false)
    // The name is cut to leave room for what happened; its CR and LF are spaces.
    expect(mail.subject).toBe('[trailwatch] HIGH carol Bcc: victim@exam…: cloudtrail-tampering')
  })
})

describe('noise control', () => {
  it('sends an incident at once, merges the same finding found again within the window into one digest, and keeps quiet about more of the same', async () => {
    const settings = settingsFor({}, { dedupWindow: '6h' })
    const alerter = new Alerter({ store, settings, principals: NOBODY_KNOWN, transport, logger: testLogger })
    const t0 = NOW
    const again = (hours: number) => finding('unusual-source-ip', carol, 'new-ip', t0, { lastSeen: new Date(t0 + hours * 3_600_000).toISOString() })
    await recordAt(store, [again(0)], new Date(t0))
    expect((await alerter.runOnce(new Date(t0))).sent).toHaveLength(1)

    // The same finding with new activity twice (each a repeat), and a different finding of the same
    // kind about the same person: it joins her incident, which it does not change, so no email.
    await recordAt(store, [again(1)], new Date(t0 + 3_600_000))
    expect(await alerter.runOnce(new Date(t0 + 3_600_000))).toMatchObject({ digest: 1, sent: [] })
    await recordAt(store, [again(2), finding('unusual-source-ip', carol, 'other-ip', t0 + 7_200_000)], new Date(t0 + 7_200_000))
    const second = await alerter.runOnce(new Date(t0 + 7_200_000))
    expect([second.digest, second.immediate, second.sent]).toEqual([1, 0, []])
    const [joined] = await queryRows<{ disposition: string; reason: string }>(store, "SELECT disposition, reason FROM alert_routes FINAL WHERE alert_id = 'unusual-source-ip-other-ip'")
    expect(joined?.disposition).toBe('incident')
    expect(joined?.reason).toMatch(/^joined incident inc-[0-9a-f]{12}, emailed already; nothing new$/)
    // A re-run that finds nothing new is no repeat at all.
    await recordAt(store, [again(2)], new Date(t0 + 7_500_000))
    expect(await alerter.runOnce(new Date(t0 + 7_500_000))).toMatchObject({ immediate: 0, digest: 0 })
    // Not yet due: the window runs six hours from the first email.
    expect((await alerter.runOnce(new Date(t0 + 5 * 3_600_000))).sent).toHaveLength(0)

    const due = await alerter.runOnce(new Date(t0 + 6 * 3_600_000 + 1))
    expect(due.sent.map((n) => n.kind)).toEqual(['digest'])
    expect(smtp.received).toHaveLength(2)
    const digest = smtp.received[1]?.mail
    expect(digest?.subject).toBe('[trailwatch] digest of 1 alert (2 occurrences)')
    expect(digest?.text).toContain(`HIGH unusual-source-ip · ${carol} (account ${ACCOUNT})`)
    expect(digest?.text).toContain('2 occurrences, last seen 2026-11-20 14:00:00 UTC (repeat within 6 h of the first email)')

    // Past the window, new activity is news again: a reply in the incident's thread.
    await recordAt(store, [again(9)], new Date(t0 + 9 * 3_600_000))
    expect((await alerter.runOnce(new Date(t0 + 9 * 3_600_000))).sent.map((n) => n.kind)).toEqual(['alert'])
    const [first, , reply] = smtp.received.map((r) => r.mail)
    expect(reply?.inReplyTo).toBe(first?.messageId)
    expect(reply?.text).toContain('WHAT IS NEW\n  - active again: 1 new alert occurrence since the last email, 9 h ago')
  })

  it('sends a repeat at once when its severity rose above what was emailed', async () => {
    const alerter = new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger })
    const sighting = (hours: number, severity: Finding['severity']) =>
      finding('unusual-source-ip', carol, 'rising', NOW, { severity, lastSeen: new Date(NOW + hours * 3_600_000).toISOString() })
    await recordAt(store, [sighting(0, 'medium')], new Date(NOW))
    expect((await alerter.runOnce(new Date(NOW))).immediate).toBe(1)
    await recordAt(store, [sighting(1, 'medium')], new Date(NOW + 3_600_000))
    expect((await alerter.runOnce(new Date(NOW + 3_600_000))).digest).toBe(1)
    await recordAt(store, [sighting(2, 'critical')], new Date(NOW + 7_200_000))
    expect((await alerter.runOnce(new Date(NOW + 7_200_000))).sent.map((n) => n.subject)).toEqual(['[trailwatch] CRITICAL carol: update: severity rose from medium to critical'])
    const [route] = await queryRows<{ reason: string }>(store, "SELECT reason FROM alert_routes FINAL WHERE severity = 'critical'")
    expect(route?.reason).toBe('severity rose from medium to critical')
  })

  it('emails every critical alert that joins an incident already emailed: root signing in again, from elsewhere, without MFA', async () => {
    const alerter = new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger })
    const account = '444455556666'
    const signIn = (address: string, at: number) =>
      finding('root-account-usage', `arn:aws:iam::${account}:root`, `root-sign-in-${address}`, at, {
        account,
        severity: 'critical',
        title: `Account ${account}: someone signed in to the console as root, without MFA, from ${address}`,
        attack: ['T1078.004'],
      })
    await recordAt(store, [signIn('203.0.113.9', NOW)], new Date(NOW))
    expect((await alerter.runOnce(new Date(NOW))).sent.map((n) => n.kind)).toEqual(['alert'])
    await recordAt(store, [signIn('198.51.100.7', NOW + 3_600_000), signIn('198.51.100.8\n  - forged: all clear', NOW + 3_600_000)], new Date(NOW + 3_600_000))
    const second = await alerter.runOnce(new Date(NOW + 3_600_000))
    expect(second.sent.map((n) => n.subject)).toEqual([expect.stringMatching(/^\[trailwatch\] CRITICAL root: update: new critical alert: /)])
    const [first, reply] = smtp.received.slice(-2).map((r) => r.mail)
    expect(reply?.inReplyTo).toBe(first?.messageId)
    expect(reply?.text).toContain(`WHAT IS NEW\n  - new critical alert: Account ${account}: someone signed in to the console as root, without MFA, from 198.51.100.7`)
    // A title's line break stays inside its own line.
    expect(reply?.text).toContain('from 198.51.100.8\\n  - forged: all clear')
    expect(reply?.text).not.toMatch(/^ {2}- forged/m)
  })

  it('waits for a stored alert to join its incident before routing it, and correlates one left out for a minute', async () => {
    const alerter = new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger })
    // Detection stores its alerts, then correlates: a cycle between the two must not route the alert to no email.
    await storeFindings(store, [finding('cloudtrail-tampering', carol, 'stopped', NOW, { severity: 'critical' })], new Date(NOW))
    expect(await alerter.runOnce(new Date(NOW + 1_000))).toMatchObject({ immediate: 0, sent: [] })
    expect(await queryRows(store, 'SELECT alert_id FROM alert_routes')).toEqual([])
    // Its detection never correlated it (it failed after storing): a minute on, the alerter does.
    const late = await alerter.runOnce(new Date(NOW + 60_000))
    expect(late.sent.map((n) => n.kind)).toEqual(['alert'])
    expect(smtp.received.at(-1)?.mail.text).toContain(`${carol} did something (stopped)`)
  })

  it('holds a recipient’s alerts over the hourly limit for a digest, most severe first and never a critical one', async () => {
    const alerter = new Alerter({ store, settings: settingsFor({}, { maxPerHour: 2 }), principals: NOBODY_KNOWN, transport, logger: testLogger })
    await recordAt(
      store,
      [
        ...['a', 'b', 'c', 'd'].map((who, i) => finding('unusual-source-ip', `${carol}-${who}`, who, NOW + i)),
        finding('root-account-usage', `arn:aws:iam::${ACCOUNT}:root`, 'root', NOW + 10, { severity: 'critical' }),
      ],
      new Date(NOW),
    )
    const first = await alerter.runOnce(new Date(NOW + 60_000))
    // The critical alert first, then one high; three highs wait for the digest.
    expect(first.sent.map((n) => n.subject).sort()).toEqual(['[trailwatch] CRITICAL root: root-account-usage', '[trailwatch] HIGH carol-a: unusual-source-ip'])
    expect(first.digest).toBe(3)
    // Over the limit, a critical alert still goes out at once.
    await recordAt(store, [finding('cloudtrail-tampering', `${carol}-e`, 'e', NOW + 120_000, { severity: 'critical' })], new Date(NOW + 120_000))
    expect((await alerter.runOnce(new Date(NOW + 180_000))).sent.map((n) => n.kind)).toEqual(['alert'])
    const later = await alerter.runOnce(new Date(NOW + 3_600_000 + 60_000))
    expect(later.sent.map((n) => n.kind)).toEqual(['digest'])
    expect(smtp.received.at(-1)?.mail.text).toContain('over 2 emails an hour')
    expect(smtp.received.at(-1)?.mail.subject).toBe('[trailwatch] digest of 3 alerts (3 occurrences)')
  })

  it('routes by severity, detector and account, and suppresses by rule until the rule expires', async () => {
    const settings = settingsFor(
      { TRAILWATCH_ALERT_MIN_SEVERITY: 'high' },
      { routes: [{ to: ['iam-team@example.com'], detectors: ['stale-access-key'], minSeverity: 'low' }, { to: ['prod@example.com'], accounts: ['999988887777'] }] },
    )
    const alerter = new Alerter({ store, settings, principals: NOBODY_KNOWN, transport, logger: testLogger })
    await addSuppression(store, { cidr: '203.0.113.0/24', detector: 'unusual-source-ip', owner: 'pat', reason: 'pen test from the agency range', expiresAt: new Date(NOW + 3_600_000) }, new Date(NOW - 60_000))
    await recordAt(
      store,
      [
        finding('stale-access-key', carol, 'key', NOW, { severity: 'medium' }),
        finding('unusual-source-ip', carol, 'pentest', NOW),
        finding('unusual-source-ip', `${carol}-b`, 'outside', NOW, { evidence: { address: '198.51.100.1' } }),
        finding('cross-account-assume-role', '444455556666', 'prod', NOW, { account: '999988887777' }),
        finding('off-hours-activity', carol, 'quiet', NOW, { severity: 'low' }),
      ],
      new Date(NOW),
    )
    const summary = await alerter.runOnce(new Date(NOW))
    expect([summary.immediate, summary.suppressed, summary.unrouted]).toEqual([4, 1, 1])
    expect(smtp.received.map((r) => [r.to[0], r.mail.subject]).sort()).toEqual([
      // Her incident without the alert the pen-test rule silenced.
      ['iam-team@example.com', '[trailwatch] MEDIUM carol: stale-access-key (+1)'],
      ['prod@example.com', '[trailwatch] HIGH 444455556666: cross-account-assume-role'],
      ['secops@example.com', '[trailwatch] HIGH 444455556666: cross-account-assume-role'],
      ['secops@example.com', '[trailwatch] HIGH carol-b: unusual-source-ip 198.51.100.1'],
    ])
    expect(await suppressedCounts(store, new Date(NOW - 86_400_000), new Date(NOW + 1))).toEqual(new Map([[expect.any(String), 1]]))

    // The rule has expired: the same kind of alert is emailed.
    await recordAt(store, [finding('unusual-source-ip', carol, 'pentest-2', NOW + 7_200_000)], new Date(NOW + 7_200_000))
    expect((await alerter.runOnce(new Date(NOW + 7_200_000))).immediate).toBe(1)
  })
})

describe('posture findings', () => {
  it('are told once, in an email of their own that links to their pages, never as incidents; an accepted one is told to nobody', async () => {
    const settings = settingsFor({ SMTP_URL: smtp.url, TRAILWATCH_CONSOLE_URL: 'https://trailwatch.example.com/' })
    const alerter = new Alerter({ store, settings, principals: NOBODY_KNOWN, transport, logger: testLogger })
    const posture = (principal: string, key: string, severity: Finding['severity'], title: string): Finding =>
      finding('iam-posture', `arn:aws:iam::${ACCOUNT}:${principal}`, key, NOW, { kind: 'posture', severity, title, why: `${title}: the practice says otherwise.`, runbook: ['Fix it.', 'Then check again.'] })
    const rootKey = posture('root', 'root-key', 'critical', 'The root user has an active access key')
    const bob = posture('user/bob', 'bob-admin', 'high', 'User bob holds administrator access')
    const vendor = posture('role/vendor-backup', 'vendor', 'medium', 'Role vendor-backup trusts account 444455556666')
    await recordAt(store, [rootKey, bob, vendor, finding('unusual-source-ip', carol, 'abroad', NOW)], new Date(NOW))
    await decidePosture(store, vendor.alertId, { action: 'accepted', actor: 'pat', reason: 'the backup vendor, reviewed each quarter', until: new Date(NOW + 30 * 86_400_000) }, new Date(NOW))

    const summary = await alerter.runOnce(new Date(NOW + 60_000))
    expect([summary.immediate, summary.digest, summary.suppressed]).toEqual([1, 2, 1])
    expect(smtp.received).toHaveLength(2)
    const told = smtp.received.find((r) => r.mail.subject?.startsWith('[trailwatch] posture'))?.mail
    expect(told?.subject).toBe('[trailwatch] posture: 2 new findings, the worst CRITICAL')
    const text = told?.text ?? ''
    // Worst first, each with why, the first step of its fix and its page; the accepted one left out.
    expect(text.indexOf('CRITICAL The root user has an active access key')).toBeLessThan(text.indexOf('HIGH User bob holds administrator access'))
    expect(text).toContain('  Why: The root user has an active access key: the practice says otherwise.\n  Fix: Fix it.\n  https://trailwatch.example.com/posture/iam-posture-root-key')
    expect(text).not.toContain('vendor-backup')
    expect((await listIncidents(store, { from: new Date(NOW - 86_400_000), to: new Date(NOW + 60_000) })).map((i) => i.detectors)).toEqual([['unusual-source-ip']])

    // The root key used again since: a new occurrence of the same finding, already told.
    await recordAt(store, [{ ...rootKey, lastSeen: new Date(NOW + 3_600_000).toISOString() }], new Date(NOW + 3_600_000))
    const later = await alerter.runOnce(new Date(NOW + 3_660_000))
    expect([later.sent.length, later.unrouted]).toEqual([0, 1])
  })
})

describe('automatic containment', () => {
  it('contains the identity of a named detector’s alert once per incident, never a protected one, and emails how to undo it', async () => {
    const moto = await startMoto({ account: ACCOUNT })
    onTestFinished(() => moto.stop())
    const saved = { ...process.env }
    onTestFinished(() => {
      process.env = saved
    })
    Object.assign(process.env, moto.env)
    const iam = new IAMClient({})
    for (const user of ['carol', 'break-glass']) await iam.send(new CreateUserCommand({ UserName: user }))
    const settings = settingsFor({ SMTP_URL: smtp.url, TRAILWATCH_CONTAIN_AUTO: 'unusual-source-ip=quarantine', TRAILWATCH_CONTAIN_PROTECTED: 'arn:aws:iam::*:user/break-glass' })
    const alerter = new Alerter({ store, settings, principals: NOBODY_KNOWN, transport, logger: testLogger })
    const glass = `arn:aws:iam::${ACCOUNT}:user/break-glass`
    await recordAt(
      store,
      [
        finding('unusual-source-ip', carol, 'abroad', NOW),
        finding('unusual-source-ip', carol, 'abroad-again', NOW + 60_000),
        // Below the severity automatic containment waits for.
        finding('unusual-source-ip', `arn:aws:iam::${ACCOUNT}:user/dave`, 'dave', NOW, { severity: 'medium' }),
        finding('unusual-source-ip', glass, 'glass', NOW),
      ],
      new Date(NOW + 60_000),
    )
    await alerter.runOnce(new Date(NOW + 120_000))
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'carol' }))).PolicyNames).toEqual(['trailwatch-quarantine'])
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'break-glass' }))).PolicyNames).toEqual([])
    const kept = await listContainments(store)
    expect(kept.map((c) => [c.target, c.actor, c.steps.map((s) => s.status)]).sort()).toEqual([
      [glass, 'trailwatch (automatic)', ['refused']],
      [carol, 'trailwatch (automatic)', ['applied']],
    ])
    const told = smtp.received.find((r) => r.mail.subject === '[trailwatch] contained carol automatically: quarantine')?.mail.text ?? ''
    const id = kept.find((c) => c.target === carol)?.id ?? ''
    expect(told).toContain(`Undo: trailwatch contain undo ${id} --reason WHY`)
    expect(smtp.received.map((r) => r.mail.subject)).toContain('[trailwatch] automatic quarantine of break-glass not done')

    // carol again, later in the same incident: contained already, nothing more is done.
    await recordAt(store, [finding('unusual-source-ip', carol, 'abroad-third', NOW + 600_000)], new Date(NOW + 600_000))
    const before = smtp.received.length
    await alerter.runOnce(new Date(NOW + 660_000))
    expect(await listContainments(store)).toHaveLength(2)
    // The incident's own thread tells the containment as news; no second containment email.
    const later = smtp.received.slice(before).map((r) => r.mail.subject ?? '')
    expect(later.filter((s) => s.startsWith('[trailwatch] contained') || s.startsWith('[trailwatch] automatic'))).toEqual([])
    expect(later).toContainEqual(expect.stringMatching(/^\[trailwatch\] HIGH carol: update: trailwatch \(automatic\): containment ctn-/))
  }, 60_000)
})

describe('delivery', () => {
  it('retries through a spell of 4xx answers and delivers each alert exactly once', async () => {
    let refusals = 0
    const recoverAt = Date.now() + 1500
    smtp.judge = () => {
      if (Date.now() >= recoverAt) return undefined
      refusals++
      return { code: 451, message: 'try again later' }
    }
    await recordAt(store, ['a', 'b', 'c'].map((who) => finding('unusual-source-ip', `${carol}-${who}`, who, NOW)), new Date(NOW))
    const alerter = new Alerter({ store, settings: { ...settingsFor({}), pollMs: 100, retryMs: 200 }, principals: NOBODY_KNOWN, transport, logger: testLogger })
    alerter.start()
    await expect.poll(async () => (await notificationsWithStatus(store, ['sent'])).length, { timeout: 20_000, interval: 200 }).toBe(3)
    await alerter.stop()

    expect(refusals).toBeGreaterThanOrEqual(3)
    const ids = smtp.received.map((r) => r.mail.messageId).sort()
    expect(ids).toHaveLength(3)
    expect(new Set(ids).size).toBe(3)
    const sent = await notificationsWithStatus(store, ['sent'])
    expect(sent.every((n) => n.attempts >= 2)).toBe(true)
  })

  it('cycles at once when woken, without waiting for its poll', async () => {
    const alerter = new Alerter({ store, settings: { ...settingsFor({}), pollMs: 3_600_000 }, principals: NOBODY_KNOWN, transport, logger: testLogger })
    alerter.start()
    // The first cycle finds nothing (a second is plenty on an empty store); the next would be an hour away.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await recordAt(store, [finding('unusual-source-ip', carol, 'woken', NOW)], new Date(NOW))
    alerter.wake()
    await expect.poll(async () => (await notificationsWithStatus(store, ['sent'])).length, { timeout: 20_000, interval: 200 }).toBe(1)
    await alerter.stop()
    expect(smtp.received).toHaveLength(1)
  })

  it('records a permanent refusal as failed, with the server’s answer', async () => {
    smtp.judge = () => ({ code: 550, message: 'mailbox unavailable' })
    await recordAt(store, [finding('unusual-source-ip', carol, 'x', NOW)], new Date(NOW))
    const summary = await new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger }).runOnce(new Date(NOW))
    expect(summary.failed).toHaveLength(1)
    const [failed] = await notificationsWithStatus(store, ['failed'])
    expect(failed?.attempts).toBe(1)
    expect(failed?.error).toMatch(/550/)
    expect(smtp.received).toHaveLength(0)
  })

  it('puts back, uncounted, the messages it had not tried when stopped within a cycle', async () => {
    await recordAt(store, ['a', 'b', 'c'].map((who) => finding('unusual-source-ip', `${carol}-${who}`, who, NOW)), new Date(NOW))
    const alerter = new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport, logger: testLogger })
    smtp.onAccepted = () => void alerter.stop()
    const summary = await alerter.runOnce(new Date(NOW))
    expect(summary.sent).toHaveLength(1)
    expect(smtp.received).toHaveLength(1)
    const untried = await notificationsWithStatus(store, ['pending', 'sending'])
    expect(untried.map((n) => [n.status, n.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
    ])
  })

  it('writes .eml files to the outbox when no SMTP server is configured', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-outbox-'))
    const outbox = outboxTransport(dir)
    await recordAt(store, [finding('root-account-usage', `arn:aws:iam::${ACCOUNT}:root`, 'root', NOW, { severity: 'critical' })], new Date(NOW))
    const summary = await new Alerter({ store, settings: settingsFor({}), principals: NOBODY_KNOWN, transport: outbox, logger: testLogger }).runOnce(new Date(NOW))
    expect(summary.sent).toHaveLength(1)
    const files = readdirSync(dir)
    expect(files).toEqual([expect.stringMatching(/^20261120T120000-alert-[0-9a-f]{12}\.eml$/)])
    const mail = await simpleParser(readFileSync(path.join(dir, files[0] as string)))
    expect(mail.subject).toBe('[trailwatch] CRITICAL root: root-account-usage')
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe('secops@example.com')
  })

  it('retries an outbox it cannot write, and delivers once the directory can be made', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'trailwatch-outbox-'))
    // A file where the outbox's parent directory should be: mkdir fails until it is removed.
    writeFileSync(path.join(parent, 'blocked'), '')
    const dir = path.join(parent, 'blocked', 'outbox')
    const alerter = new Alerter({ store, settings: settingsFor({ TRAILWATCH_SMTP_RETRY_MS: '1000' }), principals: NOBODY_KNOWN, transport: outboxTransport(dir), logger: testLogger })
    await recordAt(store, [finding('root-account-usage', `arn:aws:iam::${ACCOUNT}:root`, 'outbox-blocked', NOW, { severity: 'critical' })], new Date(NOW))
    const first = await alerter.runOnce(new Date(NOW))
    expect([first.sent, first.failed]).toEqual([[], []])
    expect(first.retrying[0]?.error).toMatch(/^cannot write .*blocked\/outbox\/.*\.eml: ENOTDIR/)

    rmSync(path.join(parent, 'blocked'))
    const second = await alerter.runOnce(new Date(NOW + 60_000))
    expect(second.sent).toHaveLength(1)
    expect(readdirSync(dir)).toHaveLength(1)
  })
})

describe('transport security', () => {
  it('speaks TLS from the first byte (smtps) and upgrades with STARTTLS, trusting only the CA it is given', async () => {
    const certificate = selfSignedCertificate()
    const ca = readFileSync(certificate.certFile)
    const settings = settingsFor({})
    for (const implicit of [true, false]) {
      await recordAt(store, [finding('unusual-source-ip', `${carol}-${String(implicit)}`, String(implicit), NOW)], new Date(NOW))
      const server = await startSmtpServer({ tls: { ...certificate, implicit } })
      const secured = smtpTransport(server.url, { ca })
      const summary = await new Alerter({ store, settings, principals: NOBODY_KNOWN, transport: secured, logger: testLogger }).runOnce(new Date(NOW))
      secured.close()
      await server.close()
      expect(server.url.startsWith(implicit ? 'smtps://' : 'smtp://')).toBe(true)
      expect(summary.sent).toHaveLength(1)
      expect(server.received.map((r) => r.secure)).toEqual([true])
    }

    // Without the CA, the server's certificate is not trusted and nothing is sent in the clear instead.
    const server = await startSmtpServer({ tls: { ...certificate, implicit: true } })
    const untrusting = smtpTransport(server.url)
    await recordAt(store, [finding('unusual-source-ip', `${carol}-z`, 'z', NOW)], new Date(NOW))
    const summary = await new Alerter({ store, settings, principals: NOBODY_KNOWN, transport: untrusting, logger: testLogger }).runOnce(new Date(NOW))
    untrusting.close()
    await server.close()
    expect(summary.sent).toHaveLength(0)
    expect(summary.retrying[0]?.error).toMatch(/certificate/i)
    expect(server.received).toHaveLength(0)
    expect(server.errors.map((e) => e.message).join()).toMatch(/TLS/)
  })
})
