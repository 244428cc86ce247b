import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import type { PolicyDocument, Statement } from './policy.js'

/** The IAM prefix of a service whose CloudTrail eventSource says otherwise. */
const PREFIXES: Record<string, string> = { monitoring: 'cloudwatch', email: 'ses' }
/** API names CloudTrail records that are not the IAM action's name. */
const ACTIONS: Record<string, string> = { 's3:ListBuckets': 's3:ListAllMyBuckets' }
/** More resources than this for one action, and the statement says `*` for it. */
const MAX_RESOURCES = 20

/** `lambda.amazonaws.com` + `GetFunction20150331v2` → `lambda:GetFunction`: the IAM action a recorded call needed. */
export function actionOf(eventSource: string, eventName: string): string {
  const service = eventSource.replace(/\.amazonaws\.com$/, '')
  const action = `${PREFIXES[service] ?? service}:${eventName.replace(/\d{8}(v\d+)?$/, '')}`
  return ACTIONS[action] ?? action
}

export interface UsedAction {
  action: string
  calls: number
  last_used: string
  /** Every resource ARN the calls recorded. */
  resources: string[]
  /** Calls that recorded no resource: the action cannot be narrowed to the ones listed. */
  without_resources: number
}

/** Refusals are not use: a call AWS denied needs no permission. Other errors (no such bucket policy) were allowed. */
const DENIED = '(?i)(AccessDenied|Unauthorized|Forbidden|NotAuthorized)'

/** What a principal called with success (or failing for a reason other than a refusal) in [from, to]. */
export async function usedActions(store: Store, principal: string, range: { from: Date; to: Date }): Promise<UsedAction[]> {
  const rows = await selectRows(
    store,
    `SELECT event_source, event_name, count() AS calls, toUnixTimestamp64Milli(max(event_time)) AS last_used,
            groupUniqArrayArray(arrayFilter(a -> a != '', arrayMap(r -> JSONExtractString(r, 'ARN'), JSONExtractArrayRaw(raw, 'resources')))) AS resources,
            countIf(JSONLength(raw, 'resources') = 0) AS without_resources
     FROM events
     WHERE principal_arn = {principal:String} AND event_time >= {from:DateTime64(3)} AND event_time <= {to:DateTime64(3)}
       AND NOT match(error_code, {denied:String}) AND event_type != 'AwsConsoleSignIn' AND event_source != 'signin.amazonaws.com'
     GROUP BY event_source, event_name`,
    { principal, from: clickHouseTime(range.from.getTime()), to: clickHouseTime(range.to.getTime()), denied: DENIED },
    z.object({ event_source: z.string(), event_name: z.string(), calls: z.coerce.number(), last_used: isoFromMillis, resources: z.array(z.string()), without_resources: z.coerce.number() }),
  )
  const byAction = new Map<string, UsedAction>()
  for (const row of rows) {
    const action = actionOf(row.event_source, row.event_name)
    const known = byAction.get(action)
    byAction.set(action, {
      action,
      calls: (known?.calls ?? 0) + row.calls,
      last_used: known && known.last_used > row.last_used ? known.last_used : row.last_used,
      resources: [...new Set([...(known?.resources ?? []), ...row.resources])].sort(),
      without_resources: (known?.without_resources ?? 0) + row.without_resources,
    })
  }
  return [...byAction.values()].sort((a, b) => a.action.localeCompare(b.action))
}

/**
 * A least-privilege identity policy from what was used: each action on the resources its calls
 * named when every call named some (and not too many), otherwise on `*`; actions with the same
 * resources share a statement, one statement per service.
 */
export function suggestPolicy(used: UsedAction[]): PolicyDocument {
  const groups = new Map<string, { service: string; actions: string[]; resources: string[] }>()
  for (const use of used) {
    const service = use.action.split(':')[0] ?? ''
    const narrow = use.without_resources === 0 && use.resources.length > 0 && use.resources.length <= MAX_RESOURCES
    const resources = narrow ? use.resources : ['*']
    const key = `${service}|${resources.join(',')}`
    const group = groups.get(key) ?? { service, actions: [], resources }
    group.actions.push(use.action)
    groups.set(key, group)
  }
  const counts = new Map<string, number>()
  const statements: Statement[] = [...groups.values()].map((group) => {
    const n = (counts.get(group.service) ?? 0) + 1
    counts.set(group.service, n)
    const sid = `${group.service.replace(/[^A-Za-z0-9]/g, '')}${n > 1 ? String(n) : ''}`
    return { Sid: sid.charAt(0).toUpperCase() + sid.slice(1), Effect: 'Allow', Action: group.actions.sort(), Resource: group.resources.length === 1 ? (group.resources[0] ?? '*') : group.resources }
  })
  return { Version: '2012-10-17', Statement: statements }
}
