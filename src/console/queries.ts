import { z } from 'zod'
import { alertCountsByDetector, latestAlertsOf, type StoredAlert } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { detectorSwitches, type DetectorSwitch } from '../alerts/switches.js'
import type { ReportedKey } from '../reports/credential-age.js'
import { SEVERITIES, type Severity } from '../severity.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis, localTime, utcDays } from '../time.js'

const DAY = 86_400_000
/** How far back a principal's usual networks and hours are read. */
const USUAL_DAYS = 30

/**
 * The end of a principal's own span: their last call at or before `now`, or `now` when none is
 * stored. A page about someone whose calls are last year's looks at last year.
 */
export async function lastCallOf(store: Store, principal: string, now: Date): Promise<Date> {
  const [row] = await selectRows(
    store,
    `SELECT toUnixTimestamp64Milli(max(event_time)) AS last FROM events WHERE principal_arn = {principal:String} AND event_time <= {now:DateTime64(3)} HAVING count() > 0`,
    { principal, now: clickHouseTime(now.getTime()) },
    z.object({ last: z.coerce.number() }),
  )
  return row ? new Date(row.last) : now
}

/** A principal's calls per UTC day of the span, every day of it (none: 0). */
export async function callsPerDay(store: Store, principal: string, span: { from: Date; to: Date }): Promise<{ day: string; count: number }[]> {
  const rows = await selectRows(
    store,
    `SELECT toString(toDate(event_time)) AS day, count() AS count FROM events
     WHERE principal_arn = {principal:String} AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)} GROUP BY day`,
    { principal, from: clickHouseTime(span.from.getTime()), to: clickHouseTime(span.to.getTime()) },
    z.object({ day: z.string(), count: z.coerce.number() }),
  )
  const counts = new Map(rows.map((r) => [r.day, r.count]))
  return utcDays(span.from.getTime(), span.to.getTime()).map((day) => ({ day, count: counts.get(day) ?? 0 }))
}

export interface KeyUse {
  key: string
  first_used: string
  last_used: string
  calls: number
  countries: string[]
  /** The credential report's row for this key, when the report names it. */
  reported: ReportedKey | undefined
}

/** The long-term keys a principal called with in the span, most recently used first. */
export function keysUsed(store: Store, principal: string, span: { from: Date; to: Date }): Promise<Omit<KeyUse, 'reported'>[]> {
  return selectRows(
    store,
    `SELECT access_key_id AS key, toUnixTimestamp64Milli(min(event_time)) AS first_used, toUnixTimestamp64Milli(max(event_time)) AS last_used, count() AS calls,
            arraySort(groupUniqArrayIf(source_country, source_country != '')) AS countries
     FROM events WHERE principal_arn = {principal:String} AND startsWith(access_key_id, 'AKIA')
       AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
     GROUP BY key ORDER BY last_used DESC LIMIT 20`,
    { principal, from: clickHouseTime(span.from.getTime()), to: clickHouseTime(span.to.getTime()) },
    z.object({ key: z.string(), first_used: isoFromMillis, last_used: isoFromMillis, calls: z.coerce.number(), countries: z.array(z.string()) }),
  )
}

export interface Network {
  address: string
  country: string
  asn: number
  as_org: string
  lists: string[]
  days: number
  calls: number
  last_seen: string
}

/** Every address a principal called from in the span, with its country and network when public, most used first. */
export function addressesOf(store: Store, principal: string, span: { from: Date; to: Date }): Promise<Network[]> {
  return selectRows(
    store,
    `SELECT coalesce(source_ip, source_host, '') AS address, any(source_country) AS country, any(source_asn) AS asn, any(source_as_org) AS as_org,
            arraySort(groupUniqArrayArray(source_lists)) AS lists,
            uniqExact(toDate(event_time)) AS days, count() AS calls, toUnixTimestamp64Milli(max(event_time)) AS last_seen
     FROM events WHERE principal_arn = {principal:String} AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
     GROUP BY address ORDER BY calls DESC, address LIMIT 50`,
    { principal, from: clickHouseTime(span.from.getTime()), to: clickHouseTime(span.to.getTime()) },
    z.object({ address: z.string(), country: z.string(), asn: z.coerce.number(), as_org: z.string(), lists: z.array(z.string()), days: z.coerce.number(), calls: z.coerce.number(), last_seen: isoFromMillis }),
  )
}

