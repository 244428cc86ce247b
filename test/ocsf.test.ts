import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { alertFinding, OCSF_VERSION } from '../src/alerts/ocsf.js'
import { alertsFirstSeenBetween, type StoredAlert } from '../src/alerts/table.js'
import { recordFindings } from '../src/incidents/record.js'
import { inertJson } from '../src/text.js'
import { INVICTUS, STRATUS } from './helpers/datasets.js'
import { testSettings } from './helpers/detect.js'
import { validateDetectionFinding } from './helpers/ocsf-schema.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'
import { WRITTEN_CAPTURES } from './stratus-coverage.js'

const ALL_TIME = { from: 0, to: Date.parse('2030-01-01T00:00:00Z') }

let store: TestStore
let alerts: StoredAlert[]
beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [STRATUS, WRITTEN_CAPTURES, INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
  // What the detectors and the built-in rules find over the invictus hour and the written captures' day.
  const running = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
  for (const now of ['2023-07-10T12:40:00Z', '2026-08-24T18:00:00Z']) {
    const window = { from: new Date(Date.parse(now) - 24 * 3_600_000), now: new Date(now) }
    const findings = []
    for (const detector of running) findings.push(...(await runDetector(store, detector, window, testSettings())))
    await recordFindings(store, [{ findings, detectedAt: window.now }], window.now)
  }
  alerts = []
  for await (const alert of alertsFirstSeenBetween(store, ALL_TIME)) alerts.push(alert)
}, 300_000)
afterAll(async () => {
  await store.close()
})

describe('findings as OCSF Detection Findings', () => {
  it('validates every exported finding against the vendored OCSF schema', () => {
    expect(alerts.length).toBeGreaterThan(30)
    for (const alert of alerts) expect({ alert: alert.alert_id, problems: validateDetectionFinding(alertFinding(alert)) }).toEqual({ alert: alert.alert_id, problems: [] })
  })

  it('says the class, the activity, the severity, ATT&CK, the actor and the resources', () => {
    const alert = alerts.find((a) => a.detector === 'rule:trailwatch-bucket-policy-other-account' && a.account === '123837392027')
    if (!alert) throw new Error('the backdoored bucket policy of the invictus capture was not found')
    const finding = alertFinding(alert)
    expect(finding).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200401,
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      metadata: { version: OCSF_VERSION, uid: alert.alert_id, product: { name: 'trailwatch' } },
      cloud: { provider: 'AWS', account: { uid: '123837392027', type_id: 10 } },
      finding_info: { uid: alert.alert_id, analytic: { uid: 'rule:trailwatch-bucket-policy-other-account', type_id: 1 } },
      actor: { user: { uid: 'arn:aws:iam::123837392027:user/bert-jan', name: 'bert-jan', type_id: 1, account: { uid: '123837392027' } } },
    })
    expect(finding.finding_info).toMatchObject({
      attacks: expect.arrayContaining([
        { technique: { uid: 'T1537' }, tactic: { uid: 'TA0010', name: 'Exfiltration' }, version: '18' },
        { technique: { uid: 'T1098' }, tactic: { uid: 'TA0003', name: 'Persistence' }, version: '18' },
      ]) as unknown,
    })
    expect(finding.resources).toContainEqual(expect.objectContaining({ uid: 'arn:aws:iam::123837392027:user/bert-jan', type: 'iam:user' }))
    expect(finding.time).toBe(Date.parse(alert.detected_at))
  })

  it('names a sub-technique with its technique, and a role as no user of IAM', () => {
    const alert = alerts.find((a) => a.principal.includes(':role/') && a.attack.some((t) => t.includes('.')))
    if (!alert) throw new Error('no alert on a role with a sub-technique')
    const finding = alertFinding(alert) as { actor: { user: { type_id: number } }; finding_info: { attacks: { technique: { uid: string }; sub_technique?: { uid: string } }[] } }
    expect(finding.actor.user.type_id).toBe(99)
    const sub = finding.finding_info.attacks.find((a) => a.sub_technique)
    expect(sub?.sub_technique?.uid.startsWith(`${sub.technique.uid}.`)).toBe(true)
  })

  it('writes an attacker’s direction controls and line separators as escapes, and the finding stays valid', () => {
    const hostile = { ...(alerts[0] as StoredAlert), title: 'bert-jan called \u202eDeleteTrail\u2028on evil', evidence: { note: '<script>alert(1)</script>' } }
    const line = inertJson(alertFinding(hostile))
    expect(line).not.toMatch(/[\u202e\u2028]/)
    expect(line).toContain('\\u202e')
    const parsed = JSON.parse(line) as { message: string }
    expect(parsed.message).toBe(hostile.title)
    expect(validateDetectionFinding(parsed)).toEqual([])
  })

  it('is told apart from what the schema refuses', () => {
    const finding = alertFinding(alerts[0] as StoredAlert)
    expect(validateDetectionFinding({ ...finding, severity_id: 7 })).not.toEqual([])
    expect(validateDetectionFinding({ ...finding, finding_info: { title: 'no uid' } })).not.toEqual([])
    expect(validateDetectionFinding({ ...finding, cloud: undefined })).not.toEqual([])
    expect(validateDetectionFinding({ ...finding, colour: 'red' })).not.toEqual([])
  })

  it('reads a span page by page, each alert once, oldest first', async () => {
    const paged: StoredAlert[] = []
    for await (const alert of alertsFirstSeenBetween(store, ALL_TIME, 7)) paged.push(alert)
    expect(paged.map((a) => a.alert_id)).toEqual(alerts.map((a) => a.alert_id))
    const invictusHour: string[] = []
    for await (const alert of alertsFirstSeenBetween(store, { from: Date.parse('2023-07-10T12:00:00Z'), to: Date.parse('2023-07-10T12:30:00Z') })) invictusHour.push(alert.first_seen)
    expect(invictusHour.length).toBeGreaterThan(0)
    expect(invictusHour.every((t) => t >= '2023-07-10T12:00:00.000Z' && t < '2023-07-10T12:30:00.000Z')).toBe(true)
  })
})
