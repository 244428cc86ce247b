import { atLeast, SEVERITIES, type Severity } from '../severity.js'
import type { StoredAlert } from '../alerts/table.js'
import type { PostureFinding } from '../alerts/posture.js'
import type { Route } from './routes.js'
import { recipientsFor, type AlertRoute } from './settings.js'
import { matchingSuppression, type SuppressionRule } from './suppressions.js'

const HOUR = 3_600_000

/** An email sent at once, as `alert_routes` remembers it. */
export interface SentEmail {
  recipient: string
  /** The incident the email was about: one email per incident, however many alerts it carried. */
  incident: string
  group_key: string
  severity: Severity
  /** ISO 8601. */
  routed_at: string
}

export interface RoutingPolicy {
  routes: AlertRoute[]
  dedupWindowMs: (detector: string) => number
  maxPerHour: number
}

export interface RoutingInput {
  /** Alert occurrences not routed yet. */
  alerts: StoredAlert[]
  /** Suppression rules in force at `now`. */
  rules: SuppressionRule[]
  /** Emails sent at once within `historySpanMs` before `now`. */
  sent: SentEmail[]
  /** The incident of each alert: alerts of one incident go out as one email, and count once against the limit. */
  incidentOf: Map<string, string>
  /** Each incident's severity: an alert is routed as severe as the incident it is part of. */
  incidentSeverity: Map<string, Severity>
  now: Date
}

export interface RoutingDecision {
  /** One route per alert occurrence and recipient (one without a recipient when it reaches nobody). */
  routes: Route[]
  /** The emails to send now. */
  immediate: { alert: StoredAlert; recipient: string }[]
  counts: { immediate: number; digest: number; suppressed: number; unrouted: number }
}

/** How far back the sent emails must reach for these alerts: the longest dedup window, and at least the rate limit's hour. */
export function historySpanMs(policy: RoutingPolicy, alerts: StoredAlert[]): number {
  return Math.max(HOUR, ...alerts.map((a) => policy.dedupWindowMs(a.detector)))
}

/** A span as a person says it: 6 h, 2 d, 45 min. */
export function describeWindow(ms: number): string {
  return ms % 86_400_000 === 0 ? `${String(ms / 86_400_000)} d` : ms % HOUR === 0 ? `${String(ms / HOUR)} h` : `${String(Math.round(ms / 60_000))} min`
}

/**
 * What becomes of each new alert occurrence, for each recipient: suppressed by a rule, reaching no
 * route, emailed at once, or held for a digest (a repeat within the dedup window that is no worse
 * than its email, or over the hourly limit and not critical). Most severe first, so when a flood
 * meets the rate limit the worst goes out at once. Decides only; the alerter reads and writes.
 */
export function routeAlerts(policy: RoutingPolicy, input: RoutingInput): RoutingDecision {
  const { now } = input
  const decision: RoutingDecision = { routes: [], immediate: [], counts: { immediate: 0, digest: 0, suppressed: 0, unrouted: 0 } }
  const { lastEmailed, emailedThisHour } = emailHistory(input.sent, now)
  const emailing = new Set<string>()
  // Low alerts that together make a medium incident reach the routes that take medium.
  const severityOf = (alert: StoredAlert): Severity => {
    const incident = input.incidentSeverity.get(input.incidentOf.get(alert.alert_id) ?? '')
    return incident && atLeast(incident, alert.severity) ? incident : alert.severity
  }
  const alerts = input.alerts.map((alert) => ({ alert, severity: severityOf(alert) })).sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity))
  const at = now.toISOString()
  for (const { alert, severity } of alerts) {
    const base = { alert_id: alert.alert_id, occurrence: alert.last_seen, group_key: `${alert.detector}|${alert.dedup_key}`, severity, rule_id: '', due_at: at, routed_at: at }
    const rule = matchingSuppression(input.rules, alert)
    if (rule) {
      decision.routes.push({ ...base, recipient: '', disposition: 'suppressed', rule_id: rule.rule_id, reason: `rule ${rule.rule_id} (${rule.owner}): ${rule.reason}` })
      decision.counts.suppressed++
      continue
    }
    const recipients = recipientsFor(policy.routes, { ...alert, severity })
    if (recipients.length === 0) {
      decision.routes.push({ ...base, recipient: '', disposition: 'unrouted', reason: policy.routes.length ? `no route takes ${severity} ${alert.detector} alerts` : 'no recipients configured' })
      decision.counts.unrouted++
      continue
    }
    for (const recipient of recipients) {
      const window = policy.dedupWindowMs(alert.detector)
      const last = lastEmailed.get(`${recipient}|${base.group_key}`)
      const thisHour = (emailedThisHour.get(recipient) ?? []).filter((t) => t > now.getTime() - HOUR)
      const incident = input.incidentOf.get(alert.alert_id) ?? alert.alert_id
      const sameEmail = emailing.has(`${recipient}|${incident}`)
      const repeat = last !== undefined && now.getTime() - last.at < window
      // A repeat that got worse than what was emailed is news, not a digest line.
      const escalated = repeat && !atLeast(last.severity, severity)
      if (repeat && !escalated) {
        decision.routes.push({ ...base, recipient, disposition: 'digest', reason: `repeat within ${describeWindow(window)} of the first email`, due_at: new Date(last.at + window).toISOString() })
        decision.counts.digest++
      } else if (!sameEmail && thisHour.length >= policy.maxPerHour && !atLeast(severity, 'critical')) {
        // Critical alerts are never held back by the rate limit.
        decision.routes.push({ ...base, recipient, disposition: 'digest', reason: `over ${String(policy.maxPerHour)} emails an hour`, due_at: new Date(Math.min(...thisHour) + HOUR).toISOString() })
        decision.counts.digest++
      } else {
        decision.routes.push({ ...base, recipient, disposition: 'immediate', reason: escalated ? `severity rose from ${last.severity} to ${severity}` : '' })
        decision.immediate.push({ alert, recipient })
        lastEmailed.set(`${recipient}|${base.group_key}`, { at: now.getTime(), severity })
        if (!sameEmail) emailedThisHour.set(recipient, [...thisHour, now.getTime()])
        emailing.add(`${recipient}|${incident}`)
        decision.counts.immediate++
      }
    }
  }
  return decision
}

