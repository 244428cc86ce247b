/** The alerts table, where detectors hand their findings to everything else: its stored row and the reads the others share. */
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { shortPrincipal } from '../principals.js'
import { SEVERITIES, type Severity } from '../severity.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

/**
 * What an alert is about: a threat is an act someone did (told in incidents); a posture finding is a
 * state of the accounts (a key past its rotation, an administrator on a user), kept on its own page.
 */
export const ALERT_KINDS = ['threat', 'posture'] as const
export type AlertKind = (typeof ALERT_KINDS)[number]

export const StoredAlertRow = z.object({
  alert_id: z.string(),
  detector: z.string(),
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(SEVERITIES),
  principal: z.string(),
  account: z.string(),
  title: z.string(),
  first_seen: isoFromMillis,
  last_seen: isoFromMillis,
  evidence: z.string().transform((text): Record<string, unknown> => {
    try {
      const parsed: unknown = JSON.parse(text)
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed }
    } catch {
      return { unparsed: text }
    }
  }),
  why: z.string(),
  attack: z.array(z.string()),
  runbook: z.array(z.string()),
  dedup_key: z.string(),
  detected_at: isoFromMillis,
})

/** One thing a person should look at, before it gets its detector and alert id. */
export interface FindingDraft {
  severity: Severity
  /** Normalised principal ARN, or the account id for a foreign account. */
  principal: string
  account: string
  title: string
  /** ISO 8601. */
  firstSeen: string
  /** ISO 8601. */
  lastSeen: string
  evidence: Record<string, unknown>
  /** Why a person should look: the baseline or rule it broke, in words and numbers. */
  why: string
  /** What makes two findings the same finding: the same alert, however often it is found. */
  dedupKey: string
}

export interface Finding extends FindingDraft {
  detector: string
  /** A threat when absent. */
  kind?: AlertKind
  alertId: string
  attack: string[]
  runbook: string[]
}

/** An alert as the alerts table holds it, times in ISO 8601. */
export type StoredAlert = z.output<typeof StoredAlertRow>

/** The alerts table's columns as StoredAlertRow reads them. */
export const ALERT_COLUMNS = `alert_id, detector, kind, severity, principal, account, title,
  toUnixTimestamp64Milli(first_seen) AS first_seen, toUnixTimestamp64Milli(last_seen) AS last_seen,
  evidence, why, attack, runbook, dedup_key, toUnixTimestamp64Milli(detected_at) AS detected_at`

/** An alert's title with its principal named as a person reads it: `bert-jan called DeleteTrail …`. */
export function alertHeadline(alert: { title: string; principal: string }): string {
  return alert.title.replaceAll(alert.principal, shortPrincipal(alert.principal))
}

/** One sighting of an alert: the alert as of its last_seen (`id@epoch ms`). New activity makes a new occurrence. */
export function occurrenceKey(alertId: string, lastSeen: string): string {
  return `${alertId}@${String(Date.parse(lastSeen))}`
}

/** Occurrences detected by `now` that the alerter has not routed yet, oldest first. */
export async function unroutedAlerts(store: Store, now: Date): Promise<StoredAlert[]> {
  // Filtered in a subquery: the outer aliases would otherwise shadow the columns in WHERE.
  return selectRows(
    store,
    `SELECT ${ALERT_COLUMNS} FROM (
       SELECT * FROM alerts FINAL
       WHERE detected_at <= {now:DateTime64(3)}
         AND (alert_id, last_seen) NOT IN (SELECT alert_id, occurrence FROM alert_routes))
     ORDER BY detected_at, alert_id`,
    { now: clickHouseTime(now.getTime()) },
    StoredAlertRow,
  )
}

/** Occurrences not routed yet, however old: what waits for the alerter. */
export async function unroutedCount(store: Store): Promise<number> {
  const [row] = await selectRows(store, 'SELECT count() AS n FROM alerts FINAL WHERE (alert_id, last_seen) NOT IN (SELECT alert_id, occurrence FROM alert_routes)', {}, z.object({ n: z.coerce.number() }))
  return row?.n ?? 0
}

/** One detector's alerts detected since `since`, the latest sighting first. */
export function alertsOfDetectorSince(store: Store, detector: string, since: Date): Promise<StoredAlert[]> {
  return selectRows(
    store,
    `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM alerts FINAL WHERE detector = {detector:String} AND detected_at >= {since:DateTime64(3)}) ORDER BY last_seen DESC`,
    { detector, since: clickHouseTime(since.getTime()) },
    StoredAlertRow,
  )
}

