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

/** Alerts whose calls one query reads: enough to keep the query text small. */
const ALERTS_PER_QUERY = 100

/**
 * The calls that made each alert: the principal's events in the alert's span with the names its
 * evidence gives, oldest first; all its events in the span when the evidence names none (or none of
 * them is stored). At most `limit` per alert, every alert of a batch in one query.
 */
export async function triggerEvents(store: Store, alerts: (AlertSpan & { alert_id: string })[], limit = 200): Promise<Map<string, TriggerEvent[]>> {
  const found = new Map<string, TriggerEvent[]>(alerts.map((a) => [a.alert_id, []]))
  for (let start = 0; start < alerts.length; start += ALERTS_PER_QUERY) {
    const batch = alerts.slice(start, start + ALERTS_PER_QUERY)
    const params: Record<string, unknown> = { limit }
    const selects = batch.map((alert, i) => {
      Object.assign(params, {
        [`id${String(i)}`]: alert.alert_id,
        [`account${String(i)}`]: alert.account,
        [`principal${String(i)}`]: alert.principal,
        [`from${String(i)}`]: clickHouseTime(Date.parse(alert.first_seen)),
        [`to${String(i)}`]: clickHouseTime(Date.parse(alert.last_seen)),
        [`names${String(i)}`]: evidenceEventNames(alert.evidence),
      })
      const n = String(i)
      return `(SELECT {id${n}:String} AS alert_id, * EXCEPT (named, any_named) FROM (
         SELECT toUnixTimestamp64Milli(event_time) AS time, event_name AS event, event_source AS service,
                coalesce(source_ip, source_host, '') AS address, source_network = 'public' AS public, source_country AS country,
                aws_region AS region, error_code AS error, user_agent, access_key_id AS key,
                JSONExtractString(raw, 'userIdentity', 'sessionContext', 'sourceIdentity') AS source_identity,
                JSONExtractRaw(raw, 'requestParameters') AS request, event_id,
                has({names${n}:Array(String)}, event_name) AS named, max(named) OVER () AS any_named
         FROM events
         WHERE account_id = {account${n}:String} AND principal_arn = {principal${n}:String}
           AND event_time >= {from${n}:DateTime64(3)} AND event_time <= {to${n}:DateTime64(3)})
       WHERE named OR NOT any_named
       ORDER BY time, event_id LIMIT 1 BY event_id LIMIT {limit:UInt32})`
    })
    const rows = await selectRows(store, selects.join('\nUNION ALL\n'), params, TriggerEvent.extend({ alert_id: z.string() }))
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
