import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Detector } from '../detectors/define.js'
import { replayDetector, replaysAtOnce, runDetector } from '../detectors/engine.js'
import { LATENESS_MS, scheduledRuns } from '../detectors/replay.js'
import { builtInRulesDir, checkRulePatterns, loadRuleFiles, rulePaths, type LoadedRule } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { testSettings } from './helpers/detect.js'
import { DATASETS, INVICTUS } from './helpers/datasets.js'
import { ingestRecords, type RawEvent } from './helpers/events.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'

const MINUTE = 60_000

let store: TestStore
let rules: LoadedRule[]
/** Per built-in rule with examples, when its last example happened. */
const lastExample = new Map<string, number>()

beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
  rules = (await checkRulePatterns(store.client, loadRuleFiles([...rulePaths(undefined), path.join(DATASETS, 'sigma-cloudtrail')]))).rules
  // Each built-in rule's examples, matching and not, in an account of its own: what each rule is written to find, and what it must not.
  const records: RawEvent[] = []
  for (const [n, rule] of rules.entries()) {
    if (!rule.file.startsWith(builtInRulesDir())) continue
    const examples = (JSON.parse(readFileSync(rule.file.replace(/\.ya?ml$/, '.examples.json'), 'utf8')) as Record<string, { match?: RawEvent[]; miss?: RawEvent[] }>)[rule.id]
    if (!examples) continue
    const account = String(200_000_000_000 + n)
    const mine = [...(examples.match ?? []), ...(examples.miss ?? [])].map((record, i): RawEvent => ({ ...record, eventID: `${rule.id}-${String(i)}`, recipientAccountId: account }))
    lastExample.set(rule.detector.id, Math.max(...mine.map((record) => Date.parse(String(record.eventTime)))))
    records.push(...mine)
  }
  await ingestRecords(store, records)
}, 120_000)
afterAll(async () => {
  await store.close()
})

/** The scheduler's runs over a range, one by one, against one query for them all. */
async function compare(detector: Detector & { replaySql: string }, from: number, to: number): Promise<number> {
  const settings = testSettings()
  const windows = scheduledRuns(detector, new Date(from), new Date(to), LATENESS_MS)
  const runByRun = []
  for (const window of windows) runByRun.push(await runDetector(store, detector, window, settings))
  expect(await replayDetector(store, detector, windows, settings), detector.id).toEqual(runByRun)
  return runByRun.filter((findings) => findings.length > 0).length
}

it('finds in one query, for every window of a replay, exactly what each of the scheduler’s runs finds alone: every built-in and SigmaHQ rule over an intrusion', async () => {
  const atOnce = rules.map((rule) => rule.detector).filter(replaysAtOnce)
  expect(atOnce.length).toBe(rules.length)
  let windowsWithFindings = 0
  // The hour of the dataset's intrusion, with the scheduler's overlapping windows; the range starts and ends between minutes.
  for (const detector of atOnce) windowsWithFindings += await compare(detector, Date.parse('2023-07-10T11:40:17.250Z'), Date.parse('2023-07-10T12:45:41.500Z'))
  // Not an agreement on nothing: the intrusion trips rules in many windows.
  expect(windowsWithFindings).toBeGreaterThan(20)
}, 600_000)

it('agrees with the runs for every kind of built-in rule over its own examples: thresholds, sequences and first-seen values with their history', async () => {
  const kinds = new Map<string, number>()
  for (const rule of rules) {
    const last = lastExample.get(rule.detector.id)
    if (last === undefined || !replaysAtOnce(rule.detector)) continue
    const found = await compare(rule.detector, last - 50 * MINUTE + 17_250, last + 20 * MINUTE + 41_500)
    if (found > 0) kinds.set(rule.type, (kinds.get(rule.type) ?? 0) + 1)
  }
  // Each kind found something in some window, so each was held to the runs on findings, not on none.
  expect([...kinds.keys()].sort()).toEqual(['first-seen', 'sequence', 'sigma', 'threshold'])
}, 600_000)