/**
 * Calls per hour of the week in `timeZone` (Monday 00:00 first), over the 30 days up to `now`: the
 * store keeps hours in UTC per day, and each becomes the local hour it was, summer time included.
 */
export async function hoursOfWeek(store: Store, principal: string, now: Date, timeZone: string): Promise<number[]> {
  const rows = await selectRows(
    store,
    `SELECT toString(day) AS on_day, hour_of_week, sum(calls) AS calls FROM baseline_person_hours
     WHERE principal_arn = {principal:String} AND day >= toDate({from:DateTime64(3)}) AND day <= toDate({now:DateTime64(3)})
     GROUP BY on_day, hour_of_week`,
    { principal, from: clickHouseTime(now.getTime() - USUAL_DAYS * DAY), now: clickHouseTime(now.getTime()) },
    z.object({ on_day: z.string(), hour_of_week: z.coerce.number(), calls: z.coerce.number() }),
  )
  const grid = new Array<number>(7 * 24).fill(0)
  for (const row of rows) {
    const { weekday, hour } = localTime(Date.parse(`${row.on_day}T00:00:00Z`) + (row.hour_of_week % 24) * 3_600_000, timeZone)
    const slot = (weekday - 1) * 24 + hour
    grid[slot] = (grid[slot] ?? 0) + row.calls
  }
  return grid
}

export function recentAlerts(store: Store, principal: string, limit = 50): Promise<StoredAlert[]> {
  return latestAlertsOf(store, principal, limit)
}

export interface DetectorHealth {
  id: string
  title: string
  schedule: string
  last_run: string | null
  window_end: string | null
  /** Alerts it raised in the 7 days up to now. */
  findings: number
  /** Failed runs since this process started. */
  failures: number
  /** How a person last set it, if anyone did. */
  switched: DetectorSwitch | undefined
}

export async function detectorHealth(store: Store, detectors: { id: string; title: string; schedule: string }[], failures: Map<string, number>, now: Date): Promise<DetectorHealth[]> {
  const [marks, counts, switches] = await Promise.all([
    selectRows(store, 'SELECT detector, toUnixTimestamp64Milli(window_end) AS window_end, toUnixTimestamp64Milli(ran_at) AS ran_at FROM detector_watermarks FINAL', {}, z.object({ detector: z.string(), window_end: isoFromMillis, ran_at: isoFromMillis })),
    alertCountsByDetector(store, new Date(now.getTime() - 7 * DAY)),
    detectorSwitches(store),
  ])
  return detectors.map((d) => {
    const mark = marks.find((m) => m.detector === d.id)
    return { ...d, last_run: mark?.ran_at ?? null, window_end: mark?.window_end ?? null, findings: counts.get(d.id) ?? 0, failures: failures.get(d.id) ?? 0, switched: switches.get(d.id) }
  })
}

export interface Freshness {
  account: string
  region: string
  last_event: string
  last_stored: string
  events: number
}

/** Per account and region, the newest event and when it was stored, over the week up to `now`. */
export function dataFreshness(store: Store, now: Date): Promise<Freshness[]> {
  return selectRows(
    store,
    `SELECT account_id AS account, aws_region AS region, toUnixTimestamp64Milli(max(event_time)) AS last_event,
            toUnixTimestamp64Milli(max(ingested_at)) AS last_stored, count() AS events
     FROM events WHERE event_time >= {from:DateTime64(3)} AND event_time <= {now:DateTime64(3)}
     GROUP BY account, region ORDER BY last_event, account, region`,
    { from: clickHouseTime(now.getTime() - 7 * DAY), now: clickHouseTime(now.getTime()) },
    z.object({ account: z.string(), region: z.string(), last_event: isoFromMillis, last_stored: isoFromMillis, events: z.coerce.number() }),
  )
}

