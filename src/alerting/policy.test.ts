import { describe, expect, it } from 'vitest'
import type { Severity } from '../severity.js'
import type { StoredAlert } from '../alerts/table.js'
import type { PostureFinding, PostureState } from '../alerts/posture.js'
import { historySpanMs, routeAlerts, routePosture, type RoutingPolicy, type SentEmail } from './policy.js'
import type { SuppressionRule } from './suppressions.js'

const NOW = new Date('2026-11-20T12:00:00Z')
const HOUR = 3_600_000
const minutesAgo = (minutes: number): string => new Date(NOW.getTime() - minutes * 60_000).toISOString()

const alert = (id: string, severity: Severity, fields: Partial<StoredAlert> = {}): StoredAlert => ({
  alert_id: id,
  detector: 'unusual-source-ip',
  kind: 'threat',
  severity,
  principal: 'arn:aws:iam::111122223333:user/carol',
  account: '111122223333',
  title: 't',
  first_seen: minutesAgo(10),
  last_seen: minutesAgo(5),
  evidence: { address: '203.0.113.7' },
  why: '',
  attack: [],
  runbook: [],
  dedup_key: id,
  detected_at: minutesAgo(1),
  ...fields,
})

const rule: SuppressionRule = {
  rule_id: 'r1', detector: '', principal: '', cidr: '203.0.113.0/24', account: '', owner: 'sam', reason: 'office egress',
  created_at: minutesAgo(600), expires_at: minutesAgo(-600), removed_at: null, removed_by: '', version: 1,
}

const POLICY: RoutingPolicy = {
  routes: [
    { name: 'secops', to: ['secops@example.com'], minSeverity: 'medium' },
    { name: 'cloud', to: ['cloud@example.com', 'SecOps@example.com'], minSeverity: 'high', accounts: ['111122223333'] },
  ],
  dedupWindowMs: (detector) => (detector === 'stale-access-key' ? 7 * 24 * HOUR : 24 * HOUR),
  maxPerHour: 2,
}

const sent = (recipient: string, groupKey: string, severity: Severity, minutes: number, incident = groupKey): SentEmail => ({ recipient, incident, group_key: groupKey, severity, routed_at: minutesAgo(minutes) })
const decide = (alerts: StoredAlert[], history: SentEmail[] = [], rules: SuppressionRule[] = [], policy = POLICY, incidentOf = new Map<string, string>(), incidentSeverity = new Map<string, Severity>()) =>
  routeAlerts(policy, { alerts, rules, sent: history, now: NOW, incidentOf, incidentSeverity })
/** Each route as `recipient disposition reason`, in the order decided. */
const lines = (decision: ReturnType<typeof decide>): string[] => decision.routes.map((r) => [r.alert_id, r.recipient || '-', r.disposition, r.reason].join(' ').trim())

