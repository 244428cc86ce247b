import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import type { StoredAlert } from './alerts.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

const DAY = 86_400_000

const Call = z.object({ event: z.string(), service: z.string(), calls: z.coerce.number(), failed: z.coerce.number() })
const Source = z.object({ address: z.string(), country: z.string(), asn: z.coerce.number(), org: z.string(), calls: z.coerce.number() })
const Recent = z.object({
  time: isoFromMillis,
  event: z.string(),
  service: z.string(),
  address: z.string(),
  region: z.string(),
  error: z.string(),
  user_agent: z.string(),
  event_id: z.string(),
})
const Kind = z.object({ actor_kind: z.string(), calls: z.coerce.number() })

/** What the principal did while the alert was active, from the events table. */
export interface AlertActivity {
  /** The span read: the alert's last day, so a long-lived alert still reads a bounded slice. */
  from: string
  to: string
  actorKinds: string[]
  calls: z.output<typeof Call>[]
  sources: z.output<typeof Source>[]
  recent: z.output<typeof Recent>[]
}

export async function alertActivity(store: Store, alert: StoredAlert): Promise<AlertActivity> {
  const toMs = Date.parse(alert.last_seen)
  const fromMs = Math.max(Date.parse(alert.first_seen), toMs - DAY)
  const params = { account: alert.account, principal: alert.principal, from: clickHouseTime(fromMs), to: clickHouseTime(toMs) }
  const where = `account_id = {account:String} AND principal_arn = {principal:String}
                 AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}`
  const rows = <T extends z.ZodType>(query: string, schema: T): Promise<z.output<T>[]> => selectRows(store, query, params, schema)
  const [kinds, calls, sources, recent] = await Promise.all([
    rows(`SELECT actor_kind, uniqExact(event_id) AS calls FROM events WHERE ${where} GROUP BY actor_kind ORDER BY calls DESC`, Kind),
    rows(
      `SELECT event_name AS event, event_source AS service, uniqExact(event_id) AS calls, uniqExactIf(event_id, error_code != '') AS failed
       FROM events WHERE ${where} GROUP BY event, service ORDER BY calls DESC, event LIMIT 8`,
      Call,
    ),
    rows(
      `SELECT coalesce(source_ip, source_host, '') AS address, any(source_country) AS country, any(source_asn) AS asn,
              any(source_as_org) AS org, uniqExact(event_id) AS calls
       FROM events WHERE ${where} GROUP BY address ORDER BY calls DESC, address LIMIT 5`,
      Source,
    ),
    rows(
      `SELECT toUnixTimestamp64Milli(event_time) AS time, event_name AS event, event_source AS service,
              coalesce(source_ip, source_host, '') AS address, aws_region AS region, error_code AS error, user_agent, event_id
       FROM events WHERE ${where} ORDER BY event_time DESC, event_id LIMIT 1 BY event_id LIMIT 10`,
      Recent,
    ),
  ])
  return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), actorKinds: kinds.map((k) => k.actor_kind), calls, sources, recent }
}
