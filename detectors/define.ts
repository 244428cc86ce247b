import type { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import type { Principals } from '../src/principals.js'
import type { FindingDraft } from '../src/alerts/table.js'
import type { Severity } from '../src/severity.js'
import type { CompiledCondition } from './sigma.js'

export { atLeast, raise, type Severity } from '../src/severity.js'
export { durationMs } from '../src/duration.js'
export type { Finding, FindingDraft } from '../src/alerts/table.js'

export interface DetectionWindow {
  /** End of the window (exclusive): time is an argument, never the clock. */
  now: Date
  /** Start of the window. */
  from: Date
}

export interface DetectorContext extends DetectionWindow {
  /** What the operator said about principals: their time zones and working hours. */
  principals: Principals
}

/**
 * A detector: metadata, parameterised SQL over a window ending at `now`, and the mapping from its
 * rows to findings, side by side in one module (detectors/ID/detector.ts).
 */
export interface Detector<Config extends z.ZodType = z.ZodType, Row extends z.ZodType = z.ZodType> {
  id: string
  title: string
  /**
   * `posture` when what it finds is a state of the accounts (a key past its rotation, a trust in
   * anyone), not an act: its findings are kept on the posture page and told in a posture email, never
   * joined into incidents. Each run finds all of them again, so one no longer found is fixed.
   */
  kind?: 'posture'
  /** The usual severity; the mapping may raise or lower it per finding. */
  severity: Severity
  /** node-cron expression, in UTC. */
  schedule: string
  /** How far back each run looks; runs overlap by design, deterministic alert ids absorb it. */
  window: string
  /**
   * Run on each batch as it is stored (`run`), not only on the schedule: `event` when it judges each
   * event by itself (and baselines before it), so a run over the batch's own events finds what the
   * scheduled run will; `window` when it counts over its window, so the run covers the window
   * ending at the batch's last event.
   */
  immediate?: 'event' | 'window'
  /**
   * The events that can change what it finds, as a condition on one event: a stored batch holding
   * none of them is passed over by the immediate pass (its scheduled runs look all the same).
   */
  touches?: { sql: string; pre?: string | undefined; params: Record<string, unknown> }
  /** How much history a baseline spans. */
  lookback: string
  attack: string[]
  runbook: string[]
  config: Config
  sql: string
  /** Query parameters beyond from, now and baselineFrom (= now − lookback). */
  params?: (config: z.output<Config>, context: DetectorContext) => Record<string, unknown>
  /**
   * Work in the store before the query, with the query's parameters: a first-seen rule brings the
   * history it keeps up to the window. Must be safe to repeat for the same window.
   */
  prepare?: (store: Store, params: Record<string, unknown>, context: DetectorContext) => Promise<void>
  row: Row
  /**
   * The same query over many windows at once, for a replay: given `{froms:Array(DateTime64(3))}`,
   * `{nows:Array(DateTime64(3))}`, `{baselineFroms:Array(DateTime64(3))}`, `{bounds:Array(DateTime64(3))}`
   * (every window's start and end, in order) and `{runs:UInt32}` (and `{from}`, `{now}` spanning them
   * all; see windows.ts), it
   * returns each window's rows with the window's 1-based number in a column `run`. Each window's
   * rows must be exactly what `sql` returns for that window alone. `prepare`, when there is one,
   * runs once before it, over the span of all the windows.
   */
  replaySql?: string
  /**
   * All a single-event rule asks of an event, when that is all: a replay answers for every such
   * rule with the same windows in one scan of the events (event-scan.ts), its `replaySql` being
   * that scan for it alone.
   */
  eachEvent?: CompiledCondition
  /**
   * `sql` for a pass on a stored batch: given `{touchedFrom:DateTime64(3)}` (where the batch's events
   * begin), it returns the rows of `sql` for the groups holding an event from then, and may leave out the rest.
   */
  liveSql?: string
  /** A row is one finding, none, or (for a row that holds a whole snapshot) several. */
  toFinding: (row: z.output<Row>, config: z.output<Config>, context: DetectorContext) => FindingDraft | FindingDraft[] | null
}

export function defineDetector<Config extends z.ZodType, Row extends z.ZodType>(detector: Detector<Config, Row>): Detector<Config, Row> {
  return detector
}
