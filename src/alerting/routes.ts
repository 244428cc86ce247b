import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { SEVERITIES, type Severity } from '../severity.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

/** What became of one alert occurrence for one recipient; `incident`: it joined an incident already emailed, and told nothing new. */
export type Disposition = 'immediate' | 'digest' | 'suppressed' | 'unrouted' | 'incident'

export interface Route {
  alert_id: string
  /** The alert's last_seen when it was routed (ISO 8601). */
  occurrence: string
  /** '' when the occurrence reached nobody. */
  recipient: string
  /** `detector|dedup key`: the same finding found again within the window is a repeat. */
  group_key: string
  /** The alert's severity when routed: a repeat more severe than its email is news. */
  severity: Severity
  disposition: Disposition
  reason: string
  rule_id: string
  /** For a digest entry: when it may go out (ISO 8601). */
  due_at: string
  routed_at: string
}

export async function recordRoutes(store: Store, routes: Route[]): Promise<void> {
  if (routes.length === 0) return
  await store.client.insert({
    table: 'alert_routes',
    values: routes.map((r) => ({
      ...r,
      occurrence: clickHouseTime(Date.parse(r.occurrence)),
      due_at: clickHouseTime(Date.parse(r.due_at)),
      routed_at: clickHouseTime(Date.parse(r.routed_at)),
    })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

const Sent = z.object({ recipient: z.string(), incident: z.string(), group_key: z.string(), severity: z.enum(SEVERITIES), routed_at: isoFromMillis })

/** Emails sent at once since `since`: per recipient and group, for dedup windows and the rate limit. */
export function immediateRoutesSince(store: Store, since: Date, now: Date): Promise<z.output<typeof Sent>[]> {
  return selectRows(
    store,
    `SELECT r.recipient AS recipient, if(m.incident_id = '', r.alert_id, m.incident_id) AS incident, r.group_key AS group_key,
            toString(r.severity) AS severity, toUnixTimestamp64Milli(r.routed_at) AS routed_at
     FROM (SELECT * FROM alert_routes FINAL
           WHERE disposition = 'immediate' AND routed_at >= {since:DateTime64(3)} AND routed_at <= {now:DateTime64(3)}) AS r
     LEFT JOIN (SELECT alert_id, incident_id FROM incident_members FINAL) AS m ON m.alert_id = r.alert_id
     ORDER BY routed_at`,
    { since: clickHouseTime(since.getTime()), now: clickHouseTime(now.getTime()) },
    Sent,
  )
}

/** Of these alerts, those an earlier occurrence of which reached someone. */
export async function toldAlerts(store: Store, alertIds: string[]): Promise<Set<string>> {
  if (alertIds.length === 0) return new Set()
  const rows = await selectRows(
    store,
    "SELECT DISTINCT alert_id FROM alert_routes WHERE alert_id IN {ids:Array(String)} AND recipient != '' AND disposition IN ('immediate', 'digest', 'incident')",
    { ids: alertIds },
    z.object({ alert_id: z.string() }),
  )
  return new Set(rows.map((r) => r.alert_id))
}

const Queued = z.object({
  recipient: z.string(),
  alert_id: z.string(),
  occurrence: isoFromMillis,
  group_key: z.string(),
  reason: z.string(),
  due_at: isoFromMillis,
})
export type QueuedDigestEntry = z.output<typeof Queued>

/** Digest entries no digest message has taken yet. */
export function queuedDigestEntries(store: Store): Promise<QueuedDigestEntry[]> {
  return selectRows(
    store,
    `SELECT recipient, alert_id, toUnixTimestamp64Milli(occurrence) AS occurrence, group_key, reason,
            toUnixTimestamp64Milli(due_at) AS due_at
     FROM (
       SELECT * FROM alert_routes FINAL
       WHERE disposition = 'digest'
         AND (recipient, concat(alert_id, '@', toString(toUnixTimestamp64Milli(occurrence))))
             NOT IN (SELECT recipient, arrayJoin(items) FROM notifications WHERE kind = 'digest'))
     ORDER BY due_at, alert_id`,
    {},
    Queued,
  )
}

const Suppressed = z.object({ rule_id: z.string(), alerts: z.coerce.number() })

/** How many alert occurrences each rule silenced in [from, to): the weekly report shows them. */
export async function suppressedCounts(store: Store, from: Date, to: Date): Promise<Map<string, number>> {
  const rows = await selectRows(
    store,
    `SELECT rule_id, uniqExact(alert_id, occurrence) AS alerts FROM alert_routes FINAL
     WHERE disposition = 'suppressed' AND routed_at >= {from:DateTime64(3)} AND routed_at < {to:DateTime64(3)}
     GROUP BY rule_id`,
    { from: clickHouseTime(from.getTime()), to: clickHouseTime(to.getTime()) },
    Suppressed,
  )
  return new Map(rows.map((row) => [row.rule_id, row.alerts]))
}
