import type { z } from 'zod'

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

/** One thing a person should look at, before it gets its detector and alert id. */
export interface FindingDraft {
  severity: Severity
  /** Normalised principal ARN, or the account id for a foreign account. */
  principal: string
  account: string
  title: string
  /** ISO 8601. */
  firstSeen: string
  /** ISO 8601. */
  lastSeen: string
  evidence: Record<string, unknown>
  /** What makes two findings the same finding: the same alert, however often it is found. */
  dedupKey: string
}

export interface Finding extends FindingDraft {
  detector: string
  alertId: string
}

export interface DetectorContext {
  /** End of the window (exclusive): time is an argument, never the clock. */
  now: Date
  /** Start of the window. */
  from: Date
}

/**
 * A detector: metadata, parameterised SQL over a window ending at `now`, and the mapping from its
 * rows to findings, side by side in one module (detectors/ID/detector.ts).
 */
export interface Detector<Config extends z.ZodType = z.ZodType, Row extends z.ZodType = z.ZodType> {
  id: string
  title: string
  /** The usual severity; the mapping may raise or lower it per finding. */
  severity: Severity
  /** node-cron expression, in UTC. */
  schedule: string
  /** How far back each run looks; runs overlap by design, deterministic alert ids absorb it. */
  window: string
  /** How much history a baseline spans. */
  lookback: string
  attack: string[]
  runbook: string[]
  config: Config
  sql: string
  /** Query parameters beyond from, now and baselineFrom (= now − lookback). */
  params?: (config: z.output<Config>, context: DetectorContext) => Record<string, unknown>
  row: Row
  toFinding: (row: z.output<Row>, config: z.output<Config>, context: DetectorContext) => FindingDraft | null
}

export function defineDetector<Config extends z.ZodType, Row extends z.ZodType>(detector: Detector<Config, Row>): Detector<Config, Row> {
  return detector
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }

/** '15m', '6h', '30d' to milliseconds. */
export function durationMs(text: string): number {
  const match = /^(\d+)([mhd])$/.exec(text)
  if (!match) throw new Error(`not a duration: ${text} (expected e.g. 15m, 6h, 30d)`)
  return Number(match[1]) * (UNITS[match[2] as string] as number)
}

const ORDER = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>

export function raise(severity: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, ORDER[severity] + steps)] as Severity
}

export function atLeast(severity: Severity, floor: Severity): boolean {
  return ORDER[severity] >= ORDER[floor]
}
