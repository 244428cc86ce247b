import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { parseAuthorizationDetails, type AuthorizationDetails } from './authorization.js'
import { escalationGraph, identityLabel, pathsFrom, pathsToAdministrator, smallestCut, type EscalationGraph, type Path, type Step } from './paths.js'
import { plural } from '../text.js'
import type { Severity } from '../severity.js'

/** The detector that tells who can become administrator: its findings are not weighed by the paths they report. */
export const ESCALATION_DETECTOR = 'escalation-paths'

/** Each account's latest snapshot at `at`, parsed. */
async function latestDetails(store: Store, at: Date): Promise<{ account: string; takenAt: string; details: AuthorizationDetails }[]> {
  const rows = await selectRows(
    store,
    `SELECT account_id, toUnixTimestamp64Milli(taken_at) AS taken_ms, document FROM iam_snapshots FINAL
     WHERE (account_id, taken_at) IN (SELECT account_id, max(taken_at) FROM iam_snapshots WHERE taken_at <= {at:DateTime64(3)} GROUP BY account_id)
     ORDER BY account_id`,
    { at: clickHouseTime(at.getTime()) },
    z.object({ account_id: z.string(), taken_ms: isoFromMillis, document: z.string() }),
  )
  return rows.map((row) => ({ account: row.account_id, takenAt: row.taken_ms, details: parseAuthorizationDetails(row.document, `the IAM snapshot of ${row.account_id} taken at ${row.taken_ms}`) }))
}

/** The escalation graph of the organisation as its latest snapshots at `at` describe it. */
export async function graphAt(store: Store, at: Date, options: { alsoReach?: string } = {}): Promise<{ graph: EscalationGraph; accounts: number }> {
  const snapshots = await latestDetails(store, at)
  return { graph: escalationGraph(snapshots, options), accounts: snapshots.length }
}

/** Paths kept per identity for its picture: enough to show its ways, not every one. */
const DRAWN_PATHS = 5

/** One identity that can become administrator, as iam_reach keeps it. */
export interface Reach {
  principal: string
  account: string
  kind: string
  name: string
  path: Path
  /** The shortest path to each administrator it can become, up to five. */
  paths: Path[]
  /** The fewest steps whose removal leaves it no way; undefined when there are too many ways to name. */
  cut: Step[] | undefined
}

/**
 * Computes what every identity can become from the latest snapshots at `asOf` and keeps it: the
 * shortest path to administrator of each identity that has one, and its smallest cut.
 */
