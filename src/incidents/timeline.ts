import { z } from 'zod'
import { alertsOfPrincipals, type StoredAlert } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { DAY, type Incident } from './incidents.js'

/** Whose calls: one principal, one key and the sessions it opened, one address, or an incident's identities. */
export interface TimelineSubject {
  principals: string[]
  keys: string[]
  addresses: string[]
}

const TimelineCall = z.object({
  time: isoFromMillis,
  event: z.string(),
  service: z.string(),
  principal: z.string(),
  key: z.string(),
  address: z.string(),
  country: z.string(),
  region: z.string(),
  error: z.string(),
  read_only: z.coerce.boolean(),
  issued_key: z.string(),
  event_id: z.string(),
})

export type TimelineEntry =
  | ({ type: 'call'; new: string[]; hop: string } & Omit<z.output<typeof TimelineCall>, 'issued_key'>)
  | { type: 'alert'; time: string; alert: StoredAlert }

/** A call and the same call repeated right after it: `count` of them, the last at `last`. */
export type TimelineRow = (Extract<TimelineEntry, { type: 'call' }> & { count: number; last: string }) | Extract<TimelineEntry, { type: 'alert' }>

export interface Timeline {
  from: string
  to: string
  entries: TimelineEntry[]
  /** More calls matched than were read. */
  truncated: boolean
}

/** An incident's identity chain over its span, an hour either side: its people (roles through their sessions' keys) and its keys. */
export function incidentTimelineSubject(incident: Incident): { subject: TimelineSubject; span: { from: number; to: number } } {
  return {
    subject: {
      principals: incident.principals.filter((p) => !p.includes(':role/')),
      keys: incident.identities.filter((i) => i.startsWith('key:')).map((i) => i.slice(4)),
      addresses: [],
    },
    span: { from: Date.parse(incident.first_seen) - DAY / 24, to: Date.parse(incident.last_seen) + DAY / 24 },
  }
}

const MAX_CALLS = 5000
/** How far back "new" looks: a principal's usual networks, APIs and regions. */
const HISTORY_DAYS = 30
const HOP_EVENTS = ['AssumeRole', 'GetSessionToken', 'GetFederationToken', 'CreateAccessKey']

/** The sessions a key opened, and theirs, within the span: a key's timeline follows its hops. */
async function keysIssuedFrom(store: Store, keys: string[], from: number, to: number): Promise<string[]> {
  const all = new Set(keys)
  let frontier = keys
  for (let hop = 0; hop < 4 && frontier.length > 0; hop++) {
    const rows = await selectRows(
      store,
      `SELECT DISTINCT JSONExtractString(raw, 'responseElements', 'credentials', 'accessKeyId') AS issued
       FROM events WHERE access_key_id IN {keys:Array(String)} AND event_name IN {hops:Array(String)}
         AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)} AND error_code = ''`,
      { keys: frontier, hops: HOP_EVENTS, from: clickHouseTime(from), to: clickHouseTime(to) },
      z.object({ issued: z.string() }),
    )
    frontier = rows.map((r) => r.issued).filter((k) => k && !all.has(k))
    for (const key of frontier) all.add(key)
  }
  return [...all]
}

/**
 * Every call of the subject in [from, to] in order, with the hops of its identity chain (the
 * key an STS call issued), what is new for its principal (an address, an API or a region not seen
 * in the 30 days before), failures as they were, and the alerts about it in place.
 */