describe('routeAlerts: what becomes of each alert, for each recipient', () => {
  it.each([
    ['a first medium alert goes to the routes that take it', [alert('a', 'medium')], [], [], ['a secops@example.com immediate']],
    ['a high one reaches every matching route once per address', [alert('a', 'high')], [], [], ['a cloud@example.com immediate', 'a secops@example.com immediate']],
    ['a low one reaches no route', [alert('a', 'low')], [], [], ['a - unrouted no route takes low unusual-source-ip alerts']],
    ['a rule whose block holds every address silences it', [alert('a', 'critical')], [], [rule], ['a - suppressed rule r1 (sam): office egress']],
    ['an address outside the rule’s block is not silenced', [alert('a', 'medium', { evidence: { sources: ['203.0.113.7', '198.51.100.1'] } })], [], [rule], ['a secops@example.com immediate']],
    ['a repeat within the window goes to a digest', [alert('a', 'medium')], [sent('secops@example.com', 'unusual-source-ip|a', 'medium', 120)], [], ['a secops@example.com digest repeat within 1 d of the first email']],
    ['a repeat that got worse is news', [alert('a', 'high')], [sent('secops@example.com', 'unusual-source-ip|a', 'medium', 120)], [], ['a cloud@example.com immediate', 'a secops@example.com immediate severity rose from medium to high']],
    ['a repeat no worse than the worst email of the window stays in the digest', [alert('a', 'medium')], [sent('secops@example.com', 'unusual-source-ip|a', 'high', 600), sent('secops@example.com', 'unusual-source-ip|a', 'medium', 60)], [], ['a secops@example.com digest repeat within 1 d of the first email']],
    ['after the window it is emailed again', [alert('a', 'medium')], [sent('secops@example.com', 'unusual-source-ip|a', 'medium', 25 * 60)], [], ['a secops@example.com immediate']],
    ['a detector’s own window counts', [alert('a', 'medium', { detector: 'stale-access-key' })], [sent('secops@example.com', 'stale-access-key|a', 'medium', 25 * 60)], [], ['a secops@example.com digest repeat within 7 d of the first email']],
    ['over the hourly limit it waits for a digest', [alert('a', 'medium')], [sent('secops@example.com', 'x|1', 'medium', 50), sent('secops@example.com', 'x|2', 'medium', 20)], [], ['a secops@example.com digest over 2 emails an hour']],
    ['a critical one is never held by the limit', [alert('a', 'critical')], [sent('secops@example.com', 'x|1', 'medium', 50), sent('secops@example.com', 'x|2', 'medium', 20), sent('cloud@example.com', 'x|1', 'high', 5), sent('cloud@example.com', 'x|2', 'high', 4)], [], ['a cloud@example.com immediate', 'a secops@example.com immediate']],
    ['emails older than an hour do not count towards the limit', [alert('a', 'medium')], [sent('secops@example.com', 'x|1', 'medium', 61), sent('secops@example.com', 'x|2', 'medium', 20)], [], ['a secops@example.com immediate']],
  ] as const)('%s', (_, alerts, history, rules, expected) => {
    expect(lines(decide([...alerts], [...history], [...rules]))).toEqual(expected)
  })

  it('sends the worst first when a flood meets the limit, and counts what it decided', () => {
    const decision = decide([alert('low', 'medium'), alert('worse', 'high'), alert('also', 'medium')], [sent('secops@example.com', 'x|1', 'medium', 30)])
    expect(lines(decision)).toEqual([
      'worse cloud@example.com immediate',
      'worse secops@example.com immediate',
      'low secops@example.com digest over 2 emails an hour',
      'also secops@example.com digest over 2 emails an hour',
    ])
    expect(decision.counts).toEqual({ immediate: 2, digest: 2, suppressed: 0, unrouted: 0 })
    // The digest goes out when the oldest email of the hour leaves it.
    expect(decision.routes[2]?.due_at).toBe(new Date(NOW.getTime() + 30 * 60_000).toISOString())
  })

  it('holds the second sighting of a group in one cycle for the digest the first one opened', () => {
    const decision = decide([alert('a', 'medium'), alert('a', 'medium', { last_seen: minutesAgo(2) })])
    expect(lines(decision)).toEqual(['a secops@example.com immediate', 'a secops@example.com digest repeat within 1 d of the first email'])
    expect(decision.routes[1]?.due_at).toBe(new Date(NOW.getTime() + 24 * HOUR).toISOString())
  })

  it('counts the alerts of one incident as one email against the hourly limit, now and in the history', () => {
    const incidentOf = new Map([['a', 'inc-1'], ['b', 'inc-1'], ['c', 'inc-1'], ['d', 'inc-2']])
    const history = [sent('secops@example.com', 'x|1', 'high', 10, 'inc-0'), sent('secops@example.com', 'x|2', 'high', 10, 'inc-0')]
    // One email an hour: the incident emailed ten minutes ago used it, in two routes.
    const decision = decide(['a', 'b', 'c', 'd'].map((id) => alert(id, 'high', { detector: id })), history, [], { ...POLICY, maxPerHour: 2 }, incidentOf)
    expect(lines(decision).filter((l) => l.includes('secops'))).toEqual([
      'a secops@example.com immediate',
      'b secops@example.com immediate',
      'c secops@example.com immediate',
      'd secops@example.com digest over 2 emails an hour',
    ])
  })

  it('routes a low alert as severe as the incident it is part of, and never less severe than itself', () => {
    const incidentOf = new Map([['a', 'inc-1'], ['b', 'inc-1'], ['c', 'inc-2']])
    const incidentSeverity = new Map<string, Severity>([['inc-1', 'medium'], ['inc-2', 'low']])
    const decision = decide([alert('a', 'low'), alert('b', 'low'), alert('c', 'high')], [], [], POLICY, incidentOf, incidentSeverity)
    expect(lines(decision)).toEqual(['c cloud@example.com immediate', 'c secops@example.com immediate', 'a secops@example.com immediate', 'b secops@example.com immediate'])
    expect(decision.routes.map((r) => r.severity)).toEqual(['high', 'high', 'medium', 'medium'])
    // Outside an incident the same low alert reaches nobody.
    expect(lines(decide([alert('a', 'low')], [], [], POLICY, new Map(), incidentSeverity))).toEqual(['a - unrouted no route takes low unusual-source-ip alerts'])
  })

  it('says nobody is configured when there are no routes at all', () => {
    expect(lines(decide([alert('a', 'critical')], [], [], { ...POLICY, routes: [] }))).toEqual(['a - unrouted no recipients configured'])
  })

  it('asks for as much history as the longest dedup window, and never less than the hour of the limit', () => {
    expect(historySpanMs(POLICY, [alert('a', 'medium'), alert('b', 'low', { detector: 'stale-access-key' })])).toBe(7 * 24 * HOUR)
    expect(historySpanMs({ ...POLICY, dedupWindowMs: () => 60_000 }, [alert('a', 'medium')])).toBe(HOUR)
  })
})

