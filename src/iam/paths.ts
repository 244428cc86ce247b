import { groupsOf, principalsOf, type AuthorizationDetails, type IamGroup, type IamPrincipal, type TrustStatement } from './authorization.js'
import { asList, conditionsHold, coversAction, evaluate, resourceGlobMatches, statementApplies, substitute, statementsOf, type NamedPolicy, type PolicyDocument, type Request, type Statement } from './policy.js'
import { administrator, describeConditions } from './posture.js'

/** One move from an identity to what it can act as, or to administrator of its account. */
export interface Step {
  from: string
  /** A user or role ARN, or `admin:ACCOUNT`: administrator of that account. */
  to: string
  /** What is called, in order: `iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction`. */
  action: string
  /** The statements that allow it: `POLICY#SID`, a role's trust as `ROLE-ARN trust#SID`. */
  via: string[]
  /** What it depends on that a snapshot cannot tell: MFA, source address, tags, an ExternalId. */
  conditions: string[]
}

export interface Path {
  from: string
  to: string
  steps: Step[]
}

interface Identity {
  id: string
  account: string
  kind: 'user' | 'role' | 'administrator'
  name: string
  /** It may do everything already: a path ends here. */
  admin: boolean
}

export interface EscalationGraph {
  identities: Map<string, Identity>
  /** Steps by the identity they start from. */
  steps: Map<string, Step[]>
}

const administratorOf = (account: string): string => `admin:${account}`

/**
 * Condition keys a snapshot answers for a request: who the principal is, and the IAM keys the
 * request itself carries (iam:PassedToService, iam:PolicyARN). Any other key (MFA, source address,
 * tags, an ExternalId) is up to whoever calls, so a grant depending on it is a path with a condition.
 */
const ANSWERED = new Set(['aws:principalarn', 'aws:principalaccount', 'aws:principaltype', 'aws:username'])
const answered = (key: string): boolean => ANSWERED.has(key.toLowerCase()) || key.toLowerCase().startsWith('iam:')

type Condition = NonNullable<Statement['Condition']>

/** A Condition block split into what the snapshot answers and what the caller decides. */
function splitCondition(condition: Statement['Condition']): { answered: Condition | undefined; open: Condition | undefined } {
  const known: Condition = {}
  const open: Condition = {}
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, values] of Object.entries(keys)) ((answered(key) ? known : open)[operator] ??= {})[key] = values
  }
  const some = (c: Condition): Condition | undefined => (Object.keys(c).length ? c : undefined)
  return { answered: some(known), open: some(open) }
}

interface PreparedPolicy {
  /** The statements with only the conditions a snapshot answers; a Deny hanging on an open condition is set aside (it may not apply). */
  document: PolicyDocument
  /** Statement index → the open conditions of an Allow. */
  open: Map<number, string[]>
  /** Denies set aside, with their answered conditions kept and the open ones described. */
  looseDenies: { index: number; statement: Statement; conditions: string[] }[]
  covers: Map<string, boolean>
}

// Managed policies are shared by many identities: each document is prepared once.
const preparedDocuments = new WeakMap<PolicyDocument, PreparedPolicy>()

function prepared(document: PolicyDocument): PreparedPolicy {
  let found = preparedDocuments.get(document)
  if (found) return found
  const open = new Map<number, string[]>()
  const looseDenies: PreparedPolicy['looseDenies'] = []
  const statements = statementsOf(document).map((s, index): Statement => {
    const split = splitCondition(s.Condition)
    if (!split.open) return s
    const described = describeConditions({ ...s, Condition: split.open })
    const narrowed: Statement = { ...s, Condition: split.answered }
    if (s.Effect === 'Allow') {
      open.set(index, described)
      return narrowed
    }
    looseDenies.push({ index, statement: narrowed, conditions: described })
    // Kept in place so statement numbers still name the same statements.
    return { Effect: 'Deny', Action: [] }
  })
  found = { document: { Statement: statements }, open, looseDenies, covers: new Map() }
  preparedDocuments.set(document, found)
  return found
}

type Scalar = string | number | boolean

