import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import type { Identity } from './chain.js'

/** What a stored alert must say for its events to be found again. */
export interface AlertSpan {
  principal: string
  account: string
  first_seen: string
  last_seen: string
  evidence: Record<string, unknown>
}

const TriggerEvent = z.object({
  time: isoFromMillis,
  event: z.string(),
  service: z.string(),
  address: z.string(),
  public: z.coerce.boolean(),
  country: z.string(),
  asn: z.coerce.number(),
  as_org: z.string(),
  lists: z.array(z.string()),
  region: z.string(),
  error: z.string(),
  user_agent: z.string(),
  key: z.string(),
  source_identity: z.string(),
  request: z.string(),
  event_id: z.string(),
})
export type TriggerEvent = z.output<typeof TriggerEvent>

const EVENT_NAME = /^[A-Z][A-Za-z0-9]{2,127}$/
const ACCESS_KEY = /^(AKIA|ASIA)[A-Z0-9]{12,124}$/

/** The API calls an alert's evidence names: the event, the events, the rule's event names. */
export function evidenceEventNames(evidence: Record<string, unknown>): string[] {
  const names = new Set<string>()
  for (const field of ['event', 'events', 'event_names', 'sensitive_events']) {
    const value = evidence[field]
    for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string' && EVENT_NAME.test(item)) names.add(item)
  }
  return [...names].sort()
}

/** Alerts whose calls one query reads: each event of theirs is compared with every span of the batch. */
const ALERTS_PER_QUERY = 100

/**
 * The calls that made each alert: the principal's events in the alert's span with the names its
 * evidence gives, oldest first; all its events in the span when the evidence names none (or none of
 * them is stored). At most `limit` per alert, a batch of alerts in one scan: each event joins the
 * spans of the batch it falls in.
 */
export async function triggerEvents(store: Store, alerts: (AlertSpan & { alert_id: string })[], limit = 200): Promise<Map<string, TriggerEvent[]>> {
  const found = new Map<string, TriggerEvent[]>(alerts.map((a) => [a.alert_id, []]))
  // Alerts close in time share a batch, so each scan reads a short stretch.
  const ordered = [...alerts].sort((a, b) => a.first_seen.localeCompare(b.first_seen))
  for (let start = 0; start < ordered.length; start += ALERTS_PER_QUERY) {
    const batch = ordered.slice(start, start + ALERTS_PER_QUERY)
    const froms = batch.map((a) => Date.parse(a.first_seen))
    const tos = batch.map((a) => Date.parse(a.last_seen))
    const rows = await selectRows(
      store,
      `SELECT * EXCEPT (named, any_named) FROM (
         SELECT *, max(named) OVER (PARTITION BY alert_id) AS any_named FROM (
           SELECT {ids:Array(String)}[span] AS alert_id, toUnixTimestamp64Milli(event_time) AS time, event_name AS event, event_source AS service,
                  coalesce(source_ip, source_host, '') AS address, source_network = 'public' AS public, source_country AS country,
                  source_asn AS asn, source_as_org AS as_org, source_lists AS lists, aws_region AS region, error_code AS error, user_agent, access_key_id AS key,
                  JSONExtractString(raw, 'userIdentity', 'sessionContext', 'sourceIdentity') AS source_identity,
                  JSONExtractRaw(raw, 'requestParameters') AS request, event_id,
                  has({names:Array(Array(String))}[span], event_name) AS named
           FROM events
           ARRAY JOIN arrayFilter(i -> {accounts:Array(String)}[i] = account_id AND {principals:Array(String)}[i] = principal_arn
                                       AND event_time >= {froms:Array(DateTime64(3))}[i] AND event_time <= {tos:Array(DateTime64(3))}[i],
                                  range(1, {count:UInt32} + 1)) AS span
           WHERE principal_arn IN {principals:Array(String)} AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
           LIMIT 1 BY alert_id, event_id))
       WHERE named OR NOT any_named
       ORDER BY alert_id, time, event_id LIMIT {limit:UInt32} BY alert_id`,
      {
        ids: batch.map((a) => a.alert_id),
        accounts: batch.map((a) => a.account),
        principals: batch.map((a) => a.principal),
        froms: froms.map(clickHouseTime),
        tos: tos.map(clickHouseTime),
        names: batch.map((a) => evidenceEventNames(a.evidence)),
        count: batch.length,
        from: clickHouseTime(Math.min(...froms)),
        to: clickHouseTime(Math.max(...tos)),
        limit,
      },
      TriggerEvent.extend({ alert_id: z.string() }),
    )
    for (const { alert_id, ...event } of rows) found.get(alert_id)?.push(event)
  }
  return found
}

/** `arn:aws:iam::ACCOUNT:role/path/NAME` → [ACCOUNT, NAME]. */
function accountAndName(arn: string): [string, string] {
  const parts = arn.split(':')
  return [parts[4] ?? '', arn.split('/').pop() ?? '']
}

/** Who an alert is about, as identities: the principal (a role by name only), and every key, source identity and public address its calls used. */
export function alertIdentities(alert: AlertSpan, events: TriggerEvent[]): Identity[] {
  const identities = new Set<Identity>()
  const [account, name] = accountAndName(alert.principal)
  if (/^arn:aws[\w-]*:iam::\d+:role\//.test(alert.principal)) identities.add(`role:${account}:${name}`)
  else if (alert.principal) identities.add(`principal:${alert.principal}`)
  if (/^arn:aws[\w-]*:iam::\d+:user\//.test(alert.principal)) identities.add(`user:${account}:${name}`)
  for (const value of Object.values(alert.evidence)) if (typeof value === 'string' && ACCESS_KEY.test(value)) identities.add(`key:${value}`)
  for (const event of events) {
    if (event.key) identities.add(`key:${event.key}`)
    if (event.source_identity) identities.add(`source-identity:${event.source_identity}`)
    if (event.public && event.address) identities.add(`ip:${event.address}`)
  }
  return [...identities].sort()
}