export async function buildTimeline(store: Store, subject: TimelineSubject, range: { from: Date; to: Date }, maxCalls = MAX_CALLS): Promise<Timeline> {
  const from = range.from.getTime()
  const to = range.to.getTime()
  const keys = await keysIssuedFrom(store, subject.keys, from, to)
  const params = { principals: subject.principals, keys, addresses: subject.addresses, from: clickHouseTime(from), to: clickHouseTime(to), limit: maxCalls + 1 }
  const calls = await selectRows(
    store,
    `SELECT toUnixTimestamp64Milli(event_time) AS time, event_name AS event, event_source AS service, principal_arn AS principal,
            access_key_id AS key, coalesce(source_ip, source_host, '') AS address, source_country AS country, aws_region AS region,
            error_code AS error, ifNull(read_only, false) AS read_only,
            JSONExtractString(raw, 'responseElements', 'credentials', 'accessKeyId') AS issued_key, event_id
     FROM events
     WHERE event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
       AND (principal_arn IN {principals:Array(String)} OR access_key_id IN {keys:Array(String)} OR source_ip IN {addresses:Array(String)})
     ORDER BY event_time, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32}`,
    params,
    TimelineCall,
  )
  const truncated = calls.length > maxCalls
  const shown = calls.slice(0, maxCalls)
  const principals = [...new Set(shown.map((c) => c.principal))]

  const history = await selectRows(
    store,
    `SELECT principal_arn AS principal, groupUniqArray(coalesce(source_ip, '')) AS addresses, groupUniqArray(toString(event_name)) AS events, groupUniqArray(toString(aws_region)) AS regions
     FROM events WHERE principal_arn IN {principals:Array(String)} AND event_time < {from:DateTime64(3)} AND event_time >= {since:DateTime64(3)}
     GROUP BY principal_arn`,
    { principals, from: clickHouseTime(from), since: clickHouseTime(from - HISTORY_DAYS * DAY) },
    z.object({ principal: z.string(), addresses: z.array(z.string()), events: z.array(z.string()), regions: z.array(z.string()) }),
  )
  const seen = new Map(history.map((h) => [h.principal, { address: new Set(h.addresses), event: new Set(h.events), region: new Set(h.regions) }]))
  const entries: TimelineEntry[] = shown.map(({ issued_key: issued, ...call }) => {
    const known = seen.get(call.principal) ?? { address: new Set<string>(), event: new Set<string>(), region: new Set<string>() }
    seen.set(call.principal, known)
    const fresh: string[] = []
    if (call.address && !known.address.has(call.address)) fresh.push('new address')
    if (!known.event.has(call.event)) fresh.push('new API')
    if (!known.region.has(call.region)) fresh.push('new region')
    known.address.add(call.address)
    known.event.add(call.event)
    known.region.add(call.region)
    return { type: 'call', ...call, new: fresh, hop: issued ? `issued ${issued}` : '' }
  })

  const alerts = await alertsOfPrincipals(store, principals, { from, to })
  entries.push(...alerts.map((alert) => ({ type: 'alert' as const, time: alert.first_seen, alert })))
  // An alert stands after the call that started it.
  entries.sort((a, b) => a.time.localeCompare(b.time) || Number(a.type === 'alert') - Number(b.type === 'alert'))
  return { from: range.from.toISOString(), to: range.to.toISOString(), entries, truncated }
}

/** The same call by the same identity from the same place with the same outcome. */
function sameCall(a: Extract<TimelineEntry, { type: 'call' }>, b: Extract<TimelineEntry, { type: 'call' }>): boolean {
  return a.principal === b.principal && a.event === b.event && a.address === b.address && a.key === b.key && a.region === b.region && a.error === b.error && !a.hop && !b.hop
}

/** Runs of the same call, one after another, as one row each: 29 `GetPasswordData` read as one line ×29 with its first and last time. */
export function collapseRepeats(entries: readonly TimelineEntry[]): TimelineRow[] {
  const rows: TimelineRow[] = []
  for (const entry of entries) {
    const previous = rows.at(-1)
    if (entry.type === 'call' && previous?.type === 'call' && sameCall(previous, entry)) {
      previous.count++
      previous.last = entry.time
      previous.new = [...new Set([...previous.new, ...entry.new])]
    } else rows.push(entry.type === 'call' ? { ...entry, count: 1, last: entry.time } : entry)
  }
  return rows
}
