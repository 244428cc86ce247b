import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Detector, Finding } from '../detectors/define.js'
import { replayDetector, replaysAtOnce, replayTogether, runDetector } from '../detectors/engine.js'
import type { CompiledCondition } from '../detectors/sigma.js'
import { DETECTORS } from '../detectors/registry.js'
import { LATENESS_MS, scheduledRuns } from '../detectors/replay.js'
import { checkRulePatterns, loadRuleFiles, rulePaths } from '../detectors/rule-files.js'
import { simulateHarbour } from '../src/simulate/harbour.js'
import { officeWorkingTime, simulateOrganisation } from '../src/simulate/organisation.js'
import { testSettings } from './helpers/detect.js'
import { DATASETS } from './helpers/datasets.js'
import { ingestRecords, type RawEvent } from './helpers/events.js'
import { openTestStore, type TestStore } from './helpers/store.js'

const DAY = 86_400_000
const END = Date.parse('2026-11-10T06:00:00Z')
/** A week of the scheduler's runs, held at a schedule of every four hours: 42 runs per rule, run by run within CI's time. The five-minute runs are held over hours in replay-at-once.test.ts. */
const EVERY_FOUR_HOURS = '0 */4 * * *'
const WEEK = { from: END - 7 * DAY + 17_250, to: END - 41_500 }

let store: TestStore
let detectors: (Detector & { replaySql: string })[]
/** What each detector's runs found over the week, one by one, window by window. */
const found = new Map<Detector, Finding[][]>()

beforeAll(async () => {
  store = await openTestStore()
  // Two organisations' weeks (each after a month of history, so baselines are learnt), incidents and traps planted.
  const records: RawEvent[] = [...simulateOrganisation({ days: 35, end: END, seed: 3, traps: true }).records, ...simulateHarbour({ days: 35, end: END, seed: 5 }).records]
  // One call in twenty arrives late: stored after everything that came later, in parts of its own.
  const late = records.filter((_, i) => i % 20 === 7)
  await ingestRecords(store, records.filter((_, i) => i % 20 !== 7))
  await ingestRecords(store, late)
  const rules = (await checkRulePatterns(store.client, loadRuleFiles([...rulePaths(undefined), path.join(DATASETS, 'sigma-cloudtrail')]))).rules
  detectors = [...DETECTORS, ...rules.map((rule) => rule.detector)].filter(replaysAtOnce).map((detector) => ({ ...detector, schedule: EVERY_FOUR_HOURS }))
}, 300_000)
afterAll(async () => {
  await store.close()
})

/** Each window of the week's runs: one query for all of them against the runs one by one. */
async function compare(chosen: (detector: Detector) => boolean): Promise<void> {
  const settings = testSettings({}, officeWorkingTime())
  for (const detector of detectors.filter(chosen)) {
    const windows = scheduledRuns(detector, new Date(WEEK.from), new Date(WEEK.to), LATENESS_MS)
    const runByRun = []
    for (const window of windows) runByRun.push(await runDetector(store, detector, window, settings))
    expect(await replayDetector(store, detector, windows, settings), detector.id).toEqual(runByRun)
    found.set(detector, runByRun)
  }
}

const builtIn = (detector: Detector): boolean => !detector.id.startsWith('rule:')
const sigma = (detector: Detector): boolean => detector.id.startsWith('rule:') && !detector.id.startsWith('rule:trailwatch-')
/** How many of the detectors chosen found anything over the week. */
const finding = (chosen: (detector: Detector) => boolean): number => [...found].filter(([detector, runs]) => chosen(detector) && runs.flat().length > 0).length

it('finds over a week, window for window, what the built-in detectors’ runs find one by one, late calls among them', async () => {
  await compare(builtIn)
  // Held on findings, not on none: the organisations' incidents trip baselines, counts and single calls.
  expect(finding(builtIn)).toBeGreaterThanOrEqual(6)
}, 900_000)

it('finds over the same week what the built-in and SigmaHQ rules’ runs find one by one, the single-event rules in one scan for them all', async () => {
  await compare((detector) => !builtIn(detector))
  expect(finding((detector) => !builtIn(detector) && !sigma(detector))).toBeGreaterThanOrEqual(2)
  expect(finding(sigma)).toBeGreaterThanOrEqual(5)
  const scanned = detectors.filter((detector) => detector.eachEvent !== undefined) as (Detector & { eachEvent: CompiledCondition })[]
  const windows = scheduledRuns(scanned[0] as Detector, new Date(WEEK.from), new Date(WEEK.to), LATENESS_MS)
  expect(await replayTogether(store, scanned, windows, testSettings({}, officeWorkingTime()))).toEqual(scanned.map((detector) => found.get(detector)))
}, 900_000)
