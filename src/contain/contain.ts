/**
 * Containment of one identity: found in IAM from a key, a principal or a session, refused when it is
 * protected, planned from its state now (a dry run prints the plan and changes nothing), applied step
 * by step with each outcome kept (a failed step undoes the ones before it, so nothing is left half
 * done), and undone from what was kept.
 */
import { GetAccessKeyLastUsedCommand, GetRoleCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam'
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { awsSettings, awsText } from '../aws/clients.js'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { globMatches } from '../glob.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { incidentById, noteIncident } from '../incidents/incidents.js'
import { applyChange, describeChange, planChange, undoChange, type Change, type ContainAction, type Identity } from './changes.js'

export interface ContainSettings {
  /** Assumed in the identity's account to make the changes; unset: the credentials in use. */
  role?: string | undefined
  externalId?: string | undefined
  /** ARN patterns never touched. */
  protected: string[]
  /** Who may approve another person's containment; empty: none is needed. */
  approvers: string[]
}

export type ContainTarget = { type: 'key'; key: string } | { type: 'principal'; arn: string } | { type: 'session'; arn: string }

export interface ContainRequest {
  target: ContainTarget
  /** Unset: a key is deactivated, a session's role has its older sessions revoked; a principal needs them named. */
  actions?: ContainAction[] | undefined
  policyArn?: string | undefined
  actor: string
  reason: string
  incident?: string | undefined
}

export interface ContainmentPlan {
  identity: Identity
  changes: Change[]
  /** What a change does, step by step, in words. */
  steps: string[]
}

const MAX_REASON = 500
const PRINCIPAL_ARN = /^arn:aws[\w-]*:iam::(\d{12}):(user|role)\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]{1,128})$/
const SESSION_ARN = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/[\w+=,.@-]{1,64}$/
const ACCESS_KEY = /^(AKIA|ASIA)[A-Z0-9]{12,124}$/

/** The IAM client of an account: through the responder role when there is one. */
async function iamFor(sts: STSClient, account: string, settings: ContainSettings): Promise<IAMClient> {
  if (!settings.role) return new IAMClient(awsSettings())
  const role = `arn:aws:iam::${account}:role/${settings.role}`
  const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'trailwatch-contain', ExternalId: settings.externalId })).catch((err: unknown) => {
    throw new AppError('AWS', `cannot assume the responder role ${role}: ${awsText(err)}`)
  })
  const c = assumed.Credentials
  if (!c?.AccessKeyId || !c.SecretAccessKey) throw new AppError('AWS', `assuming ${role} gave no credentials`)
  return new IAMClient({ ...awsSettings(), credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } })
}

/** The account a key belongs to, as its calls were stored; the credentials' own account when none was. */
async function accountOfKey(store: Store, key: string, fallback: string): Promise<string> {
  const [row] = await selectRows(store, "SELECT account_id FROM events WHERE access_key_id = {key:String} AND account_id != '' ORDER BY event_time DESC LIMIT 1", { key }, z.object({ account_id: z.string() }))
  return row?.account_id ?? fallback
}

/** Who containment must never touch: the configured patterns, the identity it runs as, and the responder role everywhere. */
function protectedPatterns(settings: ContainSettings, caller: string): string[] {
  const own = SESSION_ARN.exec(caller)
  const self = own ? [`arn:aws:iam::${own[1] ?? ''}:role/${own[2] ?? ''}`, `arn:aws:iam::${own[1] ?? ''}:role/*/${own[2] ?? ''}`] : [caller]
  return [...settings.protected, ...self, ...(settings.role ? [`arn:aws:iam::*:role/${settings.role}`] : [])]
}