export async function recordReach(store: Store, asOf: Date, now: Date): Promise<{ identities: number; reaching: number }> {
  const { graph } = await graphAt(store, asOf)
  const reaching = pathsToAdministrator(graph)
  const at = clickHouseTime(asOf.getTime())
  const computedAt = clickHouseTime(now.getTime())
  const rows = reaching.map((path) => {
    const identity = graph.identities.get(path.from)
    const cut = smallestCut(graph, path.from)
    const paths = pathsFrom(graph, path.from, undefined, DRAWN_PATHS)
    return { as_of: at, principal: path.from, account_id: identity?.account ?? '', kind: identity?.kind ?? '', name: identity?.name ?? '', steps: path.steps.length, path: JSON.stringify(path), paths: JSON.stringify(paths), cut: cut ? JSON.stringify(cut) : '', computed_at: computedAt }
  })
  const marker = { as_of: at, principal: '', account_id: '', kind: '', name: '', steps: 0, path: '', paths: '', cut: '', computed_at: computedAt }
  await store.client.insert({ table: 'iam_reach', values: [marker, ...rows], format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
  return { identities: [...graph.identities.values()].filter((i) => i.kind !== 'administrator').length, reaching: rows.length }
}

const ReachRow = z.object({ principal: z.string(), account_id: z.string(), kind: z.string(), name: z.string(), path: z.string(), paths: z.string(), cut: z.string() })

const StepShape = z.object({ from: z.string(), to: z.string(), action: z.string(), via: z.array(z.string()), conditions: z.array(z.string()) })
const PathShape = z.object({ from: z.string(), to: z.string(), steps: z.array(StepShape) })

/**
 * The user or role a principal ARN is, as `ACCOUNT|KIND|NAME`: a role's session is the role, and a
 * path in an ARN does not change who it is. Undefined for anything else (root, a service).
 */
export function identityKey(arn: string): string | undefined {
  const match = /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/.exec(arn)
  if (!match) return undefined
  const [, account = '', kind = '', rest = ''] = match
  const parts = rest.split('/')
  // An assumed role is ROLE/SESSION; a user or role ARN may carry a path before its name.
  const name = kind === 'assumed-role' ? (parts[0] ?? '') : (parts.at(-1) ?? '')
  return `${account}|${kind === 'assumed-role' ? 'role' : kind}|${name}`
}

/** Of these principals, those that could become administrator in the latest computation at `at`, by the ARN given. */
export async function reachOf(store: Store, principals: string[], at: Date): Promise<Map<string, Reach>> {
  const keys = new Map(principals.flatMap((arn) => {
    const key = identityKey(arn)
    return key ? [[arn, key] as const] : []
  }))
  if (keys.size === 0) return new Map()
  const rows = await selectRows(
    store,
    `SELECT principal, account_id, kind, name, path, paths, cut FROM iam_reach FINAL
     WHERE as_of = (SELECT max(as_of) FROM iam_reach WHERE as_of <= {at:DateTime64(3)})
       AND principal != '' AND concat(account_id, '|', kind, '|', name) IN {keys:Array(String)}`,
    { at: clickHouseTime(at.getTime()), keys: [...new Set(keys.values())] },
    ReachRow,
  )
  const byKey = new Map(rows.map((row) => [`${row.account_id}|${row.kind}|${row.name}`, reachFromRow(row)]))
  return new Map([...keys].flatMap(([arn, key]) => {
    const reach = byKey.get(key)
    return reach ? [[arn, reach]] : []
  }))
}

export function reachFromRow(row: z.output<typeof ReachRow>): Reach {
  return {
    principal: row.principal,
    account: row.account_id,
    kind: row.kind,
    name: row.name,
    path: PathShape.parse(JSON.parse(row.path)),
    paths: z.array(PathShape).parse(JSON.parse(row.paths)),
    cut: row.cut ? z.array(StepShape).parse(JSON.parse(row.cut)) : undefined,
  }
}

/**
 * Every identity that could become administrator in the latest computation at `{now}`, with the
 * time of the first computation that found it so (`since`) and whether the computation before
 * (when there was one) did not (`appeared`).
 */
export const REACHING_SQL = `WITH
      (SELECT max(as_of) FROM iam_reach WHERE as_of <= {now:DateTime64(3)}) AS latest,
      (SELECT max(as_of) FROM iam_reach WHERE as_of < latest) AS before
    SELECT r.principal AS principal, r.account_id AS account_id, toString(r.kind) AS kind, r.name AS name, r.path AS path, r.paths AS paths, r.cut AS cut,
           toUnixTimestamp64Milli(r.as_of) AS as_of, toUnixTimestamp64Milli(s.since) AS since,
           before > toDateTime64(0, 3) AND r.principal NOT IN (SELECT principal FROM iam_reach FINAL WHERE as_of = before) AS appeared
    FROM iam_reach AS r FINAL
    LEFT JOIN (SELECT principal, min(as_of) AS since FROM iam_reach WHERE as_of <= {now:DateTime64(3)} AND principal != '' GROUP BY principal) AS s ON s.principal = r.principal
    WHERE r.as_of = latest AND r.principal != ''
    ORDER BY principal`

export const ReachingRow = ReachRow.extend({
  as_of: isoFromMillis,
  /** The first computation in which it could. */
  since: isoFromMillis,
  /** It could not in the computation before, which did run. */
  appeared: z.coerce.boolean(),
})

/** REACHING_SQL's rows at `at`: what the escalation-paths detector reads, for a report. */
export async function reachingAt(store: Store, at: Date): Promise<{ reach: Reach; since: string }[]> {
  const rows = await selectRows(store, REACHING_SQL, { now: clickHouseTime(at.getTime()) }, ReachingRow)
  return rows.map((row) => ({ reach: reachFromRow(row), since: row.since }))
}

/** What a path hangs on that a snapshot cannot judge, each once. */
export const conditionsOf = (path: Path): string[] => [...new Set(path.steps.flatMap((s) => s.conditions))]

/** How a reach is told: `User dev can become administrator in 1 step`, high, or medium when it hangs on conditions. */
export function reachVerdict(reach: Pick<Reach, 'principal' | 'path'>): { title: string; severity: Severity } {
  const who = identityLabel(reach.principal)
  return {
    title: `${who.charAt(0).toUpperCase()}${who.slice(1)} can become administrator in ${plural(reach.path.steps.length, 'step')}`,
    severity: conditionsOf(reach.path).length ? 'medium' : 'high',
  }
}