export interface PostureRoutingInput {
  /** Posture finding occurrences not routed yet. */
  alerts: StoredAlert[]
  rules: SuppressionRule[]
  /** Each alert's posture finding as of `now`, by alert id. */
  findings: Map<string, PostureFinding>
  /** Posture findings some earlier occurrence of which was told to someone. */
  told: Set<string>
  now: Date
}

/**
 * What becomes of each new posture finding occurrence: it is told once, in the posture email of the
 * recipients whose routes take it, when it is first found; a finding accepted, fixed, told before or
 * silenced by a rule is not told (the posture page keeps all of them).
 */
export function routePosture(policy: RoutingPolicy, input: PostureRoutingInput): RoutingDecision {
  const decision: RoutingDecision = { routes: [], immediate: [], counts: { immediate: 0, digest: 0, suppressed: 0, unrouted: 0 } }
  const at = input.now.toISOString()
  for (const alert of input.alerts) {
    const base = { alert_id: alert.alert_id, occurrence: alert.last_seen, group_key: `${alert.detector}|${alert.dedup_key}`, severity: alert.severity, rule_id: '', due_at: at, routed_at: at }
    const rule = matchingSuppression(input.rules, alert)
    const finding = input.findings.get(alert.alert_id)
    const recipients = recipientsFor(policy.routes, alert)
    const quiet = rule
      ? { disposition: 'suppressed' as const, rule_id: rule.rule_id, reason: `rule ${rule.rule_id} (${rule.owner}): ${rule.reason}` }
      : finding?.state === 'accepted' && finding.decision
        ? { disposition: 'suppressed' as const, reason: `accepted by ${finding.decision.actor} until ${finding.decision.until ?? ''}: ${finding.decision.reason}` }
        : finding?.state === 'fixed'
          ? { disposition: 'unrouted' as const, reason: 'fixed: its check no longer finds it' }
          : input.told.has(alert.alert_id)
            ? { disposition: 'unrouted' as const, reason: 'told when first found; its state is on the posture page' }
            : recipients.length === 0
              ? { disposition: 'unrouted' as const, reason: policy.routes.length ? `no route takes ${alert.severity} ${alert.detector} alerts` : 'no recipients configured' }
              : undefined
    if (quiet) {
      decision.routes.push({ ...base, recipient: '', ...quiet })
      decision.counts[quiet.disposition]++
      continue
    }
    for (const recipient of recipients) {
      decision.routes.push({ ...base, recipient, disposition: 'digest', reason: 'a posture finding: told in the posture email' })
      decision.counts.digest++
    }
  }
  return decision
}

/** The latest (and worst) email per recipient and group, and each recipient's emails in the last hour. */
function emailHistory(sent: SentEmail[], now: Date): { lastEmailed: Map<string, { at: number; severity: Severity }>; emailedThisHour: Map<string, number[]> } {
  const lastEmailed = new Map<string, { at: number; severity: Severity }>()
  const emailedThisHour = new Map<string, number[]>()
  // Routes of one email (one incident, one cycle) count once.
  const counted = new Set<string>()
  for (const email of sent) {
    const at = Date.parse(email.routed_at)
    const key = `${email.recipient}|${email.group_key}`
    const earlier = lastEmailed.get(key)
    lastEmailed.set(key, { at: Math.max(at, earlier?.at ?? 0), severity: earlier && atLeast(earlier.severity, email.severity) ? earlier.severity : email.severity })
    const one = `${email.recipient}|${email.incident}|${String(at)}`
    if (at > now.getTime() - HOUR && !counted.has(one)) emailedThisHour.set(email.recipient, [...(emailedThisHour.get(email.recipient) ?? []), at])
    counted.add(one)
  }
  return { lastEmailed, emailedThisHour }
}
