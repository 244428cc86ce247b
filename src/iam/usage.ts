import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { parseAuthorizationDetails, principalsOf, type IamPrincipal } from './authorization.js'
import type { UsedAction } from './least-privilege.js'
import { asList, coversAction, statementsOf } from './policy.js'
import { administrator } from './posture.js'

/** One Allow statement a principal holds, and the used actions it covers. */
export interface StatementUse {
  /** `POLICY#SID` or `POLICY#INDEX`. */
  statement: string
  /** What it grants, as written: `s3:Get*`, or `everything but iam:*`. */
  grants: string[]
  used: string[]
}

export interface PermissionUsage {
  principal: string
  kind: IamPrincipal['kind']
  snapshot: string
  administrator: boolean
  statements: StatementUse[]
  /** Services a statement names by prefix that no used action belongs to; empty when a statement grants every service. */
  unusedServices: string[]
  used: UsedAction[]
  /** Managed policies attached whose documents the snapshot lacks: their grants are unknown. */
  unresolved: string[]
}

/** What a principal is granted against what it used: each Allow statement with the actions it covered, and the services never touched. */
export function permissionUsage(principal: IamPrincipal, snapshot: string, used: UsedAction[]): PermissionUsage {
  const statements = principal.policies.flatMap((policy) =>
    statementsOf(policy.document)
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => s.Effect === 'Allow')
      .map(({ s, i }) => ({
        statement: `${policy.name}#${s.Sid ?? String(i)}`,
        grants: s.Action !== undefined ? asList(s.Action) : [`everything but ${asList(s.NotAction).join(', ')}`],
        used: used.filter((u) => coversAction(s, u.action)).map((u) => u.action),
      })),
  )
  const patterns = principal.policies.flatMap((p) => statementsOf(p.document).filter((s) => s.Effect === 'Allow'))
  const everyService = patterns.some((s) => s.Action === undefined || asList(s.Action).some((a) => !a.includes(':')))
  const granted = new Set(patterns.flatMap((s) => asList(s.Action).map((a) => a.split(':')[0]?.toLowerCase() ?? '')))
  const usedServices = new Set(used.map((u) => u.action.split(':')[0]?.toLowerCase() ?? ''))
  return {
    principal: principal.arn,
    kind: principal.kind,
    snapshot,
    administrator: administrator(principal).admin,
    statements,
    unusedServices: everyService ? [] : [...granted].filter((s) => s && !usedServices.has(s)).sort(),
    used,
    unresolved: principal.unresolved,
  }
}

/** The user or role `arn` as the latest snapshot of its account at `at` has it. */
export async function principalFromSnapshot(store: Store, arn: string, at: Date): Promise<{ principal: IamPrincipal; snapshot: string }> {
  const account = arn.split(':')[4] ?? ''
  const [row] = await selectRows(
    store,
    `SELECT toUnixTimestamp64Milli(taken_at) AS taken_ms, document FROM iam_snapshots FINAL
     WHERE account_id = {account:String} AND taken_at <= {at:DateTime64(3)} ORDER BY taken_at DESC LIMIT 1`,
    { account, at: clickHouseTime(at.getTime()) },
    z.object({ taken_ms: isoFromMillis, document: z.string() }),
  )
  if (!row) throw new AppError('NOT_FOUND', `no IAM snapshot of account ${account} at ${at.toISOString()}: import one with trailwatch import iam`)
  const principal = principalsOf(parseAuthorizationDetails(row.document, `the IAM snapshot of ${account}`)).find((p) => p.arn === arn)
  if (!principal) throw new AppError('NOT_FOUND', `the IAM snapshot of account ${account} taken at ${row.taken_ms} has no user or role ${arn}`)
  return { principal, snapshot: row.taken_ms }
}
