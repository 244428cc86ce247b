import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DETECTORS } from '../detectors/registry.js'
import { atLeast } from '../detectors/define.js'
import { runDetector } from '../detectors/engine.js'
import { detectRange, LATENESS_MS } from '../detectors/replay.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { listIncidents } from '../src/incidents/incidents.js'
import { simulateHarbour } from '../src/simulate/harbour.js'
import { officeWorkingTime, simulateOrganisation, type Organisation } from '../src/simulate/organisation.js'
import { ingestRecords } from './helpers/events.js'
import { openTestStore, recordAt, type TestStore } from './helpers/store.js'
import { testSettings } from './helpers/detect.js'

// Thursday, 06:00 in Berlin, 00:00 in New York, 10:30 in Kolkata.
const END = Date.parse('2026-11-19T05:00:00Z')

let store: TestStore
let organisation: Organisation
beforeAll(async () => {
  store = await openTestStore()
  organisation = simulateOrganisation({ days: 21, end: END, seed: 7, traps: true })
  await ingestRecords(store, organisation.records)
  await insertCredentialReport(store, parseCredentialReport(organisation.credentialReport), END, END)
}, 120_000)
afterAll(async () => {
  await store.close()
})

describe('three weeks of an organisation, with incidents and traps injected', () => {
  it.each([
    ['with each office’s time zone configured', testSettings({}, officeWorkingTime())],
    ['with nothing configured: each person’s hours learned from their history', testSettings()],
  ])('finds every incident, and nothing else worth an email, %s', async (_, settings) => {
    const findings = []
    // What `trailwatch run` runs with nothing configured: the detectors and the built-in rules.
    for (const detector of [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]) {
      // The last day, where every incident and every trap is.
      findings.push(...(await runDetector(store, detector, { now: new Date(END), from: new Date(END - 24 * 3_600_000) }, settings)))
    }
    const emailed = findings.filter((f) => atLeast(f.severity, 'medium')).map((f) => [f.detector, f.principal, f.severity])
    expect(emailed.sort()).toEqual(
      [
        ['off-hours-activity', 'arn:aws:iam::111122223333:user/anna', 'medium'],
        ['stale-access-key', 'arn:aws:iam::111122223333:user/legacy-etl', 'medium'],
        ['unusual-source-ip', 'arn:aws:iam::111122223333:role/app-runtime', 'high'],
        ['unusual-source-ip', 'arn:aws:iam::111122223333:user/anna', 'critical'],
      ].sort(),
    )
    expect(new Set(emailed.map(([, principal]) => principal))).toEqual(new Set(organisation.incidents.map((i) => i.principal)))
    // Each trap is in the window, and none is emailed.
    expect(organisation.traps.map((t) => Date.parse(t.at) >= END - 24 * 3_600_000)).toEqual(organisation.traps.map(() => true))
    expect(organisation.traps.filter((t) => emailed.some(([, principal]) => principal === t.principal))).toEqual([])
  })

  it('keeps unrelated people’s alerts in separate incidents, one per injected incident', async () => {
    const settings = testSettings({}, officeWorkingTime())
    const findings = []
    for (const detector of [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]) {
      findings.push(...(await runDetector(store, detector, { now: new Date(END), from: new Date(END - 24 * 3_600_000) }, settings)))
    }
    await recordAt(store, findings, new Date(END))
    const incidents = await listIncidents(store, { from: new Date(END - 24 * 3_600_000), to: new Date(END) })
    // Every incident is about one identity: nobody's alerts were tied to anyone else's.
    expect(incidents.filter((i) => i.principals.length > 1).map((i) => i.principals)).toEqual([])
    // Each injected incident is its own, whatever else (quiet signals, traps) each person has; the
    // stale key is posture, kept apart from incidents.
    const posture = new Set(DETECTORS.filter((d) => d.kind === 'posture').map((d) => d.id))
    const isPosture = (i: { detectors: string[] }) => i.detectors.every((d) => posture.has(d))
    const injected = [...new Set(organisation.incidents.filter((i) => !isPosture(i)).map((i) => i.principal))]
    const holding = injected.map((principal) => incidents.filter((i) => i.principals.includes(principal)).map((i) => i.id))
    expect(holding.map((ids) => ids.length)).toEqual(injected.map(() => 1))
    expect(new Set(holding.flat()).size).toBe(injected.length)
    const stale = organisation.incidents.filter(isPosture).map((i) => i.principal)
    expect(stale).toEqual(['arn:aws:iam::111122223333:user/legacy-etl'])
    expect(incidents.filter((i) => i.principals.some((p) => stale.includes(p)))).toEqual([])
  })
})

describe('six weeks of a second organisation: four offices, three clock changes, CI on OIDC, a weekly scan, a rota, a helpdesk', () => {
  // Tuesday 06:00 UTC: the day judged holds Monday's scan.
  const end = Date.parse('2026-11-10T06:00:00Z')
  let harbour: TestStore
  let simulated: Organisation
  beforeAll(async () => {
    harbour = await openTestStore()
    simulated = simulateHarbour({ days: 42, end, seed: 7 })
    await ingestRecords(harbour, simulated.records)
  }, 120_000)
  afterAll(async () => {
    await harbour.close()
  })

  it('finds every incident with nothing configured, and emails none of its ordinary day', async () => {
    // The last day as the scheduler would have run it, window by window (as eval:detect does).
    const detectors = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
    const findings = await detectRange(harbour, detectors, { from: new Date(end - 24 * 3_600_000), to: new Date(end) }, testSettings(), LATENESS_MS)
    const emailed = findings.filter((f) => atLeast(f.severity, 'medium'))
    for (const incident of simulated.incidents) {
      expect(emailed.filter((f) => f.principal === incident.principal).map((f) => f.detector), incident.kind).toEqual(expect.arrayContaining(incident.detectors))
    }
    // What is emailed is about an incident, within the hour of it.
    const aboutIncidents = (f: (typeof emailed)[number]) => simulated.incidents.some((i) => i.principal === f.principal && Math.abs(Date.parse(f.firstSeen) - Date.parse(i.at)) <= 3_600_000)
    expect(emailed.filter((f) => !aboutIncidents(f)).map((f) => f.title)).toEqual([])
    // liam's night is judged on Adelaide's clock, found from his hours across its change to summer time.
    expect(emailed.find((f) => f.detector === 'off-hours-activity' && f.principal.endsWith('/liam'))?.title).toMatch(/ Australia\/Adelaide \(inferred from their hours\)/)
  })
})
