import { z } from 'zod'
import { ALERT_COLUMNS, alertHeadline, StoredAlertRow, type StoredAlert } from '../alerts/table.js'
import { shortPrincipal } from '../principals.js'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { atLeast, raise, SEVERITIES, type Severity } from '../severity.js'
import { clickHouseTime, isoFromMillis, utcText } from '../time.js'
import { groupAlerts, type AlertIdentities, type ChainEdge, type Identity } from './chain.js'
import { tacticsOf } from '../alerts/tactics.js'
import { alertIdentities, triggerEvents } from './triggers.js'

export const DAY = 86_400_000
/** How long after an incident's last alert a new alert of the same chain still joins it. */
export const INCIDENT_WINDOW_MS = DAY
/** How far back an address must have had several principals to count as shared. */
const SHARED_ADDRESS_LOOKBACK_DAYS = 30

export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved'] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

export interface IncidentMember {
  alert: StoredAlert
  identities: Identity[]
  /** Why the alert belongs to the incident. */
  link: string
}

export interface IncidentAction {
  action: string
  actor: string
  reason: string
  merged_into: string
  at: string
}

/** What people note on an incident besides its status: who has it, what they said, and the ticket elsewhere. */
/** `contained`: what containment did to an identity of the incident, or was asked to. */
export const CASE_NOTES = ['assigned', 'commented', 'ticket', 'contained'] as const
export type CaseNote = (typeof CASE_NOTES)[number]
/** Longer than a name, a note or a ticket's address needs: more is refused, not cut. */
const CASE_NOTE_LIMITS: Record<CaseNote, number> = { assigned: 128, commented: 4000, ticket: 2000, contained: 4000 }

/** An incident as read: its members, and what is derived from them. */
export interface Incident {
  id: string
  status: IncidentStatus
  severity: Severity
  title: string
  principals: string[]
  accounts: string[]
  detectors: string[]
  tactics: string[]
  identities: Identity[]
  first_seen: string
  last_seen: string
  members: IncidentMember[]
  actions: IncidentAction[]
  /** Who has the case: the last assignment ('' when nobody, or unassigned). */
  assignee: string
  /** The case in another tracker, as an http(s) address ('' when none). */
  ticket: string
}

const STATUS_OF_ACTION: Record<string, IncidentStatus> = { opened: 'open', reopened: 'open', acknowledged: 'acknowledged', resolved: 'resolved' }

/**
 * The worst member's severity, one step higher when the incident spans three ATT&CK tactics or
 * more, and another at four detectors or more: several kinds of step by one identity is a story,
 * each step alone may not be.
 */
export function incidentSeverity(members: { severity: Severity; detector: string; attack: string[] }[]): Severity {
  const worst = members.reduce<Severity>((w, m) => (atLeast(m.severity, w) ? m.severity : w), 'info')
  const tactics = tacticsOf(members.flatMap((m) => m.attack)).length
  const detectors = new Set(members.map((m) => m.detector)).size
  return raise(worst, (tactics >= 3 ? 1 : 0) + (detectors >= 4 ? 1 : 0))
}

/** An incident from its members and its log: everything else is derived. */
export function summariseIncident(id: string, members: IncidentMember[], actions: IncidentAction[]): Incident {
  const memberOf = new Map(members.map((m) => [m.alert.alert_id, m]))
  const alerts = members.map((m) => m.alert).sort((a, b) => a.first_seen.localeCompare(b.first_seen) || a.alert_id.localeCompare(b.alert_id))
  const severity = incidentSeverity(alerts)
  const worst = [...alerts].sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity))[0]
  const principals = [...new Set(alerts.map((a) => a.principal))]
  const last = actions.filter((a) => a.action in STATUS_OF_ACTION).at(-1)
  const others = alerts.length - 1
  return {
    id,
    status: last ? (STATUS_OF_ACTION[last.action] as IncidentStatus) : 'open',
    severity,
    title: `${worst ? alertHeadline(worst) : ''}${others > 0 ? ` (+${String(others)} more)` : ''}`,
    principals,
    accounts: [...new Set(alerts.map((a) => a.account))].sort(),
    detectors: [...new Set(alerts.map((a) => a.detector))].sort(),
    tactics: tacticsOf(alerts.flatMap((a) => a.attack)),
    identities: [...new Set(members.flatMap((m) => m.identities))].sort(),
    first_seen: alerts.reduce((min, a) => (a.first_seen < min ? a.first_seen : min), alerts[0]?.first_seen ?? ''),
    last_seen: alerts.reduce((max, a) => (a.last_seen > max ? a.last_seen : max), ''),
    members: alerts.map((alert) => memberOf.get(alert.alert_id) as IncidentMember),
    actions,
    assignee: actions.filter((a) => a.action === 'assigned').at(-1)?.reason ?? '',
    ticket: actions.filter((a) => a.action === 'ticket').at(-1)?.reason ?? '',
  }
}

