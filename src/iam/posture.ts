import { z } from 'zod'
import type { Severity } from '../severity.js'
import { principalsOf, type AuthorizationDetails, type IamPrincipal, type TrustStatement } from './authorization.js'
import { asList, evaluate, statementsOf, type NamedPolicy, type PolicyDocument, type Statement } from './policy.js'
import { PasswordPolicy } from './snapshots.js'

export interface PostureSettings {
  /** The accounts of the organisation: a role trusting any other is trusting a third party. */
  organisationAccounts: string[]
  /** A role or user not used for this long is a standing door nobody walks through. */
  unusedDays: number
}

export interface PostureFinding {
  check: string
  severity: Severity
  /** The ARN of what the finding is about: a user, a role, a policy. */
  subject: string
  title: string
  why: string
  /** Conditions that narrow the access, shown beside it. */
  mitigations: string[]
  /** When the state began, as far as the snapshot says (a creation date), or the snapshot's time. */
  since: string
}

const DAY = 86_400_000
/** Calls an administrator may make and nobody else should: all of them, and it may do anything. */
const ADMIN_PROBES = ['iam:CreateUser', 'iam:AttachRolePolicy', 'iam:PutRolePolicy', 'sts:AssumeRole', 'ec2:RunInstances', 's3:DeleteBucket', 'kms:ScheduleKeyDeletion', 'organizations:LeaveOrganization']

/** Condition keys whose values are shared secrets: a report says they are set, never what they are. */
const SECRET_KEYS = new Set(['sts:externalid'])

export function describeConditions(statement: Statement | TrustStatement): string[] {
  return Object.entries(statement.Condition ?? {}).flatMap(([operator, keys]) =>
    Object.entries(keys).map(([key, values]) => `${operator} ${key} ${SECRET_KEYS.has(key.toLowerCase()) ? '(set)' : asList(values).join(', ')}`),
  )
}

/** The policies with each Allow's conditions set aside (they are mitigations, not absences), and the conditions themselves. */
function unconditional(policies: NamedPolicy[]): { policies: NamedPolicy[]; conditions: string[] } {
  const conditions: string[] = []
  const stripped = policies.map((policy) => ({
    name: policy.name,
    document: {
      Statement: statementsOf(policy.document).flatMap((s): Statement[] => {
        if (!s.Condition) return [s]
        if (s.Effect === 'Deny') return []
        conditions.push(...describeConditions(s))
        const { Condition: _, ...rest } = s
        return [rest]
      }),
    },
  }))
  return { policies: stripped, conditions }
}

/** Whether the principal may do anything (when the conditions on its grants hold), and those conditions. */
export function administrator(principal: IamPrincipal): { admin: boolean; mitigations: string[] } {
  const identity = unconditional(principal.policies)
  const boundary = principal.boundary ? unconditional([principal.boundary]) : undefined
  const decisions = ADMIN_PROBES.map((action) => evaluate({ action, resource: '*' }, { identity: identity.policies, boundary: boundary?.policies }))
  const admin = decisions.every((d) => d.decision === 'allowed')
  const used = new Set(decisions.flatMap((d) => d.because.map((b) => b.split('#')[0])))
  const mitigations = [...new Set(principal.policies.filter((p) => used.has(p.name)).flatMap((p) => statementsOf(p.document).filter((s) => s.Effect === 'Allow').flatMap(describeConditions)))]
  return { admin, mitigations }
}

/** Who a trust statement lets in: AWS accounts and principals, services, federated providers, or anyone. */
function trusted(statement: TrustStatement): { anyone: boolean; aws: string[]; federated: string[] } {
  const principal = statement.Principal
  if (principal === '*') return { anyone: true, aws: [], federated: [] }
  const aws = asList(principal?.AWS)
  return { anyone: aws.includes('*'), aws: aws.filter((p) => p !== '*'), federated: asList(principal?.Federated) }
}

const accountOfPrincipal = (principal: string): string => (/^\d{12}$/.test(principal) ? principal : (principal.split(':')[4] ?? ''))

function hasConditionKey(statement: TrustStatement, key: string): boolean {
  return Object.values(statement.Condition ?? {}).some((keys) => Object.keys(keys).some((k) => k.toLowerCase() === key.toLowerCase()))
}

