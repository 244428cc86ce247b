import { describeIdentity } from '../incidents/chain.js'
import type { Incident } from '../incidents/incidents.js'
import { atLeast, SEVERITIES, type Severity } from '../severity.js'

/** Identities whose arrival is news: who, not where from (a new address alone is one more alert, not a new person). */
const CHAIN_KINDS = ['principal:', 'user:', 'role:', 'key:']

function reopenings(incident: Incident): Incident['actions'] {
  return incident.actions.filter((a) => a.action === 'reopened')
}

function containments(incident: Incident): Incident['actions'] {
  return incident.actions.filter((a) => a.action === 'contained')
}

/** What containment did since the state a message told: each request, change, refusal and undo in the incident's log. */
export function containmentNews(told: string[], incident: Incident): string[] {
  const count = Number(told.find((i) => i.startsWith('contained:'))?.slice('contained:'.length) ?? 0)
  return containments(incident)
    .slice(count)
    .map((a) => `${a.actor}: ${a.reason}`)
}

/** What a message told about an incident, as items stored with it: the next message says what changed since. */
export function incidentStateItems(incident: Incident): string[] {
  return [
    `incident:${incident.id}`,
    `severity:${incident.severity}`,
    `status:${incident.status}`,
    `reopened:${String(reopenings(incident).length)}`,
    `contained:${String(containments(incident).length)}`,
    ...incident.tactics.map((t) => `tactic:${t}`),
    ...incident.identities.filter((i) => CHAIN_KINDS.some((k) => i.startsWith(k))).map((i) => `identity:${i}`),
    // Which critical alerts were told; the marker says the message kept count (those before it did not).
    CRITICALS_TOLD,
    ...criticalAlerts(incident).map((m) => `critical:${m.alert.alert_id}`),
  ]
}

const CRITICALS_TOLD = 'criticals:told'

function criticalAlerts(incident: Incident): Incident['members'] {
  return incident.members.filter((m) => m.alert.severity === 'critical')
}

/**
 * What grew since the state a message told: a higher severity, a new ATT&CK tactic, a new identity
 * in the chain, a new critical alert. Empty when nothing did: one more alert of the same kind is not worth an email.
 */
export function incidentNews(told: string[], incident: Incident): string[] {
  const valuesOf = (prefix: string): string[] => told.filter((i) => i.startsWith(prefix)).map((i) => i.slice(prefix.length))
  const news: string[] = []
  const reopened = reopenings(incident).slice(Number(valuesOf('reopened:')[0] ?? 0))
  for (const action of reopened) news.push(`reopened: ${action.reason}`)
  news.push(...containmentNews(told, incident))
  const was = valuesOf('severity:')[0] as Severity | undefined
  if (was && SEVERITIES.includes(was) && !atLeast(was, incident.severity)) news.push(`severity rose from ${was} to ${incident.severity}`)
  const tactics = incident.tactics.filter((t) => !valuesOf('tactic:').includes(t))
  if (tactics.length) news.push(`new ATT&CK ${tactics.length === 1 ? 'tactic' : 'tactics'}: ${tactics.join(', ')}`)
  const known = new Set(valuesOf('identity:'))
  const identities = incident.identities.filter((i) => CHAIN_KINDS.some((k) => i.startsWith(k)) && !known.has(i))
  for (const identity of identities) {
    const member = incident.members.find((m) => m.identities.includes(identity))
    news.push(`new in the chain: ${describeIdentity(identity)}${member ? ` (${member.link})` : ''}`)
  }
  // A critical alert is never folded silently into what was told: root signing in again from elsewhere without MFA is news.
  if (told.includes(CRITICALS_TOLD)) {
    const toldCritical = new Set(valuesOf('critical:'))
    for (const member of criticalAlerts(incident).filter((m) => !toldCritical.has(m.alert.alert_id))) news.push(`new critical alert: ${member.alert.title}`)
  }
  return news
}

/**
 * An acknowledgement or resolution a receiver has not been told of: PagerDuty stops paging, a
 * channel sees who took it. Reopening is told as news with the next update instead.
 */
export function statusChange(told: string[], incident: Incident): 'acknowledged' | 'resolved' | undefined {
  if (incident.status === 'open') return undefined
  // Messages written before the status was part of the state told an open incident.
  const was = told.find((i) => i.startsWith('status:'))?.slice('status:'.length) ?? 'open'
  return was === incident.status ? undefined : incident.status
}
