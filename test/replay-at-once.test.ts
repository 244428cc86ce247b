import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { replayDetector, replaysAtOnce, runDetector } from '../detectors/engine.js'
import { LATENESS_MS, scheduledRuns } from '../detectors/replay.js'
import { checkRulePatterns, loadRuleFiles, rulePaths } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { testSettings } from './helpers/detect.js'
import { DATASETS, INVICTUS } from './helpers/datasets.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
})
afterAll(async () => {
  await store.close()
})

it('finds in one query, for every window of a replay, exactly what each of the scheduler’s runs finds alone: the built-in and SigmaHQ single-event rules', async () => {
  const { rules } = await checkRulePatterns(store.client, loadRuleFiles([...rulePaths(undefined), path.join(DATASETS, 'sigma-cloudtrail')]))
  const atOnce = rules.map((rule) => rule.detector).filter(replaysAtOnce)
  expect(atOnce.length).toBeGreaterThan(60)
  const settings = testSettings()
  let windowsWithFindings = 0
  for (const detector of atOnce) {
    // The hour of the dataset's intrusion, with the scheduler's overlapping windows.
    const windows = scheduledRuns(detector, new Date('2023-07-10T11:40:00Z'), new Date('2023-07-10T12:45:00Z'), LATENESS_MS)
    const runByRun = []
    for (const window of windows) runByRun.push(await runDetector(store, detector, window, settings))
    expect(await replayDetector(store, detector, windows, settings), detector.id).toEqual(runByRun)
    windowsWithFindings += runByRun.filter((findings) => findings.length > 0).length
  }
  // Not an agreement on nothing: the intrusion trips rules in many windows.
  expect(windowsWithFindings).toBeGreaterThan(20)
}, 300_000)