/** The account's own policies (managed, and inline in users, groups and roles), each with who holds it. */
function customerPolicies(details: AuthorizationDetails): { arn: string; document: PolicyDocument; attachedTo: string[] }[] {
  const principals = principalsOf(details)
  const holders = (name: string): string[] => principals.filter((p) => p.policies.some((policy) => policy.name === name)).map((p) => `${p.kind} ${p.name}`)
  const managed = details.Policies.filter((p) => !p.Arn.startsWith('arn:aws:iam::aws:')).flatMap((p) => {
    const version = p.PolicyVersionList.find((v) => v.IsDefaultVersion)
    return version ? [{ arn: p.Arn, document: version.Document, attachedTo: holders(p.Arn) }] : []
  })
  const inline = (owner: string, arn: string, policies: { PolicyName: string; PolicyDocument: unknown }[]) =>
    policies.map((p) => ({ arn: `${arn}#${p.PolicyName}`, document: p.PolicyDocument as PolicyDocument, attachedTo: holders(`${owner}:${p.PolicyName}`) }))
  return [
    ...managed,
    ...details.UserDetailList.flatMap((u) => inline(`user/${u.UserName}`, u.Arn, u.UserPolicyList)),
    ...details.GroupDetailList.flatMap((g) => inline(`group/${g.GroupName}`, g.Arn, g.GroupPolicyList)),
    ...details.RoleDetailList.flatMap((r) => inline(`role/${r.RoleName}`, r.Arn, r.RolePolicyList)),
  ]
}

/** Everyone a role's trust policy lets in, by name: accounts and principals, federated providers, `*`. */
function trustedNames(statements: TrustStatement[]): string[] {
  return [
    ...new Set(
      statements
        .filter((s) => s.Effect === 'Allow')
        .flatMap((s) => {
          const t = trusted(s)
          return [...t.aws, ...t.federated, ...(t.anyone ? ['*'] : [])]
        }),
    ),
  ]
}

/** A role's trust, statement by statement: anyone, strangers, third parties without an ExternalId, federated providers. */
function trustFindings(role: IamPrincipal, outside: (account: string) => boolean, organisationKnown: boolean): PostureFinding[] {
  const since = role.created ?? ''
  const findings: PostureFinding[] = []
  for (const statement of role.trustStatements.filter((s) => s.Effect === 'Allow')) {
    const who = trusted(statement)
    const conditions = describeConditions(statement)
    const base = { subject: role.arn, mitigations: conditions, since }
    if (who.anyone) {
      const narrowed = ['aws:PrincipalOrgID', 'aws:PrincipalAccount', 'aws:SourceAccount'].some((key) => hasConditionKey(statement, key))
      findings.push({ ...base, check: 'trust-any-principal', severity: narrowed ? 'medium' : 'critical', title: `Role ${role.name} may be assumed by any AWS principal${conditions.length ? ' meeting its conditions' : ''}`, why: 'A trust policy with Principal "*" lets every AWS account in; only a condition on the organisation or account narrows it.' })
    }
    for (const account of who.aws.map(accountOfPrincipal).filter(outside)) {
      findings.push({
        ...base,
        check: 'trust-outside-organisation',
        severity: organisationKnown ? 'high' : 'medium',
        title: `Role ${role.name} trusts account ${account}${organisationKnown ? ', outside the organisation' : ''}`,
        why: organisationKnown ? `Account ${account} is not among the organisation's accounts.` : `Account ${account} is not this account; list the organisation's accounts (organisationAccounts) to tell partners from strangers.`,
      })
      if (!hasConditionKey(statement, 'sts:ExternalId')) {
        findings.push({ ...base, check: 'third-party-without-external-id', severity: 'high', title: `Role ${role.name} trusts account ${account} without an ExternalId`, why: 'A third party assuming a role for you should present the ExternalId you agreed, or anyone it serves can make it act on your account (the confused deputy).' })
      }
    }
    for (const provider of who.federated) {
      const host = provider.split('oidc-provider/')[1]
      const open = host !== undefined && !hasConditionKey(statement, `${host}:sub`)
      findings.push({
        ...base,
        check: 'federated-trust',
        severity: open ? 'high' : 'low',
        title: open ? `Role ${role.name} may be assumed by any identity of ${host}` : `Role ${role.name} may be assumed through ${provider.split('/').pop() ?? provider}`,
        why: open ? `Its trust names the OIDC provider ${host} without a condition on ${host}:sub, so every subject the provider signs for (every repository, every tenant) may assume it.` : 'Who signs in through this provider, and with which claims, decides who may assume the role.',
      })
    }
  }
  return findings
}

