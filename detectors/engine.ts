import { createHash } from 'node:crypto'
import { identityKind, runbookFor } from '../src/runbook.js'
import { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { textLine } from '../src/text.js'
import { ConfigError, issueLines } from '../src/errors.js'
import type { Settings } from '../src/settings.js'
import { durationMs, type DetectionWindow, type Detector, type DetectorContext, type Finding } from './define.js'
import { clickHouseTime } from '../src/time.js'
import { eventScanSql, ownParameters } from './event-scan.js'
import type { CompiledCondition } from './sigma.js'

/** The same detector and dedup key always give the same alert id: re-runs never double-alert. */
export function alertId(detector: string, dedupKey: string): string {
  return createHash('sha256').update(`${detector}\0${dedupKey}`).digest('hex').slice(0, 32)
}

/** A detector's settings: its defaults, overridden by what the user configured for its id. */
export function detectorConfig(detector: Detector, configured: Record<string, unknown> = {}): unknown {
  const own: unknown = configured[detector.id] ?? {}
  // Whether it runs at all is the registry's to say (findDetectors), not the detector's.
  const settings = typeof own === 'object' && own !== null && !Array.isArray(own) ? Object.fromEntries(Object.entries(own).filter(([key]) => key !== 'enabled')) : own
  const parsed = detector.config.safeParse(settings)
  if (!parsed.success) {
    const problems = issueLines(parsed.error).join('; ')
    throw new ConfigError(`detector ${detector.id}: ${problems}`)
  }
  return parsed.data
}

/** A finding as one line for a terminal: severity, detector, title, with the title's event data made harmless. */
export function findingText(finding: Finding): string {
  return `${finding.severity.toUpperCase().padEnd(8)} ${finding.detector}  ${textLine(finding.title)}`
}

/** A run's context and query parameters: its window, the operator's settings, the detector's own. */
function runParameters(detector: Detector, window: DetectionWindow, settings: Settings): { config: unknown; context: DetectorContext; params: Record<string, unknown> } {
  const config = detectorConfig(detector, settings.detectors)
  const context: DetectorContext = { ...window, principals: settings.principals }
  const baselineFrom = new Date(context.now.getTime() - durationMs(detector.lookback))
  const params = {
    from: clickHouseTime(context.from.getTime()),
    now: clickHouseTime(context.now.getTime()),
    baselineFrom: clickHouseTime(baselineFrom.getTime()),
    ...detector.params?.(config, context),
  }
  return { config, context, params }
}

function findingsOf(detector: Detector, row: unknown, config: unknown, context: DetectorContext): Finding[] {
  return [detector.toFinding(row, config, context) ?? []].flat().map((draft) => ({ ...draft, detector: detector.id, kind: detector.kind ?? 'threat', alertId: alertId(detector.id, draft.dedupKey), attack: detector.attack, runbook: runbookFor(detector.runbook, identityKind(draft.principal, draft.evidence)) }))
}

/**
 * Runs one detector over [from, now) with the operator's settings, and maps its rows to findings.
 * Given `touchedFrom`, where a stored batch's events begin, a detector that can judges only what the batch touched (liveSql).
 */
export async function runDetector(store: Store, detector: Detector, window: DetectionWindow, settings: Settings, touchedFrom?: Date): Promise<Finding[]> {
  const { config, context, params } = runParameters(detector, window, settings)
  await detector.prepare?.(store, params, context)
  const [sql, live] = touchedFrom !== undefined && detector.liveSql !== undefined ? [detector.liveSql, { touchedFrom: clickHouseTime(touchedFrom.getTime()) }] : [detector.sql, {}]
  const rows = await selectRows(store, sql, { ...params, ...live }, detector.row)
  return rows.flatMap((row) => findingsOf(detector, row, config, context))
}

/**
 * Of the detectors that say which events they are made of, those with such an event in the
 * window, read in one pass over its events: a stored batch need not wake a hundred rules to find
 * that none of its events concern them.
 */
export async function touchedDetectors(store: Store, detectors: Detector[], window: DetectionWindow): Promise<Set<Detector>> {
  const gated = detectors.filter((d) => d.touches)
  if (gated.length === 0) return new Set()
  const params: Record<string, unknown> = { from: clickHouseTime(window.from.getTime()), now: clickHouseTime(window.now.getTime()) }
  const conditions = gated.map((detector, i) => {
    const { sql, pre, params: own } = detector.touches as NonNullable<Detector['touches']>
    const rename = (text: string): string => ownParameters(text, own, `d${String(i)}_`, params)
    return `countIf(${pre === undefined ? '' : `(${rename(pre)}) AND `}(${rename(sql)})) > 0`
  })
  const [row] = await selectRows(
    store,
    `SELECT [${conditions.join(', ')}] AS touched FROM events WHERE event_time >= {from:DateTime64(3)} AND event_time < {now:DateTime64(3)}`,
    params,
    z.object({ touched: z.array(z.coerce.number()) }),
  )
  return new Set(gated.filter((_, i) => row?.touched[i] === 1))
}

/** Whether a detector can replay many windows in one query. */
export function replaysAtOnce(detector: Detector): detector is Detector & { replaySql: string } {
  return detector.replaySql !== undefined
}

/**
 * What each of `windows` (in order) would find, in one query: the findings of window i at [i]. A
 * detector that prepares does so once, for the span of all the windows.
 */
export async function replayDetector(store: Store, detector: Detector & { replaySql: string }, windows: DetectionWindow[], settings: Settings): Promise<Finding[][]> {
  const [found = []] = await replayRows(store, [detector], windows, settings, (params) => ({ sql: detector.replaySql, params }))
  return found
}

/** Single-event rules that replay in one scan of the events together: what each would find in each window, [rule][window]. */
export async function replayTogether(store: Store, rules: (Detector & { eachEvent: CompiledCondition })[], windows: DetectionWindow[], settings: Settings): Promise<Finding[][][]> {
  const scan = eventScanSql(rules.map((rule) => rule.eachEvent))
  // The span's bounds, and each rule's own parameters under the names the scan gives them.
  return replayRows(store, rules, windows, settings, ({ from, now }) => ({ sql: scan.sql, params: { from, now, ...scan.params } }))
}

/**
 * The findings of a replay query over `windows` for `detectors`, [detector][window]: each row names
 * its window (`run`, 1-based) and, among several detectors, its detector (`rule`, 1-based).
 */
async function replayRows(
  store: Store,
  detectors: Detector[],
  windows: DetectionWindow[],
  settings: Settings,
  query: (params: Record<string, unknown>) => { sql: string; params: Record<string, unknown> },
): Promise<Finding[][][]> {
  const found: Finding[][][] = detectors.map(() => windows.map(() => []))
  if (windows.length === 0) return found
  const span = { from: new Date(Math.min(...windows.map((w) => w.from.getTime()))), now: new Date(Math.max(...windows.map((w) => w.now.getTime()))) }
  const prepared = []
  for (const detector of detectors) {
    const { config, context, params } = runParameters(detector, span, settings)
    await detector.prepare?.(store, params, context)
    prepared.push({ detector, config, params })
  }
  const lookback = durationMs(detectors[0]?.lookback ?? '0m')
  const runs = {
    froms: windows.map((w) => clickHouseTime(w.from.getTime())),
    nows: windows.map((w) => clickHouseTime(w.now.getTime())),
    baselineFroms: windows.map((w) => clickHouseTime(w.now.getTime() - lookback)),
    bounds: [...new Set(windows.flatMap((w) => [w.from.getTime(), w.now.getTime()]))].sort((a, b) => a - b).map(clickHouseTime),
    runs: windows.length,
  }
  // The first detector's parameters: the span's are the same for all, and a scan names each rule's own.
  const { sql, params } = query(prepared[0]?.params ?? {})
  const Placed = z.looseObject({ run: z.coerce.number().int().min(1).max(windows.length), rule: z.coerce.number().int().min(1).max(detectors.length).optional() })
  for (const row of await selectRows(store, sql, { ...params, ...runs }, Placed)) {
    const own = prepared[(row.rule ?? 1) - 1]
    const window = windows[row.run - 1]
    if (!own || !window) continue
    found[(row.rule ?? 1) - 1]?.[row.run - 1]?.push(...findingsOf(own.detector, own.detector.row.parse(row), own.config, { ...window, principals: settings.principals }))
  }
  return found
}

export async function readWatermark(store: Store, detector: string): Promise<Date | undefined> {
  const [row] = await selectRows(
    store,
    'SELECT toUnixTimestamp64Milli(max(window_end)) AS ms, count() AS n FROM detector_watermarks WHERE detector = {detector:String}',
    { detector },
    z.object({ ms: z.coerce.number(), n: z.coerce.number() }),
  )
  return row && row.n > 0 ? new Date(row.ms) : undefined
}

export async function writeWatermark(store: Store, detector: string, windowEnd: Date, ranAt: Date): Promise<void> {
  await store.client.insert({
    table: 'detector_watermarks',
    values: [{ detector, window_end: clickHouseTime(windowEnd.getTime()), ran_at: clickHouseTime(ranAt.getTime()) }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}