/** One identity as a requester: its policies prepared, and what a request from it says about it. */
interface Subject {
  principal: IamPrincipal
  account: string
  identity: NamedPolicy[]
  boundary: NamedPolicy[] | undefined
  /** `POLICY#SID` → the open conditions of that Allow. */
  open: Map<string, string[]>
  looseDenies: { id: string; statement: Statement; conditions: string[] }[]
  context: Record<string, Scalar>
  admin: boolean
  /** Whether any of its Allows names one of these actions at all (resources and conditions aside). */
  mayDo: (action: string) => boolean
}

const statementId = (policy: NamedPolicy, statement: Statement, index: number): string => `${policy.name}#${statement.Sid ?? String(index)}`

function subjectOf(principal: IamPrincipal, account: string): Subject {
  const open = new Map<string, string[]>()
  const looseDenies: Subject['looseDenies'] = []
  const prepare = (policies: NamedPolicy[]): NamedPolicy[] =>
    policies.map((policy) => {
      const p = prepared(policy.document)
      const original = statementsOf(policy.document)
      for (const [index, conditions] of p.open) open.set(statementId(policy, original[index] ?? { Effect: 'Allow' }, index), conditions)
      for (const deny of p.looseDenies) looseDenies.push({ id: statementId(policy, original[deny.index] ?? { Effect: 'Deny' }, deny.index), statement: deny.statement, conditions: deny.conditions })
      return { name: policy.name, document: p.document }
    })
  const identity = prepare(principal.policies)
  const documents = principal.policies.map((p) => prepared(p.document))
  return {
    principal,
    account,
    identity,
    boundary: principal.boundary ? prepare([principal.boundary]) : undefined,
    open,
    looseDenies,
    context: {
      'aws:PrincipalArn': principal.arn,
      'aws:PrincipalAccount': account,
      'aws:PrincipalType': principal.kind === 'user' ? 'User' : 'AssumedRole',
      ...(principal.kind === 'user' ? { 'aws:username': principal.name } : {}),
    },
    admin: administrator(principal).admin,
    mayDo: (action) =>
      documents.some((p) => {
        let covers = p.covers.get(action)
        if (covers === undefined) {
          covers = statementsOf(p.document).some((s) => s.Effect === 'Allow' && coversAction(s, action))
          p.covers.set(action, covers)
        }
        return covers
      }),
  }
}

interface Grant {
  via: string[]
  conditions: string[]
}

/** Whether the subject may make the request, by the statements that allow it and what that depends on. */
function allowed(subject: Subject, action: string, resource: string, extra: Record<string, Scalar> = {}): Grant | undefined {
  if (!subject.mayDo(action)) return undefined
  const request: Request = { action, resource, context: { ...subject.context, ...extra } }
  const decision = evaluate(request, { identity: subject.identity, boundary: subject.boundary })
  if (decision.decision !== 'allowed') return undefined
  const via = decision.because.filter((id) => id.includes('#'))
  const loose = subject.looseDenies.filter((d) => statementApplies(d.statement, request)).flatMap((d) => d.conditions.map((c) => `unless ${c} (${d.id})`))
  return { via, conditions: [...new Set([...via.flatMap((id) => subject.open.get(id) ?? []), ...loose])] }
}

/**
 * Whether the subject may make the request on some resource of its choosing (a function it
 * creates, a stack it names): each resource its allowing statements name is tried, wildcards
 * filled in, so a statement limited to `function:dev-*` still lets it create `dev-x`.
 */
function allowedSomewhere(subject: Subject, action: string, extra: Record<string, Scalar> = {}): Grant | undefined {
  if (!subject.mayDo(action)) return undefined
  const candidates = new Set<string>()
  for (const policy of [...subject.identity, ...(subject.boundary ?? [])]) {
    for (const s of statementsOf(policy.document)) {
      if (s.Effect !== 'Allow' || !coversAction(s, action)) continue
      for (const pattern of s.Resource !== undefined ? asList(s.Resource) : ['*']) {
        candidates.add(pattern.replace(/\$\{([^}]+)\}/g, (_, key: string) => String(subject.context[key] ?? 'x')).replace(/[*?]/g, 'x'))
      }
    }
  }
  for (const resource of candidates) {
    const grant = allowed(subject, action, resource, extra)
    if (grant) return grant
  }
  return undefined
}