export interface OverviewData {
  span: { from: string; to: string }
  days: { day: string; severity: Severity; alerts: number }[]
  /** The day each incident's first alert was seen. */
  incidentDays: string[]
  principals: { principal: string; alerts: number; worst: Severity }[]
  detectors: { detector: string; alerts: number; worst: Severity }[]
  techniques: { technique: string; alerts: number }[]
}

const OVERVIEW_DAYS = 30
const SEVERITY = z.enum(SEVERITIES)
/** The worst severity of a group of alerts, as the engine picks it. */
const WORST = `arrayElement(['info', 'low', 'medium', 'high', 'critical'], max(indexOf(['info', 'low', 'medium', 'high', 'critical'], severity)))`

/**
 * Threat alerts and incidents over `days` days to the end of `until` (by default the newest alert seen by
 * `now`: the store's own span, not the clock's): per day and severity, the principals and detectors
 * with the most, and the ATT&CK techniques they named.
 */
export async function overview(store: Store, now: Date, span: { until?: Date | undefined; days?: number | undefined } = {}): Promise<OverviewData> {
  const [newest] = span.until
    ? [{ last: Math.min(now.getTime(), Math.floor(span.until.getTime() / DAY) * DAY + DAY - 1) }]
    : await selectRows(
        store,
        "SELECT toUnixTimestamp64Milli(max(first_seen)) AS last FROM alerts FINAL WHERE kind = 'threat' AND first_seen <= {now:DateTime64(3)} HAVING count() > 0",
        { now: clickHouseTime(now.getTime()) },
        z.object({ last: z.coerce.number() }),
      )
  const to = newest?.last ?? now.getTime()
  const from = Math.floor(to / DAY) * DAY - ((span.days ?? OVERVIEW_DAYS) - 1) * DAY
  const range = { from: clickHouseTime(from), to: clickHouseTime(to) }
  // Posture findings are states, not acts: they have their own page.
  const inRange = "kind = 'threat' AND first_seen >= {from:DateTime64(3)} AND first_seen <= {to:DateTime64(3)}"
  const [days, incidentDays, principals, detectors, techniques] = await Promise.all([
    selectRows(store, `SELECT toString(toDate(first_seen)) AS day, severity, count() AS alerts FROM alerts FINAL WHERE ${inRange} GROUP BY day, severity`, range, z.object({ day: z.string(), severity: SEVERITY, alerts: z.coerce.number() })),
    selectRows(
      store,
      `SELECT toString(toDate(min(a.first_seen))) AS day FROM (SELECT * FROM incident_members FINAL) AS m INNER JOIN (SELECT * FROM alerts FINAL) AS a ON a.alert_id = m.alert_id
       GROUP BY m.incident_id HAVING min(a.first_seen) >= {from:DateTime64(3)} AND min(a.first_seen) <= {to:DateTime64(3)}`,
      range,
      z.object({ day: z.string() }),
    ),
    selectRows(store, `SELECT principal, count() AS alerts, ${WORST} AS worst FROM alerts FINAL WHERE ${inRange} GROUP BY principal ORDER BY alerts DESC, principal LIMIT 10`, range, z.object({ principal: z.string(), alerts: z.coerce.number(), worst: SEVERITY })),
    selectRows(store, `SELECT detector, count() AS alerts, ${WORST} AS worst FROM alerts FINAL WHERE ${inRange} GROUP BY detector ORDER BY alerts DESC, detector LIMIT 10`, range, z.object({ detector: z.string(), alerts: z.coerce.number(), worst: SEVERITY })),
    selectRows(store, `SELECT arrayJoin(attack) AS technique, count() AS alerts FROM alerts FINAL WHERE ${inRange} GROUP BY technique`, range, z.object({ technique: z.string(), alerts: z.coerce.number() })),
  ])
  return { span: { from: new Date(from).toISOString(), to: new Date(to).toISOString() }, days, incidentDays: incidentDays.map((d) => d.day), principals, detectors, techniques }
}
