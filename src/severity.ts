/** How urgently a person should look, lowest first. Medium and above are emailed by default. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

const ORDER = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>

export function raise(severity: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, ORDER[severity] + steps)] as Severity
}

export function atLeast(severity: Severity, floor: Severity): boolean {
  return ORDER[severity] >= ORDER[floor]
}

interface Ranked {
  severity: Severity
  first_seen: string
  alert_id: string
}

/** Worst first; among equals the earliest, then by id: the order a person reads alerts in. */
export function worstFirst(a: Ranked, b: Ranked): number {
  return ORDER[b.severity] - ORDER[a.severity] || a.first_seen.localeCompare(b.first_seen) || a.alert_id.localeCompare(b.alert_id)
}

export function mostSevereFirst<T extends Ranked>(alerts: readonly T[]): T[] {
  return [...alerts].sort(worstFirst)
}
