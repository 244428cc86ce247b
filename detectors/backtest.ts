import type { Store } from '../src/clickhouse/client.js'
import type { Settings } from '../src/settings.js'
import type { Detector, Finding } from './define.js'
import { detectRange, LATENESS_MS } from './replay.js'

const DAY = 86_400_000

/** What one rule would have found over a range: its findings, and how many were first seen on each UTC day of it. */
export interface Backtest {
  detector: Detector
  /** Every day of the range, oldest first, with the findings first seen on it (0 for none). */
  days: { day: string; findings: number }[]
  findings: Finding[]
}

/**
 * The rules over a range of history, as the scheduler would have run them, without storing what they
 * find unless `record`: what a rule would have raised, before it raises anything.
 */
export async function backtest(
  store: Store,
  rules: Detector[],
  range: { from: Date; to: Date },
  settings: Settings,
  options: { record?: boolean; onProgress?: (runsDone: number, runsTotal: number) => void } = {},
): Promise<Backtest[]> {
  const findings = await detectRange(store, rules, range, settings, LATENESS_MS, { record: options.record ?? false, onProgress: options.onProgress })
  const days: string[] = []
  for (let day = Math.floor(range.from.getTime() / DAY) * DAY; day < range.to.getTime(); day += DAY) days.push(new Date(day).toISOString().slice(0, 10))
  return rules.map((detector) => {
    const own = findings.filter((finding) => finding.detector === detector.id).sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.alertId.localeCompare(b.alertId))
    const perDay = new Map<string, number>()
    for (const finding of own) perDay.set(finding.firstSeen.slice(0, 10), (perDay.get(finding.firstSeen.slice(0, 10)) ?? 0) + 1)
    return { detector, days: days.map((day) => ({ day, findings: perDay.get(day) ?? 0 })), findings: own }
  })
}

/** What the detector or rule of this id would have found over a range: none when no such one runs here. */
export async function backtestOf(store: Store, detectors: Detector[], id: string, range: { from: Date; to: Date }, settings: Settings): Promise<Backtest | undefined> {
  const detector = detectors.find((d) => d.id === id)
  return detector && (await backtest(store, [detector], range, settings))[0]
}

/** A bar per day, as long as its count is against the busiest day's (at least one block for a day with any). */
export function histogramLines(days: Backtest['days'], width = 40): string[] {
  const most = Math.max(0, ...days.map((d) => d.findings))
  return days.map(({ day, findings }) => {
    const bar = findings === 0 ? '' : '█'.repeat(Math.max(1, Math.round((findings / most) * width)))
    return `${day}  ${bar}${findings ? ' ' : ''}${String(findings)}`
  })
}