/** The contract of `incidents list --json`, and what outputs send: one object per incident. */
export function incidentJson(incident: Incident): Record<string, unknown> {
  return {
    id: incident.id,
    severity: incident.severity,
    status: incident.status,
    title: incident.title,
    principals: incident.principals,
    accounts: incident.accounts,
    alert_ids: incident.members.map((m) => m.alert.alert_id),
    detectors: incident.detectors,
    tactics: incident.tactics,
    identities: incident.identities,
    first_seen: incident.first_seen,
    last_seen: incident.last_seen,
    assignee: incident.assignee,
    ticket: incident.ticket,
  }
}

const MemberRow = StoredAlertRow.extend({ incident_id: z.string(), identities: z.array(z.string()), link: z.string() })
const ActionRow = z.object({ incident_id: z.string(), action: z.string(), actor: z.string(), reason: z.string(), merged_into: z.string(), at: isoFromMillis })

/** A filter for readIncidents: the incidents with a member alert (alias a2) that meets `condition`. */
function withAlertWhere(condition: string): string {
  return `m.incident_id IN (SELECT m2.incident_id FROM (SELECT * FROM incident_members FINAL) AS m2
                        INNER JOIN (SELECT * FROM alerts FINAL) AS a2 ON a2.alert_id = m2.alert_id WHERE ${condition})`
}

/** Incidents by a filter on incident_members (alias m) and the actions; the newest first. */
async function readIncidents(store: Store, memberFilter: string, params: Record<string, unknown>): Promise<Incident[]> {
  const members = await selectRows(
    store,
    `SELECT m.incident_id AS incident_id, m.identities AS identities, m.link AS link, a.alert_id AS alert_id, a.detector AS detector, a.kind AS kind,
            a.severity AS severity, a.principal AS principal, a.account AS account, a.title AS title,
            toUnixTimestamp64Milli(a.first_seen) AS first_seen, toUnixTimestamp64Milli(a.last_seen) AS last_seen,
            a.evidence AS evidence, a.why AS why, a.attack AS attack, a.runbook AS runbook, a.dedup_key AS dedup_key,
            toUnixTimestamp64Milli(a.detected_at) AS detected_at
     FROM (SELECT * FROM incident_members FINAL) AS m INNER JOIN (SELECT * FROM alerts FINAL) AS a ON a.alert_id = m.alert_id
     WHERE ${memberFilter}`,
    params,
    MemberRow,
  )
  if (members.length === 0) return []
  const ids = [...new Set(members.map((m) => m.incident_id))]
  const actions = await selectRows(
    store,
    `SELECT incident_id, action, actor, reason, merged_into, toUnixTimestamp64Milli(at) AS at FROM incident_actions
     WHERE incident_id IN {ids:Array(String)} ORDER BY incident_id, at`,
    { ids },
    ActionRow,
  )
  const membersOf = new Map<string, IncidentMember[]>()
  for (const { incident_id, identities, link, ...alert } of members) membersOf.set(incident_id, [...(membersOf.get(incident_id) ?? []), { alert, identities, link }])
  const actionsOf = new Map<string, IncidentAction[]>()
  for (const { incident_id, ...action } of actions) actionsOf.set(incident_id, [...(actionsOf.get(incident_id) ?? []), action])
  return ids.map((id) => summariseIncident(id, membersOf.get(id) ?? [], actionsOf.get(id) ?? [])).sort((a, b) => b.last_seen.localeCompare(a.last_seen) || a.id.localeCompare(b.id))
}

export async function incidentsById(store: Store, ids: string[]): Promise<Map<string, Incident>> {
  if (ids.length === 0) return new Map()
  const found = await readIncidents(store, 'm.incident_id IN {ids:Array(String)}', { ids })
  return new Map(found.map((incident) => [incident.id, incident]))
}

