import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Detector } from '../detectors/define.js'
import { DETECTORS } from '../detectors/registry.js'
import { detectRange, LATENESS_MS } from '../detectors/replay.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { simulateOrganisation } from '../src/simulate/organisation.js'
import { testSettings } from './helpers/detect.js'
import { ingestRecords } from './helpers/events.js'
import { openTestStore, queryRows, type TestStore } from './helpers/store.js'

const END = Date.parse('2026-11-19T05:00:00Z')
const DAY = 86_400_000
const range = { from: new Date(END - 2 * DAY + 17_000), to: new Date(END) }
// Baselines, first-seen values, counts, and a detector replayed run by run.
const detectors: Detector[] = [
  ...DETECTORS.filter((d) => ['unusual-source-ip', 'off-hours-activity', 'root-account-usage', 'iam-posture'].includes(d.id)),
  ...loadRuleFiles([builtInRulesDir()]).rules.filter((rule) => rule.type !== 'sigma').map((rule) => rule.detector),
]

let uninterrupted: TestStore
let stopped: TestStore
beforeAll(async () => {
  ;[uninterrupted, stopped] = await Promise.all([openTestStore(), openTestStore()])
  // Past the learning of first-seen rules (7 days) and of people's working days (10).
  const { records } = simulateOrganisation({ days: 12, end: END, seed: 11, traps: true })
  for (const store of [uninterrupted, stopped]) await ingestRecords(store, records)
}, 120_000)
afterAll(async () => {
  await Promise.all([uninterrupted.close(), stopped.close()])
})

/** The alerts a store holds, and which of them share an incident. */
async function outcome(store: TestStore): Promise<{ alerts: unknown[]; incidents: string[][] }> {
  const alerts = await queryRows(store, 'SELECT alert_id, detector, severity, title, first_seen, last_seen, evidence FROM alerts FINAL ORDER BY alert_id')
  const members = await queryRows<{ alerts: string[] }>(store, 'SELECT arraySort(groupArray(alert_id)) AS alerts FROM incident_members FINAL GROUP BY incident_id')
  return { alerts, incidents: members.map((m) => m.alerts).sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '')) }
}

it('goes on from where a stopped replay stopped, and ends with the alerts and incidents of one that never stopped', async () => {
  const settings = testSettings()
  await detectRange(uninterrupted, detectors, range, settings, LATENESS_MS, { resume: () => undefined })
  const whole = await outcome(uninterrupted)
  expect(whole.alerts.length).toBeGreaterThan(3)

  const stop = new AbortController()
  const halfway = detectRange(stopped, detectors, range, settings, LATENESS_MS, {
    signal: stop.signal,
    onProgress: (done, total) => {
      if (done > total / 2) stop.abort(new Error('stopped halfway'))
    },
    resume: () => undefined,
  })
  await expect(halfway).rejects.toThrow('stopped halfway')
  const resumed: number[][] = []
  await detectRange(stopped, detectors, range, settings, LATENESS_MS, { resume: (done, total) => resumed.push([done, total]) })
  const [done = 0, total = 0] = resumed[0] ?? []
  expect(done).toBeGreaterThan(total / 2)
  expect(done).toBeLessThan(total)
  expect(await outcome(stopped)).toEqual(whole)

  // A replay that finished is not gone on from: the same command replays the range again.
  const again: number[][] = []
  await detectRange(stopped, detectors, range, settings, LATENESS_MS, { resume: (runsDone, runsTotal) => again.push([runsDone, runsTotal]) })
  expect(again).toEqual([[0, total]])
  expect(await outcome(stopped)).toEqual(whole)
}, 300_000)