/** Whom a role trusts now that it did not in the previous snapshot; for a new role, whoever from outside it trusts. */
function trustChanges(role: IamPrincipal, was: IamPrincipal | undefined, outside: (account: string) => boolean, takenAt: string): PostureFinding[] {
  const before = new Set(was ? trustedNames(was.trustStatements) : [])
  const newcomers = trustedNames(role.trustStatements).filter((name) => (was ? !before.has(name) : name === '*' || name.includes('-provider/') || outside(accountOfPrincipal(name))))
  return newcomers.map((name) => ({
    check: 'new-trust',
    severity: 'high',
    subject: role.arn,
    title: `${was ? 'Role' : 'New role'} ${role.name} ${was ? 'now trusts' : 'trusts'} ${name === '*' ? 'any principal' : name}`,
    why: was ? `Its trust policy did not name ${name} in the previous snapshot.` : 'The role did not exist in the previous snapshot.',
    mitigations: [],
    since: takenAt,
  }))
}

/** Every check on one snapshot, and what changed since the one before. */
export function postureFindings(account: string, takenAt: string, details: AuthorizationDetails, previous: AuthorizationDetails | undefined, settings: PostureSettings): PostureFinding[] {
  const findings: PostureFinding[] = []
  const before = previous ? new Map(principalsOf(previous).map((p) => [p.arn, p])) : undefined
  const outside = (acct: string): boolean => acct !== account && !settings.organisationAccounts.includes(acct)
  const limit = Date.parse(takenAt) - settings.unusedDays * DAY

  for (const principal of principalsOf(details)) {
    const since = principal.created ?? takenAt
    const { admin, mitigations } = administrator(principal)
    const was = before?.get(principal.arn)
    if (admin && principal.kind === 'user') {
      findings.push({
        check: 'administrator-user',
        severity: mitigations.length ? 'medium' : 'high',
        subject: principal.arn,
        title: `User ${principal.name} holds administrator access${mitigations.length ? ' (with conditions)' : ''}`,
        why: 'Administrator access belongs to roles people assume for a while, not to a user whose keys and password hold it all the time (CIS 1.16, Security Hub IAM.1).',
        mitigations,
        since,
      })
    }
    if (admin && before && !(was && administrator(was).admin)) {
      findings.push({ check: 'new-administrator', severity: 'high', subject: principal.arn, title: `${principal.kind === 'user' ? 'User' : 'Role'} ${principal.name} became an administrator`, why: `It could not do everything in the previous snapshot; it can in the one of ${takenAt}.`, mitigations, since: takenAt })
    }
    if (principal.kind === 'user' && principal.inlinePolicies > 0 && principal.groups.length === 0) {
      findings.push({ check: 'inline-policy-no-group', severity: 'low', subject: principal.arn, title: `User ${principal.name} has inline policies and no group`, why: 'Permissions given to each person inline are hard to review and drift apart; grant them through groups (CIS 1.15).', mitigations: [], since })
    }
    if (principal.kind !== 'role') continue
    if ((principal.lastUsed ? Date.parse(principal.lastUsed) : 0) < limit && Date.parse(since) < limit) {
      findings.push({
        check: 'unused-role',
        severity: 'low',
        subject: principal.arn,
        title: `Role ${principal.name} not assumed in ${String(settings.unusedDays)} days`,
        why: `${principal.lastUsed ? `Last used ${principal.lastUsed.slice(0, 10)}` : 'Never used'}: a role nobody uses is access nobody watches; remove it or say why it stays.`,
        mitigations: [],
        since: principal.lastUsed ?? since,
      })
    }
    findings.push(...trustFindings({ ...principal, created: since }, outside, settings.organisationAccounts.length > 0))
    if (before) findings.push(...trustChanges(principal, was, outside, takenAt))
  }

  for (const policy of customerPolicies(details)) {
    const full = statementsOf(policy.document).filter((s) => s.Effect === 'Allow' && asList(s.Action).some((a) => a === '*' || a === '*:*') && asList(s.Resource).includes('*'))
    if (full.length === 0 || policy.attachedTo.length === 0) continue
    const conditions = full.flatMap(describeConditions)
    findings.push({ check: 'full-access-policy', severity: conditions.length ? 'medium' : 'high', subject: policy.arn, title: `Policy ${policy.arn.split(/[/#]/).pop() ?? policy.arn} allows every action on every resource (${policy.attachedTo.join(', ')})`, why: 'A policy of your own granting "*" on "*" is administrator access under another name (CIS 1.16, Security Hub IAM.1): grant what is used (trailwatch suggest-policy).', mitigations: conditions, since: takenAt })
  }
  return findings
}