/** The resources the subject's Allows of an action name (all, for a NotResource); none when no Allow names the action. */
function allowedPatterns(subject: Subject, action: string): string[] {
  if (!subject.mayDo(action)) return []
  return subject.identity.flatMap((policy) => statementsOf(policy.document).filter((s) => s.Effect === 'Allow' && coversAction(s, action)).flatMap((s) => (s.Resource !== undefined ? asList(s.Resource) : ['*'])))
}

/**
 * Of the targets, those the subject may call the action on: its allowing statements' resources
 * narrow the targets first (one pattern test each), so a "manage your own keys" policy is not
 * evaluated against every user of the account.
 */
function allowedOn(subject: Subject, action: string, targets: Subject[], extra: Record<string, Scalar> = {}): { target: Subject; grant: Grant }[] {
  const patterns = allowedPatterns(subject, action).flatMap((p) => substitute(p, subject.context) ?? [])
  if (patterns.length === 0) return []
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)))
  const globs = patterns.filter((p) => /[*?]/.test(p))
  const found: { target: Subject; grant: Grant }[] = []
  for (const target of targets) {
    const arn = target.principal.arn
    if (!exact.has(arn) && !globs.some((glob) => resourceGlobMatches(glob, arn))) continue
    const grant = allowed(subject, action, arn, extra)
    if (grant) found.push({ target, grant })
  }
  return found
}

/** All of the actions, each allowed; their grants together. */
function allAllowed(actions: string[], each: (action: string) => Grant | undefined): Grant | undefined {
  const grants: Grant[] = []
  for (const action of actions) {
    const grant = each(action)
    if (!grant) return undefined
    grants.push(grant)
  }
  return { via: [...new Set(grants.flatMap((g) => g.via))], conditions: [...new Set(grants.flatMap((g) => g.conditions))] }
}

const merge = (...grants: Grant[]): Grant => ({ via: [...new Set(grants.flatMap((g) => g.via))], conditions: [...new Set(grants.flatMap((g) => g.conditions))] })

/** Who may assume a role: an AWS principal (by ARN and account) or a service. */
type Assumer = { kind: 'aws'; subject: Subject } | { kind: 'service'; service: string }

/** Whether a role's trust lets the assumer in: an Allow naming it (or `*`) whose answered conditions hold, and no Deny. */
function trustAdmits(role: IamPrincipal, assumer: Assumer): (Grant & { named: boolean }) | undefined {
  const context = assumer.kind === 'aws' ? assumer.subject.context : {}
  const names = (statement: TrustStatement): { matches: boolean; named: boolean } => {
    const principal = statement.Principal
    if (principal === undefined) return { matches: false, named: false }
    if (principal === '*') return { matches: assumer.kind === 'aws', named: false }
    if (assumer.kind === 'service') return { matches: asList(principal.Service).includes(assumer.service), named: false }
    const aws = asList(principal.AWS)
    const { arn } = assumer.subject.principal
    const account = assumer.subject.account
    return { matches: aws.some((p) => p === '*' || p === arn || p === account || p === `arn:aws:iam::${account}:root`), named: aws.includes(arn) }
  }
  const via: string[] = []
  const conditions: string[] = []
  let named = false
  for (const [index, statement] of role.trustStatements.entries()) {
    if (!coversAction(statement, 'sts:AssumeRole')) continue
    const who = names(statement)
    if (!who.matches) continue
    const split = splitCondition(statement.Condition)
    if (!conditionsHold(split.answered, context)) continue
    const open = split.open ? describeConditions({ ...statement, Condition: split.open }) : []
    const id = `${role.arn} trust#${statement.Sid ?? String(index)}`
    if (statement.Effect === 'Deny') {
      if (!split.open) return undefined
      conditions.push(...open.map((c) => `unless ${c} (${id})`))
      continue
    }
    via.push(id)
    conditions.push(...open)
    named ||= who.named
  }
  return via.length ? { via, conditions, named } : undefined
}