describe('routePosture: a posture finding is told once, apart from incidents', () => {
  const stale = (id: string, severity: Severity = 'medium'): StoredAlert => alert(id, severity, { kind: 'posture', detector: 'stale-access-key', evidence: {} })
  const finding = (a: StoredAlert, state: PostureState): PostureFinding => ({
    alert: a,
    state,
    decision: state === 'accepted' ? { action: 'accepted', actor: 'pat', reason: 'the vendor rotates it in January', until: minutesAgo(-60 * 24 * 30), at: minutesAgo(60) } : undefined,
    checkedAt: minutesAgo(30),
  })
  const route = (alerts: StoredAlert[], states: PostureState[], told: string[] = [], rules: SuppressionRule[] = []) =>
    lines(routePosture(POLICY, { alerts, rules, findings: new Map(alerts.map((a, i) => [a.alert_id, finding(a, states[i] ?? 'open')])), told: new Set(told), now: NOW }))

  it('puts a new open finding in the posture email of every route that takes it, due now', () => {
    const decision = routePosture(POLICY, { alerts: [stale('k', 'high')], rules: [], findings: new Map(), told: new Set(), now: NOW })
    expect(lines(decision)).toEqual(['k cloud@example.com digest a posture finding: told in the posture email', 'k secops@example.com digest a posture finding: told in the posture email'])
    expect(decision.routes.every((r) => r.due_at === NOW.toISOString())).toBe(true)
    expect(decision.immediate).toEqual([])
  })

  it('tells nobody of a finding accepted, fixed, told before, silenced or below every route', () => {
    const silence = { ...rule, rule_id: 'r2', cidr: '', detector: 'stale-access-key', reason: 'legacy until March' }
    expect(route([stale('a'), stale('b'), stale('c'), stale('d'), stale('e', 'low')], ['accepted', 'fixed', 'open', 'open', 'open'], ['c'])).toEqual([
      `a - suppressed accepted by pat until ${minutesAgo(-60 * 24 * 30)}: the vendor rotates it in January`,
      'b - unrouted fixed: its check no longer finds it',
      'c - unrouted told when first found; its state is on the posture page',
      'd secops@example.com digest a posture finding: told in the posture email',
      'e - unrouted no route takes low stale-access-key alerts',
    ])
    expect(route([stale('a')], ['open'], [], [silence])).toEqual(['a - suppressed rule r2 (sam): legacy until March'])
  })
})