/** One incident; an incident merged into another names the one it lives on in. */
export async function incidentById(store: Store, id: string): Promise<Incident> {
  const incident = (await incidentsById(store, [id])).get(id)
  if (incident) return incident
  const [merged] = await selectRows(store, "SELECT merged_into FROM incident_actions WHERE incident_id = {id:String} AND action = 'merged' ORDER BY at DESC LIMIT 1", { id }, z.object({ merged_into: z.string() }))
  if (merged) throw new AppError('NOT_FOUND', `incident ${id} was merged into ${merged.merged_into}: look at that one`)
  throw new AppError('NOT_FOUND', `no incident ${id}: trailwatch incidents list shows them`)
}

/** The incident each alert belongs to. */
export async function incidentOfAlerts(store: Store, alertIds: string[]): Promise<Map<string, string>> {
  if (alertIds.length === 0) return new Map()
  const rows = await selectRows(store, 'SELECT alert_id, incident_id FROM incident_members FINAL WHERE alert_id IN {ids:Array(String)}', { ids: alertIds }, z.object({ alert_id: z.string(), incident_id: z.string() }))
  return new Map(rows.map((r) => [r.alert_id, r.incident_id]))
}

/** Incidents with an alert seen, or detected, in [from, to], newest first: a key unused for months is detected today. */
export function listIncidents(store: Store, range: { from: Date; to: Date }): Promise<Incident[]> {
  return readIncidents(
    store,
    withAlertWhere('(a2.last_seen >= {from:DateTime64(3)} OR a2.detected_at >= {from:DateTime64(3)}) AND a2.first_seen <= {to:DateTime64(3)}'),
    { from: clickHouseTime(range.from.getTime()), to: clickHouseTime(range.to.getTime()) },
  )
}

/** Incidents someone acknowledged, resolved or contained since `since`: what the outputs may not have been told yet. */
export async function incidentsChangedSince(store: Store, since: Date): Promise<string[]> {
  const rows = await selectRows(
    store,
    `SELECT DISTINCT incident_id FROM incident_actions
     WHERE action IN ('acknowledged', 'resolved', 'contained') AND at >= {since:DateTime64(3)}`,
    { since: clickHouseTime(since.getTime()) },
    z.object({ incident_id: z.string() }),
  )
  return rows.map((r) => r.incident_id)
}