/** Services a role can be handed to with iam:PassRole, and the calls that then run code as it. */
const PASS_ROLE_SERVICES: { service: string; principal: string; calls: string[][]; instanceProfile?: boolean }[] = [
  { service: 'ec2', principal: 'ec2.amazonaws.com', calls: [['ec2:RunInstances']], instanceProfile: true },
  { service: 'lambda', principal: 'lambda.amazonaws.com', calls: [['lambda:CreateFunction', 'lambda:InvokeFunction'], ['lambda:CreateFunction', 'lambda:CreateEventSourceMapping'], ['lambda:UpdateFunctionConfiguration', 'lambda:InvokeFunction']] },
  { service: 'cloudformation', principal: 'cloudformation.amazonaws.com', calls: [['cloudformation:CreateStack'], ['cloudformation:UpdateStack']] },
  { service: 'glue', principal: 'glue.amazonaws.com', calls: [['glue:CreateDevEndpoint'], ['glue:CreateJob', 'glue:StartJobRun']] },
  { service: 'sagemaker', principal: 'sagemaker.amazonaws.com', calls: [['sagemaker:CreateNotebookInstance', 'sagemaker:CreatePresignedNotebookInstanceUrl'], ['sagemaker:CreateTrainingJob'], ['sagemaker:CreateProcessingJob']] },
  { service: 'codebuild', principal: 'codebuild.amazonaws.com', calls: [['codebuild:CreateProject', 'codebuild:StartBuild']] },
  { service: 'ecs', principal: 'ecs-tasks.amazonaws.com', calls: [['ecs:RegisterTaskDefinition', 'ecs:RunTask'], ['ecs:RegisterTaskDefinition', 'ecs:StartTask']] },
  { service: 'datapipeline', principal: 'datapipeline.amazonaws.com', calls: [['datapipeline:CreatePipeline', 'datapipeline:PutPipelineDefinition', 'datapipeline:ActivatePipeline']] },
]

/**
 * Code that already runs as a role, changed or reached: a Lambda function (a role trusting
 * Lambda may be some function's), an instance (a role with an instance profile may be some
 * instance's). The snapshot lists neither functions nor instances, so any role that can be one's is taken to be.
 */
const RUNNING_AS: { calls: string[]; fits: (role: IamPrincipal) => boolean }[] = [
  { calls: ['lambda:UpdateFunctionCode'], fits: (role) => trustsService(role, 'lambda.amazonaws.com') },
  ...['ssm:SendCommand', 'ssm:StartSession', 'ec2-instance-connect:SendSSHPublicKey'].map((call) => ({ calls: [call], fits: (role: IamPrincipal) => role.instanceProfiles.length > 0 && trustsService(role, 'ec2.amazonaws.com') })),
]

const servicesTrusted = new WeakMap<IamPrincipal, Map<string, boolean>>()
function trustsService(role: IamPrincipal, service: string): boolean {
  const known = servicesTrusted.get(role) ?? new Map<string, boolean>()
  servicesTrusted.set(role, known)
  let trusts = known.get(service)
  if (trusts === undefined) {
    trusts = trustAdmits(role, { kind: 'service', service }) !== undefined
    known.set(service, trusts)
  }
  return trusts
}

/** Calls that change what a user, group or role may do. */
const POLICY_CHANGES = {
  user: ['iam:PutUserPolicy', 'iam:AttachUserPolicy'],
  group: ['iam:PutGroupPolicy', 'iam:AttachGroupPolicy'],
  role: ['iam:PutRolePolicy', 'iam:AttachRolePolicy'],
}
const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess'
const CREDENTIALS = ['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateLoginProfile']

/** Every action some step needs: an identity allowed none of them starts no step. */
const STEP_ACTIONS = [
  ...Object.values(POLICY_CHANGES).flat(),
  'iam:AddUserToGroup',
  'iam:CreatePolicyVersion',
  'iam:SetDefaultPolicyVersion',
  ...CREDENTIALS,
  'iam:UpdateAssumeRolePolicy',
  'sts:AssumeRole',
  'iam:PassRole',
  ...RUNNING_AS.flatMap((r) => r.calls),
]

interface AccountState {
  account: string
  details: AuthorizationDetails
  groups: IamGroup[]
  subjects: Subject[]
}

/** Whether the subject's permission boundary would still hold it after it granted itself anything. */
function boundaryHolds(subject: Subject): boolean {
  const { principal } = subject
  if (!principal.boundary) return false
  if (administrator({ ...principal, policies: [principal.boundary], boundary: undefined }).admin) return false
  const calls = principal.kind === 'user' ? ['iam:DeleteUserPermissionsBoundary', 'iam:PutUserPermissionsBoundary'] : ['iam:DeleteRolePermissionsBoundary', 'iam:PutRolePermissionsBoundary']
  return !calls.some((call) => allowed(subject, call, principal.arn))
}

