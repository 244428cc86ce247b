import { z } from 'zod'
import { AppError, issueLines } from '../errors.js'
import { awsManagedDocument } from './managed-policies.js'
import { asList, type NamedPolicy, type PolicyDocument } from './policy.js'
import { PolicyText, type TrustStatement } from './policy-schema.js'

export type { TrustStatement }

const Attached = z.object({ PolicyName: z.string(), PolicyArn: z.string() })
const Inline = z.object({ PolicyName: z.string(), PolicyDocument: PolicyText })
const Boundary = z.object({ PermissionsBoundaryType: z.string().optional(), PermissionsBoundaryArn: z.string() })

const User = z.object({
  UserName: z.string(),
  Arn: z.string(),
  CreateDate: z.string().optional(),
  GroupList: z.array(z.string()).default([]),
  AttachedManagedPolicies: z.array(Attached).default([]),
  UserPolicyList: z.array(Inline).default([]),
  PermissionsBoundary: Boundary.optional(),
})
const Group = z.object({
  GroupName: z.string(),
  Arn: z.string(),
  AttachedManagedPolicies: z.array(Attached).default([]),
  GroupPolicyList: z.array(Inline).default([]),
})
const Role = z.object({
  RoleName: z.string(),
  Arn: z.string(),
  CreateDate: z.string().optional(),
  AssumeRolePolicyDocument: PolicyText,
  AttachedManagedPolicies: z.array(Attached).default([]),
  RolePolicyList: z.array(Inline).default([]),
  PermissionsBoundary: Boundary.optional(),
  RoleLastUsed: z.object({ LastUsedDate: z.string().optional(), Region: z.string().optional() }).optional(),
  InstanceProfileList: z.array(z.object({ InstanceProfileName: z.string(), Arn: z.string() })).default([]),
})
const ManagedPolicy = z.object({
  PolicyName: z.string(),
  Arn: z.string(),
  DefaultVersionId: z.string(),
  PolicyVersionList: z.array(z.object({ Document: PolicyText, VersionId: z.string(), IsDefaultVersion: z.boolean() })).default([]),
})

/** The output of `aws iam get-account-authorization-details`, as documented; fields it does not use are kept, not read. */
export const AuthorizationDetails = z.object({
  UserDetailList: z.array(User).default([]),
  GroupDetailList: z.array(Group).default([]),
  RoleDetailList: z.array(Role).default([]),
  Policies: z.array(ManagedPolicy).default([]),
})
export type AuthorizationDetails = z.output<typeof AuthorizationDetails>

/** Parses the JSON text of one account's authorization details; every problem is named by its path. */
/** JSON text of an AWS CLI output, or an error naming the file. */
export function cliOutput(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new AppError('INVALID_IAM', `${source}: not JSON (${(err as Error).message})`)
  }
}

export function parseAuthorizationDetails(text: string, source: string): AuthorizationDetails {
  const json = cliOutput(text, source)
  const lists = ['UserDetailList', 'GroupDetailList', 'RoleDetailList', 'Policies']
  if (typeof json !== 'object' || json === null || !lists.some((list) => list in json)) {
    throw new AppError('INVALID_IAM', `${source} is not the output of aws iam get-account-authorization-details: it has none of ${lists.join(', ')}`)
  }
  const parsed = AuthorizationDetails.safeParse(json)
  if (!parsed.success) {
    const problems = issueLines(parsed.error, 10)
    throw new AppError('INVALID_IAM', `${source} is not the output of aws iam get-account-authorization-details:\n  ${problems.join('\n  ')}`)
  }
  return parsed.data
}

/** The one account the details describe, from the ARNs in them. */
export function accountOf(details: AuthorizationDetails, source: string): string {
  const arns = [...details.UserDetailList, ...details.GroupDetailList, ...details.RoleDetailList].map((entity) => entity.Arn)
  const accounts = [...new Set(arns.map((arn) => arn.split(':')[4] ?? ''))]
  if (accounts.length !== 1 || !/^\d{12}$/.test(accounts[0] ?? '')) {
    throw new AppError('INVALID_IAM', `${source}: expected the users, groups and roles of one account, found ${accounts.length ? accounts.join(', ') : 'none'}`)
  }
  return accounts[0] ?? ''
}

