import cron from 'node-cron'
import { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { recordFindings, type DetectedFindings } from '../src/incidents/record.js'
import type { Settings } from '../src/settings.js'
import { clickHouseTime } from '../src/time.js'
import { durationMs, type DetectionWindow, type Detector, type Finding } from './define.js'
import { replayDetector, replaysAtOnce, replayTogether, runDetector } from './engine.js'
import type { CompiledCondition } from './sigma.js'

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
  const runs: DetectionWindow[] = []
  let watermark = from
  for (const tick of minutesMatching(detector.schedule, from, to)) {
    if (tick % REPLAY_STEP_MS !== 0 && tick - watermark.getTime() < REPLAY_STEP_MS) continue
    runs.push(scheduledWindow(detector, new Date(tick), watermark, latenessMs, Infinity))
    watermark = new Date(tick)
  }
  if (watermark.getTime() < to.getTime()) runs.push(scheduledWindow(detector, to, watermark, latenessMs, Infinity))
  return runs
}

// Most detectors share a handful of schedules, and matching a minute costs the cron parser more than all else a day's runs take.
// A replay asks for one range: a few ranges' minutes are kept, a year of minutes being 4 MB.
const matchingMinutes = new Map<string, number[]>()
const KEPT_RANGES = 16

/** The whole minutes in (from, to] a cron schedule falls on, worked out once per schedule and range. */
function minutesMatching(schedule: string, from: Date, to: Date): number[] {
  const key = `${schedule}|${String(from.getTime())}|${String(to.getTime())}`
  const known = matchingMinutes.get(key)
  if (known) return known
  const task = cron.createTask(schedule, () => undefined, { timezone: 'UTC' })
  try {
    const minutes: number[] = []
    for (let tick = Math.floor(from.getTime() / MINUTE) * MINUTE + MINUTE; tick <= to.getTime(); tick += MINUTE) if (task.match(new Date(tick))) minutes.push(tick)
    if (matchingMinutes.size >= KEPT_RANGES) matchingMinutes.clear()
    matchingMinutes.set(key, minutes)
    return minutes
  } finally {
    void task.destroy()
  }
}

export interface RangeOptions {
  signal?: AbortSignal
  onProgress?: (runsDone: number, runsTotal: number) => void
  /** Store what is found, as detected at each run's end, and put it into incidents (default); a backtest looks without touching. */
  record?: boolean
  /** Every window in a query of its own, even for a detector that can answer for many: the oracle replay is held to. */
  runByRun?: boolean
  /**
   * Go on from where a replay of exactly this range stopped, each detector from the end of the last
   * day of windows it stored; told how many of the runs that skips. Only with `record`.
   */
  resume?: (runsDone: number, runsTotal: number) => void
}

/**
 * Every detector over a range of history, with the windows the scheduler's runs would have had.
 * A detector that replays at once answers for a day of its windows in one query, unless `runByRun`;
 * the single-event rules with the same windows answer together, in one scan of the day's events.
 * Each day's findings are stored as it is done (unless not to `record`), and with `resume` marked
 * done. Returns one finding per alert: the latest, with the first sighting of all. An aborted signal
 * ends it between two queries, with the signal's reason thrown, after storing what was found.
 */
export async function detectRange(store: Store, detectors: Detector[], range: { from: Date; to: Date }, settings: Settings, latenessMs: number, options: RangeOptions = {}): Promise<Finding[]> {
  const { signal, onProgress, record = true, runByRun = false, resume } = options
  const alerts = new Map<string, Finding>()
  let runs = detectors.map((detector) => ({ detector, windows: scheduledRuns(detector, range.from, range.to, latenessMs) }))
  const total = runs.reduce((sum, { windows }) => sum + windows.length, 0)
  let done = 0
  if (resume && record) {
    const through = await progressOf(store, range, runs)
    runs = runs.map(({ detector, windows }) => ({ detector, windows: windows.filter((w) => w.now.getTime() > (through.get(detector.id) ?? -Infinity)) }))
    done = total - runs.reduce((sum, { windows }) => sum + windows.length, 0)
    resume(done, total)
  }
  let batches: DetectedFindings[] = []
  const found = (findings: Finding[], window: DetectionWindow) => {
    batches.push({ findings, detectedAt: window.now })
    for (const finding of findings) {
      const earlier = alerts.get(finding.alertId)
      alerts.set(finding.alertId, earlier && earlier.firstSeen < finding.firstSeen ? { ...finding, firstSeen: earlier.firstSeen } : finding)
    }
  }
  // What was found is kept as it is found: a rerun finds it again and stores it once.
  const keep = async () => {
    if (record) await recordFindings(store, batches, range.to)
    batches = []
  }
  try {
    for (const unit of replayUnits(runs, runByRun)) {
      const ofUnit = unit.kind === 'scan' ? unit.rules : [unit.detector]
      for (let start = 0; start < unit.windows.length; start += WINDOWS_PER_QUERY) {
        const chunk = unit.windows.slice(start, start + WINDOWS_PER_QUERY)
        if (unit.kind === 'runs') {
          for (const window of chunk) {
            signal?.throwIfAborted()
            onProgress?.(done++, total)
            found(await runDetector(store, unit.detector, window, settings), window)
          }
        } else {
          // The same findings as the runs, in a query instead of hundreds.
          signal?.throwIfAborted()
          onProgress?.(done, total)
          const perDetector = unit.kind === 'scan' ? await replayTogether(store, unit.rules, chunk, settings) : [await replayDetector(store, unit.detector, chunk, settings)]
          for (const perWindow of perDetector) for (const [i, window] of chunk.entries()) found(perWindow[i] ?? [], window)
          done += chunk.length * ofUnit.length
        }
        await keep()
        if (resume && record) await markProgress(store, range, ofUnit.map((detector) => [detector.id, chunk.at(-1)?.now ?? range.to]))
      }
    }
  } finally {
    await keep()
  }
  return [...alerts.values()]
}