/** Ways the subject can give itself any permission: policies on itself or its groups, a group that is administrator, a new version of a policy it holds. */
function selfGrants(subject: Subject, state: AccountState): { action: string; grant: Grant }[] {
  if (boundaryHolds(subject)) return []
  const { principal } = subject
  const found: { action: string; grant: Grant }[] = []
  const onSelf = principal.kind === 'user' ? POLICY_CHANGES.user : POLICY_CHANGES.role
  for (const call of onSelf) {
    const grant = allowed(subject, call, principal.arn, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })
    if (grant) found.push({ action: `${call} on itself`, grant })
  }
  const { groups } = state
  for (const group of groups.filter((g) => principal.groups.includes(g.name))) {
    for (const call of POLICY_CHANGES.group) {
      const grant = allowed(subject, call, group.arn, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })
      if (grant) found.push({ action: `${call} on its group ${group.name}`, grant })
    }
  }
  if (principal.kind === 'user' && subject.mayDo('iam:AddUserToGroup')) {
    for (const group of groups.filter((g) => !principal.groups.includes(g.name))) {
      if (!administrator({ ...principal, policies: [...principal.policies, ...group.policies] }).admin) continue
      const grant = allowed(subject, 'iam:AddUserToGroup', group.arn)
      if (grant) found.push({ action: `iam:AddUserToGroup ${group.name} (an administrators' group)`, grant })
    }
  }
  const held = new Set(principal.policies.map((p) => p.name))
  for (const policy of state.details.Policies.filter((p) => held.has(p.Arn))) {
    const grant = allowed(subject, 'iam:CreatePolicyVersion', policy.Arn)
    if (grant) found.push({ action: `iam:CreatePolicyVersion of ${policy.PolicyName}, which it holds`, grant })
    const stronger = policy.PolicyVersionList.find((v) => !v.IsDefaultVersion && administrator({ ...principal, policies: [...principal.policies, { name: policy.Arn, document: v.Document }] }).admin)
    const setDefault = stronger && allowed(subject, 'iam:SetDefaultPolicyVersion', policy.Arn)
    if (stronger && setDefault) found.push({ action: `iam:SetDefaultPolicyVersion of ${policy.PolicyName} to ${stronger.VersionId}, which it holds`, grant: setDefault })
  }
  return found
}

/** Where the subject can go by acting as another identity of its own account: credentials, trust, services, running code. */
function sameAccountSteps(subject: Subject, state: AccountState, worthReaching: (target: Subject) => boolean): Step[] {
  const steps: Step[] = []
  const from = subject.principal.arn
  const step = (to: Subject, action: string, grant: Grant): void => {
    steps.push({ from, to: to.principal.arn, action, via: grant.via, conditions: grant.conditions })
  }
  const targets = state.subjects.filter((t) => t !== subject && worthReaching(t))
  const users = targets.filter((t) => t.principal.kind === 'user')
  for (const call of CREDENTIALS) for (const { target, grant } of allowedOn(subject, call, users)) step(target, call, grant)
  const roles = targets.filter((t) => t.principal.kind === 'role')
  for (const { target, grant } of allowedOn(subject, 'iam:UpdateAssumeRolePolicy', roles)) {
    // It writes a trust naming itself; only an explicit Deny of sts:AssumeRole still stops it.
    const denied = evaluate({ action: 'sts:AssumeRole', resource: target.principal.arn, context: subject.context }, { identity: subject.identity }).decision === 'explicit-deny'
    if (!denied) step(target, 'iam:UpdateAssumeRolePolicy + sts:AssumeRole', grant)
  }
  if (subject.mayDo('iam:PassRole')) {
    for (const service of PASS_ROLE_SERVICES) {
      const fit = roles.filter((role) => trustsService(role.principal, service.principal) && (!service.instanceProfile || role.principal.instanceProfiles.length > 0))
      if (fit.length === 0) continue
      for (const calls of service.calls) {
        const drive = allAllowed(calls, (call) => allowedSomewhere(subject, call))
        if (!drive) continue
        for (const { target, grant } of allowedOn(subject, 'iam:PassRole', fit, { 'iam:PassedToService': service.principal })) step(target, ['iam:PassRole', ...calls].join(' + '), merge(grant, drive))
      }
    }
  }
  for (const running of RUNNING_AS) {
    const drive = allAllowed(running.calls, (call) => allowedSomewhere(subject, call))
    if (!drive) continue
    for (const role of roles.filter((r) => running.fits(r.principal))) step(role, running.calls.join(' + '), drive)
  }
  return steps
}