/** A user or a role with every policy that applies to it, resolved. */
export interface IamPrincipal {
  kind: 'user' | 'role'
  name: string
  arn: string
  created: string | undefined
  groups: string[]
  /** Inline policies (its own and its groups'), then the default versions of its managed policies. */
  policies: NamedPolicy[]
  /** Managed policies attached to it or its groups whose documents the snapshot lacks. */
  unresolved: string[]
  boundary: NamedPolicy | undefined
  /** A role's trust policy. */
  trust: PolicyDocument | undefined
  trustStatements: TrustStatement[]
  lastUsed: string | undefined
  inlinePolicies: number
  /** A role's instance profiles: an EC2 instance may run as it. */
  instanceProfiles: string[]
}

/** A group with its inline and managed policies, resolved. */
export interface IamGroup {
  name: string
  arn: string
  policies: NamedPolicy[]
}

type Resolver = (owner: string, attached: z.output<typeof Attached>[], inline: z.output<typeof Inline>[]) => { policies: NamedPolicy[]; unresolved: string[] }

/** Resolves inline policies by owner and managed ones by the default versions the snapshot (or AWS's catalogue) holds. */
function policyResolver(details: AuthorizationDetails): { resolve: Resolver; managed: Map<string, PolicyDocument | undefined> } {
  const managed = new Map(details.Policies.map((p) => [p.Arn, p.PolicyVersionList.find((v) => v.IsDefaultVersion || v.VersionId === p.DefaultVersionId)?.Document]))
  const resolve: Resolver = (owner, attached, inline) => {
    const policies: NamedPolicy[] = inline.map((p) => ({ name: `${owner}:${p.PolicyName}`, document: p.PolicyDocument }))
    const unresolved: string[] = []
    for (const a of attached) {
      const document = managed.get(a.PolicyArn) ?? awsManagedDocument(a.PolicyArn)
      if (document) policies.push({ name: a.PolicyArn, document: document })
      else unresolved.push(a.PolicyArn)
    }
    return { policies, unresolved }
  }
  return { resolve, managed }
}

/** Each group of the snapshot with its policies. */
export function groupsOf(details: AuthorizationDetails): IamGroup[] {
  const { resolve } = policyResolver(details)
  return details.GroupDetailList.map((g) => ({ name: g.GroupName, arn: g.Arn, policies: resolve(`group/${g.GroupName}`, g.AttachedManagedPolicies, g.GroupPolicyList).policies }))
}

/** Each user and role of the snapshot with its effective policy documents. */
export function principalsOf(details: AuthorizationDetails): IamPrincipal[] {
  const { resolve, managed } = policyResolver(details)
  const groups = new Map(details.GroupDetailList.map((g) => [g.GroupName, g]))
  const boundaryOf = (boundary: z.output<typeof Boundary> | undefined): NamedPolicy | undefined => {
    const document = boundary ? (managed.get(boundary.PermissionsBoundaryArn) ?? awsManagedDocument(boundary.PermissionsBoundaryArn)) : undefined
    return boundary && document ? { name: boundary.PermissionsBoundaryArn, document: document } : undefined
  }
  const users = details.UserDetailList.map((u): IamPrincipal => {
    const own = resolve(`user/${u.UserName}`, u.AttachedManagedPolicies, u.UserPolicyList)
    const viaGroups = u.GroupList.map((name) => groups.get(name)).flatMap((g) => (g ? [resolve(`group/${g.GroupName}`, g.AttachedManagedPolicies, g.GroupPolicyList)] : []))
    return {
      kind: 'user',
      name: u.UserName,
      arn: u.Arn,
      created: u.CreateDate,
      groups: u.GroupList,
      policies: [...own.policies, ...viaGroups.flatMap((g) => g.policies)],
      unresolved: [...own.unresolved, ...viaGroups.flatMap((g) => g.unresolved)],
      boundary: boundaryOf(u.PermissionsBoundary),
      trust: undefined,
      trustStatements: [],
      lastUsed: undefined,
      inlinePolicies: u.UserPolicyList.length,
      instanceProfiles: [],
    }
  })
  const roles = details.RoleDetailList.map((r): IamPrincipal => {
    const own = resolve(`role/${r.RoleName}`, r.AttachedManagedPolicies, r.RolePolicyList)
    const trust = r.AssumeRolePolicyDocument
    return {
      kind: 'role',
      name: r.RoleName,
      arn: r.Arn,
      created: r.CreateDate,
      groups: [],
      policies: own.policies,
      unresolved: own.unresolved,
      boundary: boundaryOf(r.PermissionsBoundary),
      trust: trust,
      trustStatements: asList(trust.Statement),
      lastUsed: r.RoleLastUsed?.LastUsedDate,
      inlinePolicies: r.RolePolicyList.length,
      instanceProfiles: r.InstanceProfileList.map((p) => p.Arn),
    }
  })
  return [...users, ...roles]
}