async function identityOf(iam: IAMClient, kind: 'user' | 'role', name: string, account: string): Promise<Identity> {
  try {
    const arn = kind === 'user' ? (await iam.send(new GetUserCommand({ UserName: name }))).User?.Arn : (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.Arn
    return { kind, account, name, arn: arn ?? `arn:aws:iam::${account}:${kind}/${name}` }
  } catch (err) {
    throw new AppError('NOT_FOUND', `no ${kind} ${name} in account ${account}: ${awsText(err)}`)
  }
}

function defaultActions(target: ContainTarget): ContainAction[] {
  if (target.type === 'key') return ['deactivate-key']
  if (target.type === 'session') return ['revoke-sessions']
  throw new AppError('USAGE', 'name what to do to a principal: --action revoke-sessions, quarantine, remove-password or detach-policy')
}

/** The identity a target names, the IAM client to change it with, and whether it may be touched at all. */
async function resolve(store: Store, settings: ContainSettings, target: ContainTarget): Promise<{ identity: Identity; iam: IAMClient }> {
  const sts = new STSClient(awsSettings())
  try {
    const caller = await sts.send(new GetCallerIdentityCommand({})).catch((err: unknown) => {
      throw new AppError('AWS', `cannot tell which AWS identity the credentials are: ${awsText(err)}`)
    })
    let account: string
    let find: (iam: IAMClient) => Promise<Identity>
    if (target.type === 'key') {
      if (!ACCESS_KEY.test(target.key)) throw new AppError('USAGE', `not an access key id: ${target.key}`)
      if (target.key.startsWith('ASIA')) throw new AppError('USAGE', `${target.key} is a temporary key: contain the session it belongs to (trailwatch contain session ARN)`)
      account = await accountOfKey(store, target.key, caller.Account ?? '')
      find = async (iam) => {
        const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: target.key })).catch((err: unknown) => {
          throw new AppError('NOT_FOUND', `no access key ${target.key} in account ${account}: ${awsText(err)}`)
        })
        if (!used.UserName) throw new AppError('NOT_FOUND', `IAM names no user for access key ${target.key}`)
        return identityOf(iam, 'user', used.UserName, account)
      }
    } else if (target.type === 'session') {
      const [, acct = '', role = ''] = SESSION_ARN.exec(target.arn) ?? []
      if (!role) throw new AppError('USAGE', `not an assumed-role session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION): ${target.arn}`)
      account = acct
      find = (iam) => identityOf(iam, 'role', role, account)
    } else {
      if (target.arn.endsWith(':root')) throw new AppError('USAGE', 'root cannot be contained through IAM: sign in as root, rotate its password and delete its access keys')
      const [, acct = '', kind = '', name = ''] = PRINCIPAL_ARN.exec(target.arn) ?? []
      if (!name) throw new AppError('USAGE', `not a user or role ARN: ${target.arn}`)
      account = acct
      find = (iam) => identityOf(iam, kind as 'user' | 'role', name, account)
    }
    const iam = await iamFor(sts, account, settings)
    const identity = await find(iam)
    const guard = protectedPatterns(settings, caller.Arn ?? '').find((pattern) => globMatches(pattern, identity.arn))
    if (guard) {
      iam.destroy()
      throw new AppError('PROTECTED', `${identity.arn} is protected (${guard}): trailwatch never contains it${settings.protected.includes(guard) ? ' (TRAILWATCH_CONTAIN_PROTECTED)' : ', since trailwatch itself acts through it'}`)
    }
    return { identity, iam }
  } finally {
    sts.destroy()
  }
}

/** The changes asked for, read from IAM as it stands; IAM failing to answer is an AWS failure, said as such. */
async function changesFor(iam: IAMClient, identity: Identity, request: ContainRequest, now: Date): Promise<Change[]> {
  const changes = []
  for (const action of request.actions ?? defaultActions(request.target)) {
    const options = { key: request.target.type === 'key' ? request.target.key : undefined, policyArn: request.policyArn, now }
    changes.push(
      await planChange(iam, identity, action, options).catch((err: unknown) => {
        throw err instanceof AppError ? err : new AppError('AWS', `reading ${identity.arn} for ${action}: ${awsText(err)}`)
      }),
    )
  }
  return changes
}

/** What containment would change, read from IAM now; nothing is changed. */
export async function planContainment(store: Store, settings: ContainSettings, request: ContainRequest, now: Date): Promise<ContainmentPlan> {
  const { identity, iam } = await resolve(store, settings, request.target)
  try {
    const changes = await changesFor(iam, identity, request, now)
    return { identity, changes, steps: changes.map(describeChange) }
  } finally {
    iam.destroy()
  }
}