/** The roles of any account whose trust lets the subject in, with its own policies allowing the call where AWS asks for that. */
function assumeSteps(subject: Subject, candidates: Subject[], named: Set<Subject>): Step[] {
  const steps: Step[] = []
  const add = (role: Subject, own: Grant, trust: Grant): void => {
    steps.push({ from: subject.principal.arn, to: role.principal.arn, action: 'sts:AssumeRole', via: [...own.via, ...trust.via], conditions: [...new Set([...own.conditions, ...trust.conditions])] })
  }
  const others = candidates.filter((role) => role !== subject)
  const allowedRoles = allowedOn(subject, 'sts:AssumeRole', others)
  for (const { target, grant } of allowedRoles) {
    const trust = trustAdmits(target.principal, { kind: 'aws', subject })
    if (trust) add(target, grant, trust)
  }
  // In its own account a trust naming the principal itself is enough, whatever its policies say (short of an explicit Deny).
  const already = new Set(allowedRoles.map((a) => a.target))
  for (const role of others.filter((r) => named.has(r) && !already.has(r) && r.account === subject.account)) {
    const trust = trustAdmits(role.principal, { kind: 'aws', subject })
    const denied = evaluate({ action: 'sts:AssumeRole', resource: role.principal.arn, context: subject.context }, { identity: subject.identity, boundary: subject.boundary }).decision === 'explicit-deny'
    if (trust?.named && !denied) add(role, { via: [], conditions: [] }, trust)
  }
  return steps
}

/** Roles by who their trust names: a principal's ARN, an account, or anyone. */
function trustIndex(subjects: Subject[]): { rolesTrusting: (subject: Subject) => Subject[]; rolesNaming: (subject: Subject) => Set<Subject> } {
  const byName = new Map<string, Subject[]>()
  const add = (key: string, role: Subject): void => {
    const list = byName.get(key) ?? []
    if (list.at(-1) !== role) list.push(role)
    byName.set(key, list)
  }
  for (const role of subjects.filter((s) => s.principal.kind === 'role')) {
    for (const statement of role.principal.trustStatements) {
      const principal = statement.Principal
      if (principal === '*') add('*', role)
      else if (principal) for (const name of asList(principal.AWS)) add(/^\d{12}$/.test(name) ? `arn:aws:iam::${name}:root` : name, role)
    }
  }
  return {
    rolesTrusting: (subject) => [...new Set([...(byName.get('*') ?? []), ...(byName.get(subject.principal.arn) ?? []), ...(byName.get(`arn:aws:iam::${subject.account}:root`) ?? [])])],
    rolesNaming: (subject) => new Set(byName.get(subject.principal.arn) ?? []),
  }
}

/**
 * The escalation graph of the organisation's latest snapshots: an identity steps to another it can
 * act as or gain the permissions of, and to administrator of its account when it can give itself
 * anything. Administrators start no step: a path ends at one.
 */