export async function recordIncidentActions(store: Store, actions: (IncidentAction & { incident_id: string })[]): Promise<void> {
  if (actions.length === 0) return
  await store.client.insert({
    table: 'incident_actions',
    values: actions.map((a) => ({ ...a, at: clickHouseTime(Date.parse(a.at)) })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

/** Acknowledge or resolve: who and why go into the incident's log. */
export async function changeIncident(store: Store, id: string, action: 'acknowledged' | 'resolved', actor: string, reason: string, at: Date): Promise<Incident> {
  await incidentById(store, id)
  await recordIncidentActions(store, [{ incident_id: id, action, actor, reason, merged_into: '', at: at.toISOString() }])
  return incidentById(store, id)
}

/** The note as it is kept, or why it is refused: a ticket must be an http(s) address, a comment must say something. */
function caseNoteText(note: CaseNote, text: string): string {
  const value = text.trim()
  if (value.length > CASE_NOTE_LIMITS[note]) throw new AppError('USAGE', `a ${note === 'assigned' ? 'name' : note === 'ticket' ? 'ticket address' : 'comment'} is at most ${String(CASE_NOTE_LIMITS[note])} characters`)
  if ((note === 'commented' || note === 'contained') && !value) throw new AppError('USAGE', 'a comment must say something')
  if (note === 'ticket' && value) {
    let url: URL | undefined
    try {
      url = new URL(value)
    } catch {
      url = undefined
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new AppError('USAGE', 'a ticket is an http(s) address, such as https://tracker.example.com/SEC-123')
  }
  return value
}

/** Assign (an empty name unassigns), comment on, or link a ticket to an incident: kept in its log with who and when. */
export async function noteIncident(store: Store, id: string, note: CaseNote, actor: string, text: string, at: Date): Promise<Incident> {
  const value = caseNoteText(note, text)
  await incidentById(store, id)
  await recordIncidentActions(store, [{ incident_id: id, action: note, actor, reason: value, merged_into: '', at: at.toISOString() }])
  return incidentById(store, id)
}

const Edge = z.object({
  time: isoFromMillis,
  event: z.string(),
  account: z.string(),
  principal: z.string(),
  key: z.string(),
  issued_key: z.string(),
  created_key: z.string(),
  user_name: z.string(),
  role_name: z.string(),
})

const CHAIN_EVENTS = ['AssumeRole', 'GetSessionToken', 'GetFederationToken', 'CreateAccessKey', 'CreateUser', 'CreateLoginProfile', 'CreateRole']

/** Keys issued and users and roles created in [from, to], each as a tie from its caller. AWS acting for the account ties nothing. */
async function chainEdges(store: Store, from: number, to: number): Promise<ChainEdge[]> {
  const rows = await selectRows(
    store,
    `SELECT toUnixTimestamp64Milli(event_time) AS time, event_name AS event, account_id AS account, principal_arn AS principal,
            access_key_id AS key,
            JSONExtractString(raw, 'responseElements', 'credentials', 'accessKeyId') AS issued_key,
            JSONExtractString(raw, 'responseElements', 'accessKey', 'accessKeyId') AS created_key,
            JSONExtractString(raw, 'requestParameters', 'userName') AS user_name,
            JSONExtractString(raw, 'requestParameters', 'roleName') AS role_name
     FROM events
     WHERE event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
       AND event_name IN {events:Array(String)} AND error_code = '' AND actor_kind != 'aws-service' AND principal_arn != ''
     ORDER BY event_time, event_id`,
    { from: clickHouseTime(from), to: clickHouseTime(to), events: CHAIN_EVENTS },
    Edge,
  )
  const edges: ChainEdge[] = []
  for (const row of rows) {
    const caller: Identity = row.principal.includes(':role/') && row.key ? `key:${row.key}` : `principal:${row.principal}`
    const reason = `${row.event} by ${shortPrincipal(row.principal)} at ${utcText(row.time)}`
    const tie = (to: Identity): void => {
      edges.push({ from: caller, to, reason })
    }
    if (row.key && caller !== `key:${row.key}`) tie(`key:${row.key}`)
    if (row.issued_key) tie(`key:${row.issued_key}`)
    if (row.created_key) tie(`key:${row.created_key}`)
    if (row.user_name && row.event !== 'AssumeRole') tie(`user:${row.account}:${row.user_name}`)
    if (row.role_name) tie(`role:${row.account}:${row.role_name}`)
  }
  return edges
}

/**
 * Public addresses two or more users (or root) used in the 30 days up to `to`, the pass itself
 * included: an office or a VPN ties nobody together, even on a store with no history yet. Roles
 * are not counted: the people who assume them share their addresses by nature.
 */
async function sharedAddresses(store: Store, addresses: string[], from: number, to: number): Promise<Set<string>> {
  if (addresses.length === 0) return new Set()
  const rows = await selectRows(
    store,
    `SELECT source_ip FROM baseline_principal_source_days
     WHERE source_ip IN {addresses:Array(String)} AND principal_arn NOT LIKE '%:role/%'
       AND day >= toDate({from:DateTime64(3)}) - {days:UInt32} AND day <= toDate({to:DateTime64(3)})
     GROUP BY source_ip HAVING uniqExact(principal_arn) >= 2`,
    { addresses, from: clickHouseTime(from), to: clickHouseTime(to), days: SHARED_ADDRESS_LOOKBACK_DAYS },
    z.object({ source_ip: z.string() }),
  )
  return new Set(rows.map((r) => r.source_ip))
}

/** What a correlation pass did: alerts it put into incidents, incidents it opened and merged away. */
export interface Correlation {
  joined: number
  opened: string[]
  merged: string[]
}

const serial = new WeakMap<Store, Promise<unknown>>()

/**
 * Puts every threat alert detected by `now` that is in no incident yet into one, and records what
 * opened and merged (posture findings are kept apart: src/alerts/posture.ts). One pass at a time per store. Findings reach it through `recordFindings`.
 */
export function correlateIncidents(store: Store, now: Date, windowMs = INCIDENT_WINDOW_MS): Promise<Correlation> {
  const previous = serial.get(store) ?? Promise.resolve()
  const pass = previous.catch(() => undefined).then(() => correlateOnce(store, now, windowMs))
  serial.set(store, pass)
  return pass
}

/** A resolved incident whose alert is seen again, after it was resolved, is open again. */
async function reopenRecurring(store: Store, now: Date): Promise<void> {
  const recurring = await selectRows(
    store,
    `SELECT m.incident_id AS incident_id, any(a.alert_id) AS alert_id
     FROM (SELECT * FROM incident_members FINAL) AS m
     INNER JOIN (SELECT * FROM alerts FINAL) AS a ON a.alert_id = m.alert_id
     INNER JOIN (SELECT incident_id, argMax(action, at) AS last_action, max(at) AS last_at FROM incident_actions GROUP BY incident_id) AS s ON s.incident_id = m.incident_id
     WHERE s.last_action = 'resolved' AND a.last_seen > s.last_at AND a.detected_at <= {now:DateTime64(3)}
     GROUP BY m.incident_id`,
    { now: clickHouseTime(now.getTime()) },
    z.object({ incident_id: z.string(), alert_id: z.string() }),
  )
  await recordIncidentActions(
    store,
    recurring.map((r) => ({ incident_id: r.incident_id, action: 'reopened', actor: 'trailwatch', reason: `alert ${r.alert_id} seen again after the incident was resolved`, merged_into: '', at: now.toISOString() })),
  )
}

async function correlateOnce(store: Store, now: Date, windowMs: number): Promise<Correlation> {
  await reopenRecurring(store, now)
  const fresh = await selectRows(
    store,
    `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM alerts FINAL WHERE detected_at <= {now:DateTime64(3)} AND kind = 'threat' AND alert_id NOT IN (SELECT alert_id FROM incident_members))`,
    { now: clickHouseTime(now.getTime()) },
    StoredAlertRow,
  )
  if (fresh.length === 0) return { joined: 0, opened: [], merged: [] }
  const triggers = await triggerEvents(store, fresh)
  const identified: AlertIdentities[] = fresh.map((alert) => ({
    alertId: alert.alert_id,
    identities: alertIdentities(alert, triggers.get(alert.alert_id) ?? []),
    firstSeen: Date.parse(alert.first_seen),
    lastSeen: Date.parse(alert.last_seen),
  }))
  const from = Math.min(...identified.map((a) => a.firstSeen)) - windowMs
  const open = (
    await readIncidents(
      store,
      withAlertWhere('a2.last_seen >= {from:DateTime64(3)}'),
      { from: clickHouseTime(from) },
    )
  ).filter((i) => i.status === 'open' || i.status === 'acknowledged')
  const identities = [...identified.flatMap((a) => a.identities), ...open.flatMap((i) => i.identities)]
  const addresses = [...new Set(identities.filter((i) => i.startsWith('ip:')).map((i) => i.slice(3)))]
  const grouping = groupAlerts({
    open: open.map((incident) => ({
      id: incident.id,
      members: incident.members.map((m) => ({ alertId: m.alert.alert_id, identities: m.identities, firstSeen: Date.parse(m.alert.first_seen), lastSeen: Date.parse(m.alert.last_seen) })),
    })),
    fresh: identified,
    edges: await chainEdges(store, from, now.getTime()),
    sharedAddresses: await sharedAddresses(store, addresses, from, now.getTime()),
    windowMs,
  })

  const at = clickHouseTime(now.getTime())
  const identitiesOf = new Map(identified.map((a) => [a.alertId, a.identities]))
  const oldLinks = new Map(open.flatMap((i) => i.members.map((m) => [m.alert.alert_id, m.link] as const)))
  const rows = [
    ...grouping.joined.map((j) => ({ alert_id: j.alertId, incident_id: j.incidentId, identities: identitiesOf.get(j.alertId) ?? [], link: j.link, joined_at: at })),
    ...grouping.merged.flatMap((m) =>
      m.members.map((member) => ({ alert_id: member.alertId, incident_id: m.into, identities: member.identities, link: `merged from ${m.from}: ${oldLinks.get(member.alertId) ?? ''}`, joined_at: at })),
    ),
  ]
  // Opened and merged first: members never point at an incident without a log.
  await recordIncidentActions(store, [
    ...grouping.opened.map((id) => ({ incident_id: id, action: 'opened', actor: 'trailwatch', reason: '', merged_into: '', at: now.toISOString() })),
    ...grouping.merged.map((m) => ({ incident_id: m.from, action: 'merged', actor: 'trailwatch', reason: `tied to ${m.into} by a later alert`, merged_into: m.into, at: now.toISOString() })),
  ])
  await store.client.insert({ table: 'incident_members', values: rows, format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
  return { joined: grouping.joined.length, opened: grouping.opened, merged: grouping.merged.map((m) => m.from) }
}