export const STEP_STATUSES = ['awaiting-approval', 'approved', 'requested', 'applied', 'unchanged', 'failed', 'rolled-back', 'rollback-failed', 'undone', 'undo-failed', 'refused'] as const
export type StepStatus = (typeof STEP_STATUSES)[number]

interface StepRow {
  containment_id: string
  step: number
  target: string
  action: string
  change: string
  status: StepStatus
  actor: string
  reason: string
  incident_id: string
  error: string
  at: string
}

async function record(store: Store, rows: StepRow[]): Promise<void> {
  await store.client.insert({ table: 'containments', values: rows.map((r) => ({ ...r, at: clickHouseTime(Date.parse(r.at)) })), format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
}

function checkedReason(reason: string): string {
  const trimmed = reason.trim()
  if (!trimmed) throw new AppError('USAGE', 'give a reason: it is kept with every change containment makes')
  if (trimmed.length > MAX_REASON) throw new AppError('USAGE', `a reason is at most ${String(MAX_REASON)} characters`)
  return trimmed
}

/** The incident's log says what containment did, so its outputs and its page tell it too. */
async function tellIncident(store: Store, incident: string | undefined, actor: string, text: string, now: Date): Promise<void> {
  if (incident) await noteIncident(store, incident, 'contained', actor, text, now)
}

function newContainmentId(): string {
  return `ctn-${randomBytes(6).toString('hex')}`
}

/**
 * A containment a second person must approve (TRAILWATCH_CONTAIN_APPROVERS): planned now, so a
 * protected identity or an action that does not apply is refused at once, and kept, with what it
 * would change, until an approver other than the requester approves it.
 */
export async function requestContainment(store: Store, settings: ContainSettings, request: ContainRequest, now: Date): Promise<{ id: string; plan: ContainmentPlan }> {
  const reason = checkedReason(request.reason)
  if (request.incident) await incidentById(store, request.incident)
  const plan = await planContainment(store, settings, request, now)
  const id = newContainmentId()
  await record(store, [{ containment_id: id, step: 0, target: plan.identity.arn, action: 'approval', change: JSON.stringify({ request: { ...request, reason }, steps: plan.steps }), status: 'awaiting-approval', actor: request.actor, reason, incident_id: request.incident ?? '', error: '', at: now.toISOString() }])
  await tellIncident(store, request.incident, request.actor, `asked for containment ${id}, waiting for approval: ${plan.steps.join('; ')} (${reason})`, now)
  return { id, plan }
}

/** Approves a waiting containment and applies it; the approver must be one of the approvers, and not who asked. */
export async function approveContainment(store: Store, settings: ContainSettings, id: string, approver: string, now: Date): Promise<ContainmentOutcome> {
  const [containment] = await listContainments(store, id)
  const asked = containment?.steps.find((s) => s.step === 0)
  if (!containment || asked?.status !== 'awaiting-approval') throw new AppError('NOT_FOUND', `no containment ${id} waits for approval: trailwatch contain list shows them`)
  if (!settings.approvers.includes(approver)) throw new AppError('USAGE', `${approver} is not among TRAILWATCH_CONTAIN_APPROVERS`)
  if (approver === asked.actor) throw new AppError('USAGE', `${approver} asked for ${id}: another approver must approve it`)
  await record(store, [{ ...asked, status: 'approved', actor: approver, at: now.toISOString() }])
  await tellIncident(store, asked.incident_id, approver, `approved containment ${id}`, now)
  const { request } = JSON.parse(asked.change) as { request: ContainRequest }
  return applyContainment(store, settings, request, now, id)
}

export interface ContainmentOutcome {
  id: string
  identity: Identity
  /** Each step in words, with what became of it. */
  steps: { step: string; status: StepStatus; error: string }[]
}

/**
 * Applies the plan step by step, keeping each outcome. A step AWS refuses ends it: the steps already
 * made are undone and the failure is raised, each outcome kept. A protected identity is refused, and
 * an identity that cannot be found or an action that does not fit fails before any change, each
 * kept too.
 */
export async function applyContainment(store: Store, settings: ContainSettings, request: ContainRequest, now: Date, id = newContainmentId()): Promise<ContainmentOutcome> {
  const reason = checkedReason(request.reason)
  if (request.incident) await incidentById(store, request.incident)
  const base = { containment_id: id, actor: request.actor, reason, incident_id: request.incident ?? '', error: '' }
  const targetText = request.target.type === 'key' ? request.target.key : request.target.arn
  let resolved: { identity: Identity; iam: IAMClient; changes: Change[] }
  try {
    const { identity, iam } = await resolve(store, settings, request.target)
    try {
      resolved = { identity, iam, changes: await changesFor(iam, identity, request, now) }
    } catch (err) {
      iam.destroy()
      throw err
    }
  } catch (err) {
    // Nothing was changed; that it was asked, and why it could not be, is kept all the same.
    if (err instanceof AppError) {
      await record(store, [{ ...base, step: 0, target: targetText, action: (request.actions ?? []).join(',') || 'contain', change: '', status: err.code === 'PROTECTED' ? 'refused' : 'failed', error: err.message, at: now.toISOString() }])
      await tellIncident(store, request.incident, request.actor, `containment ${id} of ${targetText} ${err.code === 'PROTECTED' ? 'refused' : 'not done'}: ${err.message}`, now)
    }
    throw err
  }
  const { identity, iam, changes } = resolved
  // A millisecond apart, so the log keeps its order however fast the steps go.
  let tick = 0
  const at = (): string => new Date(now.getTime() + tick++).toISOString()
  try {
    const row = (step: number, status: StepStatus, error = ''): StepRow => ({ ...base, step: step + 1, target: identity.arn, action: changes[step]?.action ?? '', change: JSON.stringify(changes[step]), status, error, at: at() })
    await record(store, changes.map((_, i) => row(i, 'requested')))
    const outcome: ContainmentOutcome = { id, identity, steps: changes.map((c) => ({ step: describeChange(c), status: 'requested', error: '' })) }
    const made: number[] = []
    for (const [i, change] of changes.entries()) {
      const step = outcome.steps[i] as ContainmentOutcome['steps'][number]
      if (change.action === 'deactivate-key' && change.before.status === 'Inactive') {
        step.status = 'unchanged'
        await record(store, [row(i, 'unchanged')])
        continue
      }
      try {
        await applyChange(iam, change)
      } catch (err) {
        step.status = 'failed'
        step.error = awsText(err)
        await record(store, [row(i, 'failed', step.error)])
        const undone = await rollBack(store, iam, changes, made, row, outcome)
        const failure = `${id}: step ${String(i + 1)} (${step.step}) failed: ${step.error}; ${undone}`
        await tellIncident(store, request.incident, request.actor, `containment ${failure}`, now)
        throw new AppError('AWS', failure)
      }
      step.status = 'applied'
      made.push(i)
      await record(store, [row(i, 'applied')])
    }
    await tellIncident(store, request.incident, request.actor, `containment ${id} applied to ${identity.arn}: ${outcome.steps.map((o) => `${o.step} (${o.status})`).join('; ')}; undo: trailwatch contain undo ${id}`, now)
    return outcome
  } finally {
    iam.destroy()
  }
}

/** Undoes the steps made so far, last first, each outcome kept; says what became of them. */
async function rollBack(store: Store, iam: IAMClient, changes: Change[], made: number[], row: (step: number, status: StepStatus, error?: string) => StepRow, outcome: ContainmentOutcome): Promise<string> {
  if (made.length === 0) return 'nothing had been changed'
  const failed: number[] = []
  for (const i of [...made].reverse()) {
    const step = outcome.steps[i] as ContainmentOutcome['steps'][number]
    try {
      await undoChange(iam, changes[i] as Change)
      step.status = 'rolled-back'
      await record(store, [row(i, 'rolled-back')])
    } catch (err) {
      step.status = 'rollback-failed'
      step.error = awsText(err)
      failed.push(i + 1)
      await record(store, [row(i, 'rollback-failed', step.error)])
    }
  }
  return failed.length ? `rolling back failed for step ${failed.join(', ')}: see trailwatch contain list` : `the ${String(made.length)} step(s) made before it were undone`
}

const StoredStep = z.object({
  containment_id: z.string(),
  step: z.coerce.number(),
  target: z.string(),
  action: z.string(),
  change: z.string(),
  status: z.enum(STEP_STATUSES),
  actor: z.string(),
  reason: z.string(),
  incident_id: z.string(),
  error: z.string(),
  at: isoFromMillis,
})
type StoredStep = z.output<typeof StoredStep>

export interface Containment {
  id: string
  target: string
  actor: string
  reason: string
  incident: string
  at: string
  /** Each step as it stands now: its latest row. */
  steps: StoredStep[]
  /** Every row, oldest first: who did what, and what AWS said. */
  log: StoredStep[]
}

/** Every containment, newest first; or one; or those of one incident. */
export async function listContainments(store: Store, id?: string, incident?: string): Promise<Containment[]> {
  const where = [...(id ? ['containment_id = {id:String}'] : []), ...(incident ? ['incident_id = {incident:String}'] : [])]
  const rows = await selectRows(
    store,
    `SELECT containment_id, step, target, action, change, status, actor, reason, incident_id, error, toUnixTimestamp64Milli(at) AS at
     FROM containments ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY containment_id, at, step`,
    { id: id ?? '', incident: incident ?? '' },
    StoredStep,
  )
  const byId = new Map<string, StoredStep[]>()
  for (const row of rows) byId.set(row.containment_id, [...(byId.get(row.containment_id) ?? []), row])
  return [...byId.entries()]
    .map(([key, log]) => {
      const first = log[0] as StoredStep
      const latest = new Map<number, StoredStep>()
      for (const row of log) latest.set(row.step, row)
      return { id: key, target: first.target, actor: first.actor, reason: first.reason, incident: first.incident_id, at: first.at, steps: [...latest.values()].sort((a, b) => a.step - b.step), log }
    })
    .sort((a, b) => b.at.localeCompare(a.at))
}

/** Puts back what a containment changed, last step first, each outcome kept. */
export async function undoContainment(store: Store, settings: ContainSettings, id: string, actor: string, reason: string, now: Date): Promise<Containment> {
  const why = checkedReason(reason)
  const [containment] = await listContainments(store, id)
  if (!containment) throw new AppError('NOT_FOUND', `no containment ${id}: trailwatch contain list shows them`)
  const applied = containment.steps.filter((s) => s.status === 'applied' || s.status === 'undo-failed')
  if (applied.length === 0) throw new AppError('USAGE', `${id} has nothing applied to undo (${containment.steps.map((s) => `step ${String(s.step)} ${s.status}`).join(', ')})`)
  const changes = applied.map((s) => JSON.parse(s.change) as Change)
  const sts = new STSClient(awsSettings())
  const iam = await iamFor(sts, changes[0]?.identity.account ?? '', settings).finally(() => {
    sts.destroy()
  })
  const failures: string[] = []
  try {
    for (const [n, [i, step]] of [...applied.entries()].reverse().entries()) {
      const base = { ...step, actor, reason: why, error: '', at: new Date(now.getTime() + n).toISOString() }
      try {
        await undoChange(iam, changes[i] as Change)
        await record(store, [{ ...base, status: 'undone' }])
      } catch (err) {
        failures.push(`step ${String(step.step)}: ${awsText(err)}`)
        await record(store, [{ ...base, status: 'undo-failed', error: awsText(err) }])
      }
    }
  } finally {
    iam.destroy()
  }
  await tellIncident(store, containment.incident, actor, failures.length ? `undoing containment ${id} failed for ${failures.join('; ')}` : `containment ${id} undone: ${why}`, now)
  if (failures.length) throw new AppError('AWS', `${id}: undo failed for ${failures.join('; ')}; the rest was undone. Try again: trailwatch contain undo ${id}`)
  return (await listContainments(store, id))[0] as Containment
}