/** What an account's password policy must require (CIS 1.8 and 1.9; Security Hub IAM.7). */
export const PasswordStandard = z.object({
  minimumLength: z.number().int().min(6).max(128).default(14),
  reusePrevention: z.number().int().min(0).max(24).default(24),
  requireSymbols: z.boolean().default(true),
  requireNumbers: z.boolean().default(true),
  requireUppercase: z.boolean().default(true),
  requireLowercase: z.boolean().default(true),
})
export type PasswordStandard = z.output<typeof PasswordStandard>

/** Where a password policy falls short of the standard, in words; empty when it does not. */
export function passwordShortfalls(policy: PasswordPolicy, standard: PasswordStandard): string[] {
  const short: string[] = []
  if ((policy.MinimumPasswordLength ?? 8) < standard.minimumLength) short.push(`minimum length ${String(policy.MinimumPasswordLength ?? 8)} (standard ${String(standard.minimumLength)})`)
  if ((policy.PasswordReusePrevention ?? 0) < standard.reusePrevention) short.push(`remembers ${String(policy.PasswordReusePrevention ?? 0)} passwords (standard ${String(standard.reusePrevention)})`)
  const classes: [boolean, boolean | undefined, string][] = [
    [standard.requireSymbols, policy.RequireSymbols, 'symbols'],
    [standard.requireNumbers, policy.RequireNumbers, 'numbers'],
    [standard.requireUppercase, policy.RequireUppercaseCharacters, 'uppercase letters'],
    [standard.requireLowercase, policy.RequireLowercaseCharacters, 'lowercase letters'],
  ]
  const missing = classes.filter(([required, set]) => required && !set).map(([, , name]) => name)
  if (missing.length) short.push(`does not require ${missing.join(', ')}`)
  return short
}

/**
 * The account's password policy in its latest snapshot against the standard. `history` is each
 * snapshot's policy, oldest first (as JSON): the finding dates from the first of the latest run of
 * snapshots with the same policy, so the next import of it is not news.
 */
export function passwordPolicyFindings(account: string, history: string, standard: PasswordStandard): PostureFinding[] {
  const snapshots = z.array(z.tuple([z.coerce.number(), z.string()])).parse(JSON.parse(history || '[]'))
  const latest = snapshots.at(-1)
  if (!latest?.[1]) return []
  let since = latest[0]
  for (let i = snapshots.length - 2; i >= 0 && snapshots[i]?.[1] === latest[1]; i--) since = snapshots[i]?.[0] ?? since
  const short = passwordShortfalls(PasswordPolicy.parse(JSON.parse(latest[1])), standard)
  if (short.length === 0) return []
  return [
    {
      check: 'weak-password-policy',
      severity: 'medium',
      subject: account,
      title: `The password policy of ${account} is weaker than the standard: ${short.join('; ')}`,
      why: 'Console passwords are only as strong as the policy lets people make them (CIS 1.8 and 1.9, Security Hub IAM.7); set it with aws iam update-account-password-policy.',
      mitigations: [],
      since: new Date(since).toISOString(),
    },
  ]
}