/** How many alerts each detector raised since `since`. */
export async function alertCountsByDetector(store: Store, since: Date): Promise<Map<string, number>> {
  const rows = await selectRows(store, 'SELECT detector, count() AS n FROM alerts FINAL WHERE detected_at >= {since:DateTime64(3)} GROUP BY detector', { since: clickHouseTime(since.getTime()) }, z.object({ detector: z.string(), n: z.coerce.number() }))
  return new Map(rows.map((row) => [row.detector, row.n]))
}

/** Alerts on these principals seen at some time in the span (epoch ms). */
export function alertsOfPrincipals(store: Store, principals: string[], span: { from: number; to: number }): Promise<StoredAlert[]> {
  return selectRows(
    store,
    `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM alerts FINAL WHERE principal IN {principals:Array(String)} AND last_seen >= {from:DateTime64(3)} AND first_seen <= {to:DateTime64(3)})`,
    { principals, from: clickHouseTime(span.from), to: clickHouseTime(span.to) },
    StoredAlertRow,
  )
}

/** A principal's latest alerts, the latest sighting first. */
export function latestAlertsOf(store: Store, principal: string, limit: number): Promise<StoredAlert[]> {
  return selectRows(store, `SELECT ${ALERT_COLUMNS} FROM alerts FINAL WHERE principal = {principal:String} ORDER BY last_seen DESC LIMIT {limit:UInt32}`, { principal, limit }, StoredAlertRow)
}

/**
 * Every alert first seen in [from, to), oldest first, a page at a time so that an export of a year
 * holds one page in memory; the page after one starts after its last alert.
 */
export async function* alertsFirstSeenBetween(store: Store, span: { from: number; to: number }, pageSize = 5_000): AsyncGenerator<StoredAlert> {
  let after = { first_seen: clickHouseTime(span.from), alert_id: '' }
  for (;;) {
    const page = await selectRows(
      store,
      `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM alerts FINAL WHERE first_seen < {to:DateTime64(3)} AND (first_seen, alert_id) > ({after:DateTime64(3)}, {afterId:String}) AND first_seen >= {from:DateTime64(3)})
       ORDER BY first_seen, alert_id LIMIT {limit:UInt32}`,
      { from: clickHouseTime(span.from), to: clickHouseTime(span.to), after: after.first_seen, afterId: after.alert_id, limit: pageSize },
      StoredAlertRow,
    )
    yield* page
    const last = page.at(-1)
    if (!last || page.length < pageSize) return
    after = { first_seen: clickHouseTime(Date.parse(last.first_seen)), alert_id: last.alert_id }
  }
}

export async function alertsById(store: Store, ids: string[]): Promise<Map<string, StoredAlert>> {
  if (ids.length === 0) return new Map()
  const alerts = await selectRows(store, `SELECT ${ALERT_COLUMNS} FROM alerts FINAL WHERE alert_id IN {ids:Array(String)}`, { ids }, StoredAlertRow)
  return new Map(alerts.map((alert) => [alert.alert_id, alert]))
}

const StoredSpan = z.object({ alert_id: z.string(), first_seen: z.string(), last_seen: z.string() })

/** Writes findings to the alerts table; an alert found again keeps its first sighting. */
export async function storeFindings(store: Store, findings: Finding[], detectedAt: Date): Promise<void> {
  if (findings.length === 0) return
  const spans = await selectRows(
    store,
    `SELECT alert_id, toString(min(first_seen)) AS first_seen, toString(max(last_seen)) AS last_seen
     FROM alerts WHERE alert_id IN {ids:Array(String)} GROUP BY alert_id`,
    { ids: findings.map((f) => f.alertId) },
    StoredSpan,
  )
  const known = new Map(spans.map((row) => [row.alert_id, row]))
  const at = clickHouseTime(detectedAt.getTime())
  const rows = findings.map((finding) => {
    const earlier = known.get(finding.alertId)
    const firstSeen = clickHouseTime(Date.parse(finding.firstSeen))
    const lastSeen = clickHouseTime(Date.parse(finding.lastSeen))
    return {
      alert_id: finding.alertId,
      detector: finding.detector,
      kind: finding.kind ?? 'threat',
      severity: finding.severity,
      principal: finding.principal,
      account: finding.account,
      title: finding.title,
      first_seen: earlier && earlier.first_seen < firstSeen ? earlier.first_seen : firstSeen,
      last_seen: earlier && earlier.last_seen > lastSeen ? earlier.last_seen : lastSeen,
      evidence: JSON.stringify(finding.evidence),
      why: finding.why,
      attack: finding.attack,
      runbook: finding.runbook,
      dedup_key: finding.dedupKey,
      detected_at: at,
    }
  })
  await store.client.insert({ table: 'alerts', values: rows, format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
}