export function escalationGraph(snapshots: { account: string; details: AuthorizationDetails }[], options: { alsoReach?: string } = {}): EscalationGraph {
  const states: AccountState[] = snapshots.map(({ account, details }) => ({ account, details, groups: groupsOf(details), subjects: principalsOf(details).map((p) => subjectOf(p, account)) }))
  const all = states.flatMap((s) => s.subjects)
  const identities = new Map<string, Identity>()
  for (const subject of all) identities.set(subject.principal.arn, { id: subject.principal.arn, account: subject.account, kind: subject.principal.kind, name: subject.principal.name, admin: subject.admin })
  for (const { account } of states) identities.set(administratorOf(account), { id: administratorOf(account), account, kind: 'administrator', name: `administrator of ${account}`, admin: true })

  // Reaching an identity that can go nowhere further adds nothing to a path (unless it is the
  // destination asked for), except where the subject may then change its policies.
  const { rolesTrusting, rolesNaming } = trustIndex(all)
  const startsSteps = new Set(all.filter((s) => !s.admin && (rolesNaming(s).size > 0 || STEP_ACTIONS.some((a) => s.mayDo(a)))))
  const leadsOn = new Set(all.filter((s) => s.admin || startsSteps.has(s) || s.principal.arn === options.alsoReach).map((s) => s.principal.arn))
  const steps = new Map<string, Step[]>()
  for (const state of states) {
    for (const subject of state.subjects.filter((s) => startsSteps.has(s))) {
      const changesOthers = [...POLICY_CHANGES.user, ...POLICY_CHANGES.role].some((call) => subject.mayDo(call))
      const worthReaching = (target: Subject): boolean => changesOthers || leadsOn.has(target.principal.arn)
      const own = [...sameAccountSteps(subject, state, worthReaching), ...assumeSteps(subject, rolesTrusting(subject).filter(worthReaching), rolesNaming(subject))]
      const toAdministrator = selfGrants(subject, state).map(({ action, grant }): Step => ({ from: subject.principal.arn, to: administratorOf(state.account), action, via: grant.via, conditions: grant.conditions }))
      // Changing the policies of an identity it can act as makes that identity, and so itself, administrator.
      for (const reached of own.filter((s) => s.to.split(':')[4] === state.account)) {
        const target = identities.get(reached.to)
        if (!target || target.admin) continue
        for (const call of target.kind === 'user' ? POLICY_CHANGES.user : POLICY_CHANGES.role) {
          const grant = allowed(subject, call, target.id, { 'iam:PolicyARN': ADMINISTRATOR_ACCESS })
          if (grant) toAdministrator.push({ from: subject.principal.arn, to: administratorOf(state.account), action: `${call} on ${target.kind} ${target.name}, then ${reached.action}`, via: [...new Set([...grant.via, ...reached.via])], conditions: [...new Set([...grant.conditions, ...reached.conditions])] })
        }
      }
      const kept = [...own.filter((s) => leadsOn.has(s.to)), ...toAdministrator]
      if (kept.length) steps.set(subject.principal.arn, kept)
    }
  }
  return { identities, steps }
}

const isAdministrator = (graph: EscalationGraph, id: string): boolean => graph.identities.get(id)?.admin === true

/** Breadth first from `from`: the shortest path to each identity `isTarget` accepts (up to `limit`), nearest first. */
export function pathsFrom(graph: EscalationGraph, from: string, isTarget: (id: string) => boolean = (id) => isAdministrator(graph, id), limit = Infinity): Path[] {
  const came = new Map<string, Step | null>([[from, null]])
  const queue = [from]
  const found: Path[] = []
  for (let i = 0; i < queue.length && found.length < limit; i++) {
    for (const step of graph.steps.get(queue[i] ?? '') ?? []) {
      if (came.has(step.to)) continue
      came.set(step.to, step)
      // First reached breadth first is reached by a shortest path; an administrator is a path's end.
      if (isTarget(step.to)) {
        const steps: Step[] = []
        for (let back: Step | null | undefined = step; back; back = came.get(back.from)) steps.unshift(back)
        found.push({ from, to: step.to, steps })
        if (found.length >= limit) break
      }
      if (!isAdministrator(graph, step.to)) queue.push(step.to)
    }
  }
  return found
}

/** For every identity that is not administrator and can become one, its shortest path there. */
export function pathsToAdministrator(graph: EscalationGraph): Path[] {
  return pathsInto(graph, [...graph.identities.values()].filter((i) => i.admin).map((i) => i.id))
}

/** For every identity that can reach one of the targets, its shortest path to the nearest: one walk backwards from all of them. */
export function pathsInto(graph: EscalationGraph, targets: string[]): Path[] {
  const into = new Map<string, Step[]>()
  for (const list of graph.steps.values()) {
    for (const step of list) {
      const before = into.get(step.to)
      if (before) before.push(step)
      else into.set(step.to, [step])
    }
  }
  const next = new Map<string, Step | null>()
  const queue: string[] = []
  for (const target of targets) {
    next.set(target, null)
    queue.push(target)
  }
  // The queue grows as it is read: breadth first, backwards.
  for (const at of queue) {
    for (const step of into.get(at) ?? []) {
      if (next.has(step.from)) continue
      next.set(step.from, step)
      queue.push(step.from)
    }
  }
  const paths: Path[] = []
  for (const [id, first] of next) {
    if (!first) continue
    const steps: Step[] = []
    for (let step: Step | null | undefined = first; step; step = next.get(step.to)) steps.push(step)
    paths.push({ from: id, to: steps.at(-1)?.to ?? id, steps })
  }
  return paths.sort((a, b) => a.steps.length - b.steps.length || a.from.localeCompare(b.from))
}

