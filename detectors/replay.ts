import cron from 'node-cron'
import type { Store } from '../src/clickhouse/client.js'
import { recordFindings, type DetectedFindings } from '../src/incidents/record.js'
import type { Settings } from '../src/settings.js'
import { durationMs, type DetectionWindow, type Detector, type Finding } from './define.js'
import { replayDetector, replaysAtOnce, runDetector } from './engine.js'

const MINUTE = 60_000

/** CloudTrail delivers in about 5 minutes on average and promises nothing: each run looks back this far past the last. */
export const LATENESS_MS = 15 * 60_000

/** The window a scheduled run covers: from the last run's end (less lateness), at least the detector's own window. */
export function scheduledWindow(detector: Detector, now: Date, watermark: Date | undefined, latenessMs: number, maxCatchUpMs: number): { from: Date; now: Date } {
  const own = now.getTime() - durationMs(detector.window)
  const sinceLast = watermark ? watermark.getTime() - latenessMs : own
  return { from: new Date(Math.max(Math.min(own, sinceLast), now.getTime() - maxCatchUpMs)), now }
}

/**
 * Replayed runs are at least this far apart: a schedule of every minute, there for the time to an
 * alert, would make history five times as slow to look at and find nothing more, since each run
 * reaches back past the previous one anyway.
 */
const REPLAY_STEP_MS = 5 * MINUTE

/**
 * The most windows one replay query answers for: a day of runs five minutes apart, so that a query
 * holds a day of events however long the range, and a long replay shows progress and stops between
 * two of them.
 */
const WINDOWS_PER_QUERY = 288

/**
 * The runs the scheduler would have made of a detector over (from, to]: one at each tick of its
 * schedule that falls on the five minutes or five minutes or more after the previous run, each window
 * reaching back to the previous run less the lateness allowance (as if a run had ended at `from`),
 * and a last one at `to` when `to` is not a tick, so the range's end is seen.
 */
export function scheduledRuns(detector: Detector, from: Date, to: Date, latenessMs: number): DetectionWindow[] {
  const schedule = cron.createTask(detector.schedule, () => undefined, { timezone: 'UTC' })
  try {
    const runs: DetectionWindow[] = []
    let watermark = from
    for (let tick = Math.floor(from.getTime() / MINUTE) * MINUTE + MINUTE; tick <= to.getTime(); tick += MINUTE) {
      const due = tick % REPLAY_STEP_MS === 0 || tick - watermark.getTime() >= REPLAY_STEP_MS
      if (!due || !schedule.match(new Date(tick))) continue
      runs.push(scheduledWindow(detector, new Date(tick), watermark, latenessMs, Infinity))
      watermark = new Date(tick)
    }
    if (watermark.getTime() < to.getTime()) runs.push(scheduledWindow(detector, to, watermark, latenessMs, Infinity))
    return runs
  } finally {
    void schedule.destroy()
  }
}

/**
 * Every detector over a range of history, with the windows the scheduler's runs would have had,
 * each run's findings stored as detected at its end and put into incidents as of the range's end,
 * unless told not to `record` them (a backtest looks without touching). A detector that replays at
 * once answers for a day of its windows in one query, unless `runByRun` (the oracle it is held to).
 * Returns one finding per alert: the latest, with the first sighting of all. An aborted signal ends
 * it between two queries, with the signal's reason thrown, after storing what was found.
 */
export async function detectRange(
  store: Store,
  detectors: Detector[],
  range: { from: Date; to: Date },
  settings: Settings,
  latenessMs: number,
  { signal, onProgress, record = true, runByRun = false }: { signal?: AbortSignal; onProgress?: (runsDone: number, runsTotal: number) => void; record?: boolean; runByRun?: boolean } = {},
): Promise<Finding[]> {
  const alerts = new Map<string, Finding>()
  const runs = detectors.map((detector) => ({ detector, windows: scheduledRuns(detector, range.from, range.to, latenessMs) }))
  const total = runs.reduce((sum, { windows }) => sum + windows.length, 0)
  const batches: DetectedFindings[] = []
  let done = 0
  const found = (findings: Finding[], window: DetectionWindow) => {
    batches.push({ findings, detectedAt: window.now })
    for (const finding of findings) {
      const earlier = alerts.get(finding.alertId)
      alerts.set(finding.alertId, earlier && earlier.firstSeen < finding.firstSeen ? { ...finding, firstSeen: earlier.firstSeen } : finding)
    }
  }
  try {
    for (const { detector, windows } of runs) {
      // A detector that can, answers for all its windows in one query: the same findings, a query instead of hundreds.
      if (!runByRun && replaysAtOnce(detector)) {
        for (let start = 0; start < windows.length; start += WINDOWS_PER_QUERY) {
          signal?.throwIfAborted()
          onProgress?.(done, total)
          const chunk = windows.slice(start, start + WINDOWS_PER_QUERY)
          const perWindow = await replayDetector(store, detector, chunk, settings)
          for (const [i, window] of chunk.entries()) found(perWindow[i] ?? [], window)
          done += chunk.length
        }
        continue
      }
      for (const window of windows) {
        signal?.throwIfAborted()
        onProgress?.(done++, total)
        found(await runDetector(store, detector, window, settings), window)
      }
    }
  } finally {
    // What was found before a stop is kept: a rerun finds it again and stores it once.
    if (record) await recordFindings(store, batches, range.to)
  }
  return [...alerts.values()]
}
