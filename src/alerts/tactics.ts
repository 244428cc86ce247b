/**
 * The ATT&CK tactic each technique the catalogue names serves first in a cloud account. A technique
 * can serve several tactics; counting one each keeps "spans three tactics" meaning three kinds of
 * step, not one technique counted three times.
 */
const TACTIC_OF: Record<string, string> = {
  T1003: 'credential-access',
  T1005: 'collection',
  T1020: 'exfiltration',
  T1021: 'lateral-movement',
  T1059: 'execution',
  T1070: 'defense-evasion',
  T1078: 'initial-access',
  T1087: 'discovery',
  T1098: 'persistence',
  T1110: 'credential-access',
  T1136: 'persistence',
  T1190: 'initial-access',
  T1199: 'initial-access',
  T1484: 'privilege-escalation',
  T1485: 'impact',
  T1486: 'impact',
  T1490: 'impact',
  T1496: 'impact',
  T1525: 'persistence',
  T1526: 'discovery',
  T1530: 'collection',
  T1531: 'impact',
  T1535: 'defense-evasion',
  T1537: 'exfiltration',
  T1548: 'privilege-escalation',
  T1550: 'lateral-movement',
  T1552: 'credential-access',
  T1555: 'credential-access',
  T1556: 'credential-access',
  T1562: 'defense-evasion',
  T1565: 'impact',
  T1566: 'initial-access',
  T1580: 'discovery',
  T1585: 'resource-development',
  T1608: 'resource-development',
  T1619: 'discovery',
  T1648: 'execution',
  T1651: 'execution',
  // ATT&CK v18 split defence impairment out of T1562.
  T1685: 'defense-evasion',
  T1686: 'defense-evasion',
}

/** The tactic a technique id serves first (`T1098.001` as T1098); '' for one the catalogue does not name. */
export function tacticOf(technique: string): string {
  return TACTIC_OF[technique.split('.')[0] ?? ''] ?? ''
}

/** The tactics of ATT&CK technique ids, sorted, each once. */
export function tacticsOf(techniques: readonly string[]): string[] {
  return [...new Set(techniques.map(tacticOf).filter(Boolean))].sort()
}

/** ATT&CK's tactics in the order of an intrusion. */
export const TACTIC_ORDER = [
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
]

export interface AttackCoverage {
  /** In the order of an intrusion, each with its techniques and the detectors that name each. */
  tactics: { tactic: string; techniques: { technique: string; detectors: string[] }[] }[]
  /** Detectors and rules that name no ATT&CK technique. */
  unmapped: string[]
}

/** The ATT&CK tactics and techniques the detectors name, each technique under the tactic it serves first. */
export function attackCoverage(detectors: readonly { id: string; attack: readonly string[] }[]): AttackCoverage {
  const byTechnique = new Map<string, Set<string>>()
  for (const detector of detectors) for (const technique of detector.attack) byTechnique.set(technique, (byTechnique.get(technique) ?? new Set()).add(detector.id))
  // A technique the catalogue does not place (a user's rule may name any) is shown, under "other".
  const tactics = [...TACTIC_ORDER, 'other'].map((tactic) => ({
    tactic,
    techniques: [...byTechnique]
      .filter(([technique]) => (tacticOf(technique) || 'other') === tactic)
      .map(([technique, ids]) => ({ technique, detectors: [...ids].sort() }))
      .sort((a, b) => a.technique.localeCompare(b.technique)),
  })).filter((t) => t.techniques.length > 0)
  return { tactics, unmapped: detectors.filter((d) => d.attack.length === 0).map((d) => d.id).sort() }
}