/** A move of an augmenting path: along a step, or back along one already used. */
interface Move {
  step: Step
  forward: boolean
}

/** Beyond this many separate ways to administrator, the smallest cut is not worth naming step by step. */
const MOST_WAYS = 8

/**
 * The fewest steps whose removal leaves `from` no way to administrator (a minimum cut, found by
 * augmenting paths over steps of capacity one); undefined when there are more than MOST_WAYS separate ways.
 */
export function smallestCut(graph: EscalationGraph, from: string): Step[] | undefined {
  // Each step straight to an administrator is a way of its own: past MOST_WAYS of them, no need to search.
  if ((graph.steps.get(from) ?? []).filter((s) => isAdministrator(graph, s.to)).length > MOST_WAYS) return undefined
  const used = new Set<Step>()
  const usedInto = new Map<string, Set<Step>>()
  // Each round: a path from `from` to any administrator over steps not yet used, or back along used
  // ones; depth first, as any path will do. When none is left, what was reached marks the cut.
  const search = (): { reached: Map<string, Move | null>; end?: string } => {
    const came = new Map<string, Move | null>([[from, null]])
    const stack = [from]
    const visit = (move: Move): boolean => {
      const to = move.forward ? move.step.to : move.step.from
      if (came.has(to)) return false
      came.set(to, move)
      if (isAdministrator(graph, to)) return true
      stack.push(to)
      return false
    }
    while (stack.length) {
      const at = stack.pop() ?? ''
      for (const step of graph.steps.get(at) ?? []) if (!used.has(step) && visit({ step, forward: true })) return { reached: came, end: step.to }
      for (const step of usedInto.get(at) ?? []) if (visit({ step, forward: false })) return { reached: came, end: step.from }
    }
    return { reached: came }
  }
  for (let round = 0; round <= MOST_WAYS; round++) {
    const { reached, end } = search()
    if (end === undefined) return [...used].filter((step) => reached.has(step.from) && !reached.has(step.to))
    for (let move = reached.get(end); move; move = reached.get(move.forward ? move.step.from : move.step.to)) {
      if (move.forward) {
        used.add(move.step)
        const into = usedInto.get(move.step.to) ?? new Set<Step>()
        into.add(move.step)
        usedInto.set(move.step.to, into)
      } else {
        used.delete(move.step)
        usedInto.get(move.step.to)?.delete(move.step)
      }
    }
  }
  return undefined
}

/** An identity as a person reads it: `user dev`, `role builder (444455556666)`, `administrator of 111122223333`. */
export function identityLabel(id: string, home?: string): string {
  if (id.startsWith('admin:')) return `administrator of ${id.slice('admin:'.length)}`
  const match = /^arn:aws[\w-]*:iam::(\d{12}):(user|role)\/(?:.*\/)?([^/]+)$/.exec(id)
  if (!match) return id
  const [, account = '', kind = '', name = ''] = match
  return `${kind} ${name}${home !== undefined && account !== home ? ` (${account})` : ''}`
}

/** A path on one line: each identity, and between them what is called. */
export function pathText(path: Path): string {
  const home = path.from.split(':')[4]
  return [identityLabel(path.from, home), ...path.steps.map((s) => `--[${s.action}]--> ${identityLabel(s.to, home)}`)].join(' ')
}

/** The smallest cut in words: each step to take away, with the statements that allow it. */
export function cutText(cut: Step[]): string {
  const home = cut[0]?.from.split(':')[4]
  return cut.map((s) => `${identityLabel(s.from, home)} ${s.action} to ${identityLabel(s.to, home)}${s.via.length ? ` (allowed by ${s.via.join(', ')})` : ''}`).join('; ')
}