/** A replay's queries: single-event rules in one scan, a detector's windows in one query, or its runs one by one. */
type ReplayUnit = { windows: DetectionWindow[] } & (
  | { kind: 'scan'; rules: (Detector & { eachEvent: CompiledCondition })[] }
  | { kind: 'query'; detector: Detector & { replaySql: string } }
  | { kind: 'runs'; detector: Detector }
)

const singleEvent = (detector: Detector): detector is Detector & { eachEvent: CompiledCondition } => detector.eachEvent !== undefined

/** The single-event rules with the same windows in one scan, each other detector alone (run by run when it cannot or `runByRun` says to). */
function replayUnits(runs: { detector: Detector; windows: DetectionWindow[] }[], runByRun: boolean): ReplayUnit[] {
  const units: ReplayUnit[] = []
  const scans = new Map<string, ReplayUnit & { kind: 'scan' }>()
  for (const { detector, windows } of runs) {
    if (runByRun || !replaysAtOnce(detector)) units.push({ kind: 'runs', detector, windows })
    else if (!singleEvent(detector)) units.push({ kind: 'query', detector, windows })
    else {
      // A schedule and window make the runs; of those, a resumed replay has the last `length` left.
      const key = `${detector.schedule}|${detector.window}|${detector.lookback}|${String(windows.length)}`
      const scan = scans.get(key) ?? { kind: 'scan', rules: [], windows }
      if (!scans.has(key)) units.push(scan)
      scans.set(key, scan)
      scan.rules.push(detector)
    }
  }
  return units
}

/**
 * How far each detector got in an unfinished replay of this range. A replay with nothing left to
 * do, or with nothing done, starts afresh: its progress is set back to the range's start.
 */
async function progressOf(store: Store, range: { from: Date; to: Date }, runs: { detector: Detector; windows: DetectionWindow[] }[]): Promise<Map<string, number>> {
  const rows = await selectRows(
    store,
    `SELECT detector, toUnixTimestamp64Milli(argMax(through, written_at)) AS through FROM replay_progress
     WHERE range_from = {from:DateTime64(3)} AND range_to = {to:DateTime64(3)} GROUP BY detector`,
    { from: clickHouseTime(range.from.getTime()), to: clickHouseTime(range.to.getTime()) },
    z.object({ detector: z.string(), through: z.coerce.number() }),
  )
  const through = new Map(rows.map((row) => [row.detector, row.through]))
  const left = (run: { detector: Detector; windows: DetectionWindow[] }) => (run.windows.at(-1)?.now.getTime() ?? -Infinity) > (through.get(run.detector.id) ?? -Infinity)
  const started = runs.some((run) => (through.get(run.detector.id) ?? -Infinity) > range.from.getTime())
  if (started && runs.some(left)) return through
  await markProgress(store, range, runs.map(({ detector }) => [detector.id, range.from]))
  return new Map()
}

async function markProgress(store: Store, range: { from: Date; to: Date }, through: [string, Date][]): Promise<void> {
  const [rangeFrom, rangeTo] = [clickHouseTime(range.from.getTime()), clickHouseTime(range.to.getTime())]
  await store.client.insert({
    table: 'replay_progress',
    values: through.map(([detector, at]) => ({ range_from: rangeFrom, range_to: rangeTo, detector, through: clickHouseTime(at.getTime()) })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}
