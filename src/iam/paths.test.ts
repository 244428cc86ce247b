import { describe, expect, it } from 'vitest'
import { AuthorizationDetails } from './authorization.js'
import { escalationGraph, pathsFrom, pathsToAdministrator, smallestCut, type EscalationGraph } from './paths.js'
import type { Statement } from './policy.js'

const ACCOUNT = '111122223333'
const OTHER = '444455556666'

const allow = (Action: string | string[], Resource: string | string[] = '*', Condition?: Statement['Condition']): Statement => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) })
const deny = (Action: string | string[], Resource: string | string[] = '*'): Statement => ({ Effect: 'Deny', Action, Resource })
const trustService = (service: string): object => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] })
const trustAws = (principal: string, Condition?: Statement['Condition']): object => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', ...(Condition ? { Condition } : {}) }] })

interface Spec {
  users?: { name: string; statements?: Statement[]; groups?: string[]; boundary?: Statement[]; managed?: string[] }[]
  roles?: { name: string; statements?: Statement[]; trust: object; profile?: boolean; boundary?: Statement[] }[]
  groups?: { name: string; statements?: Statement[] }[]
  policies?: { name: string; versions: { statements: Statement[]; isDefault: boolean }[] }[]
}

/** A snapshot in get-account-authorization-details' documented shape. */
function snapshot(spec: Spec, account = ACCOUNT): { account: string; details: AuthorizationDetails } {
  const arn = (kind: string, name: string): string => `arn:aws:iam::${account}:${kind}/${name}`
  const document = (statements: Statement[]): object => ({ Version: '2012-10-17', Statement: statements })
  const inline = (statements: Statement[] | undefined): object[] => (statements ? [{ PolicyName: 'own', PolicyDocument: document(statements) }] : [])
  const boundaries: Spec['policies'] = []
  const boundary = (owner: string, statements: Statement[] | undefined): object | undefined => {
    if (!statements) return undefined
    boundaries.push({ name: `boundary-${owner}`, versions: [{ statements, isDefault: true }] })
    return { PermissionsBoundaryType: 'Policy', PermissionsBoundaryArn: arn('policy', `boundary-${owner}`) }
  }
  const users = (spec.users ?? []).map((u) => ({
    UserName: u.name,
    Arn: arn('user', u.name),
    GroupList: u.groups ?? [],
    UserPolicyList: inline(u.statements),
    AttachedManagedPolicies: (u.managed ?? []).map((name) => ({ PolicyName: name, PolicyArn: arn('policy', name) })),
    PermissionsBoundary: boundary(u.name, u.boundary),
  }))
  const roles = (spec.roles ?? []).map((r) => ({
    RoleName: r.name,
    Arn: arn('role', r.name),
    AssumeRolePolicyDocument: r.trust,
    RolePolicyList: inline(r.statements),
    InstanceProfileList: r.profile ? [{ InstanceProfileName: r.name, Arn: arn('instance-profile', r.name) }] : [],
    PermissionsBoundary: boundary(r.name, r.boundary),
  }))
  const policies = [...(spec.policies ?? []), ...boundaries].map((p) => ({
    PolicyName: p.name,
    Arn: arn('policy', p.name),
    DefaultVersionId: `v${String(p.versions.findIndex((v) => v.isDefault) + 1)}`,
    PolicyVersionList: p.versions.map((v, i) => ({ VersionId: `v${String(i + 1)}`, IsDefaultVersion: v.isDefault, Document: document(v.statements) })),
  }))
  const groups = (spec.groups ?? []).map((g) => ({ GroupName: g.name, Arn: arn('group', g.name), GroupPolicyList: inline(g.statements) }))
  return { account, details: AuthorizationDetails.parse({ UserDetailList: users, RoleDetailList: roles, GroupDetailList: groups, Policies: policies }) }
}

const ADMIN_ROLE = (trust: object, extra: { profile?: boolean } = {}): NonNullable<Spec['roles']>[number] => ({ name: 'admin', statements: [allow('*')], trust, ...extra })
const user = (name: string, account = ACCOUNT): string => `arn:aws:iam::${account}:user/${name}`
const role = (name: string, account = ACCOUNT): string => `arn:aws:iam::${account}:role/${name}`

/** The shortest way from `from` to an administrator, as `action → where` lines; empty when there is none. */
function route(graph: EscalationGraph, from: string): string[] {
  const [path] = pathsFrom(graph, from)
  return (path?.steps ?? []).map((s) => `${s.action} → ${graph.identities.get(s.to)?.name ?? s.to}`)
}
const dev = (statements: Statement[], more: Partial<NonNullable<Spec['users']>[number]> = {}): NonNullable<Spec['users']>[number] => ({ name: 'dev', statements, ...more })
const routeOf = (spec: Spec, from = user('dev')): string[] => route(escalationGraph([snapshot(spec)]), from)

describe('escalation paths: policy changes on oneself, one’s groups, or an identity one can act as', () => {
  it('PutUserPolicy on itself makes a user administrator; a permission boundary it cannot lift blocks it', () => {
    const grant = allow('iam:PutUserPolicy', `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`)
    expect(routeOf({ users: [dev([grant])] })).toEqual(['iam:PutUserPolicy on itself → administrator of 111122223333'])
    expect(routeOf({ users: [dev([grant], { boundary: [allow(['s3:*', 'iam:PutUserPolicy'])] })] })).toEqual([])
    // …unless the boundary itself may be taken away.
    expect(routeOf({ users: [dev([grant, allow('iam:DeleteUserPermissionsBoundary', user('dev'))], { boundary: [allow(['s3:*', 'iam:PutUserPolicy', 'iam:DeleteUserPermissionsBoundary'])] })] })).toEqual([
      'iam:PutUserPolicy on itself → administrator of 111122223333',
    ])
  })

  it('AttachUserPolicy is a path unless a condition on iam:PolicyARN keeps it to harmless policies', () => {
    expect(routeOf({ users: [dev([allow('iam:AttachUserPolicy', user('dev'))])] })).toEqual(['iam:AttachUserPolicy on itself → administrator of 111122223333'])
    const onlyReadOnly = allow('iam:AttachUserPolicy', user('dev'), { ArnEquals: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess' } })
    expect(routeOf({ users: [dev([onlyReadOnly])] })).toEqual([])
  })

  it('PutGroupPolicy on its own group is a path; on a group it is not in, not', () => {
    const groups = [{ name: 'developers' }, { name: 'auditors' }]
    expect(routeOf({ groups, users: [dev([allow('iam:PutGroupPolicy', `arn:aws:iam::${ACCOUNT}:group/developers`)], { groups: ['developers'] })] })).toEqual(['iam:PutGroupPolicy on its group developers → administrator of 111122223333'])
    expect(routeOf({ groups, users: [dev([allow('iam:PutGroupPolicy', `arn:aws:iam::${ACCOUNT}:group/auditors`)], { groups: ['developers'] })] })).toEqual([])
  })

  it('AddUserToGroup into a group of administrators is a path; an explicit Deny on that group stops it', () => {
    const groups = [{ name: 'admins', statements: [allow('*')] }]
    expect(routeOf({ groups, users: [dev([allow('iam:AddUserToGroup')])] })).toEqual(["iam:AddUserToGroup admins (an administrators' group) → administrator of 111122223333"])
    expect(routeOf({ groups, users: [dev([allow('iam:AddUserToGroup'), deny('iam:AddUserToGroup', `arn:aws:iam::${ACCOUNT}:group/admins`)])] })).toEqual([])
  })

  it('CreatePolicyVersion of a policy it holds is a path; of a policy it does not hold, not', () => {
    const policies = [
      { name: 'dev-tools', versions: [{ statements: [allow('s3:GetObject')], isDefault: true }] },
      { name: 'other', versions: [{ statements: [allow('s3:GetObject')], isDefault: true }] },
    ]
    expect(routeOf({ policies, users: [dev([allow('iam:CreatePolicyVersion', `arn:aws:iam::${ACCOUNT}:policy/dev-tools`)], { managed: ['dev-tools'] })] })).toEqual(['iam:CreatePolicyVersion of dev-tools, which it holds → administrator of 111122223333'])
    expect(routeOf({ policies, users: [dev([allow('iam:CreatePolicyVersion', `arn:aws:iam::${ACCOUNT}:policy/other`)], { managed: ['dev-tools'] })] })).toEqual([])
  })

  it('SetDefaultPolicyVersion is a path when an older version of a policy it holds grants everything; not when none does', () => {
    const held = (older: Statement[]): Spec => ({
      policies: [{ name: 'dev-tools', versions: [{ statements: older, isDefault: false }, { statements: [allow('iam:SetDefaultPolicyVersion')], isDefault: true }] }],
      users: [dev([], { managed: ['dev-tools'] })],
    })
    expect(routeOf(held([allow('*')]))).toEqual(['iam:SetDefaultPolicyVersion of dev-tools to v1, which it holds → administrator of 111122223333'])
    expect(routeOf(held([allow('s3:*')]))).toEqual([])
  })

  it('PutRolePolicy on a role it can assume makes it administrator through that role; on a role it cannot assume, not', () => {
    const roles = [{ name: 'deployer', statements: [allow('s3:*')], trust: trustAws(`arn:aws:iam::${ACCOUNT}:root`) }]
    expect(routeOf({ roles, users: [dev([allow('iam:PutRolePolicy', role('deployer')), allow('sts:AssumeRole', role('deployer'))])] })).toEqual(['iam:PutRolePolicy on role deployer, then sts:AssumeRole → administrator of 111122223333'])
    expect(routeOf({ roles, users: [dev([allow('iam:PutRolePolicy', role('deployer'))])] })).toEqual([])
  })
})

describe('escalation paths: credentials of another user', () => {
  const ops = { name: 'ops', statements: [allow('*')] }
  it.each(['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateLoginProfile'])('%s on an administrator is a path; with an explicit Deny on that user, not', (call) => {
    expect(routeOf({ users: [ops, dev([allow(call)])] })).toEqual([`${call} → ops`])
    expect(routeOf({ users: [ops, dev([allow(call), deny(call, user('ops'))])] })).toEqual([])
  })

  it('a grant limited to its own keys is no path to anyone else’s', () => {
    expect(routeOf({ users: [ops, dev([allow('iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`)])] })).toEqual([])
  })
})

describe('escalation paths: trust', () => {
  it('UpdateAssumeRolePolicy on an administrator role is a path; an explicit Deny of sts:AssumeRole on it stops it', () => {
    const roles = [ADMIN_ROLE(trustService('ec2.amazonaws.com'))]
    expect(routeOf({ roles, users: [dev([allow('iam:UpdateAssumeRolePolicy')])] })).toEqual(['iam:UpdateAssumeRolePolicy + sts:AssumeRole → admin'])
    expect(routeOf({ roles, users: [dev([allow('iam:UpdateAssumeRolePolicy'), deny('sts:AssumeRole', role('admin'))])] })).toEqual([])
  })

  it('sts:AssumeRole where the trust admits the account and its own policy allows the call; trusting the account alone is not enough', () => {
    const roles = [ADMIN_ROLE(trustAws(`arn:aws:iam::${ACCOUNT}:root`))]
    expect(routeOf({ roles, users: [dev([allow('sts:AssumeRole')])] })).toEqual(['sts:AssumeRole → admin'])
    expect(routeOf({ roles, users: [dev([allow('s3:*')])] })).toEqual([])
  })

  it('a trust naming the user itself needs nothing from its own policies', () => {
    expect(routeOf({ roles: [ADMIN_ROLE(trustAws(user('dev')))], users: [dev([allow('s3:ListBucket')])] })).toEqual(['sts:AssumeRole → admin'])
  })

  it('across accounts by trust: a role of another account trusting this one; a trust condition the user fails (aws:PrincipalArn) is no path', () => {
    const mine = snapshot({ users: [dev([allow('sts:AssumeRole')])] })
    const theirs = (condition?: Statement['Condition']) => snapshot({ roles: [ADMIN_ROLE(trustAws(`arn:aws:iam::${ACCOUNT}:root`, condition))] }, OTHER)
    expect(route(escalationGraph([mine, theirs()]), user('dev'))).toEqual(['sts:AssumeRole → admin'])
    expect(pathsFrom(escalationGraph([mine, theirs()]), user('dev'))[0]?.to).toBe(role('admin', OTHER))
    expect(route(escalationGraph([mine, theirs({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/ci-*` } })]), user('dev'))).toEqual([])
  })

  it('a condition the snapshot cannot answer (MFA) is recorded on the step, not taken as a block', () => {
    const roles = [ADMIN_ROLE(trustAws(`arn:aws:iam::${ACCOUNT}:root`, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }))]
    const [path] = pathsFrom(escalationGraph([snapshot({ roles, users: [dev([allow('sts:AssumeRole')])] })]), user('dev'))
    expect(path?.steps[0]?.conditions).toEqual(['Bool aws:MultiFactorAuthPresent true'])
    expect(path?.steps[0]?.via).toEqual(['user/dev:own#0', `${role('admin')} trust#0`])
  })
})

describe('escalation paths: iam:PassRole to a service it can drive', () => {
  const services: [string, string, string[], boolean?][] = [
    ['ec2.amazonaws.com', 'ec2', ['ec2:RunInstances'], true],
    ['lambda.amazonaws.com', 'lambda', ['lambda:CreateFunction', 'lambda:InvokeFunction']],
    ['cloudformation.amazonaws.com', 'cloudformation', ['cloudformation:CreateStack']],
    ['glue.amazonaws.com', 'glue', ['glue:CreateDevEndpoint']],
    ['sagemaker.amazonaws.com', 'sagemaker', ['sagemaker:CreateNotebookInstance', 'sagemaker:CreatePresignedNotebookInstanceUrl']],
    ['codebuild.amazonaws.com', 'codebuild', ['codebuild:CreateProject', 'codebuild:StartBuild']],
    ['ecs-tasks.amazonaws.com', 'ecs', ['ecs:RegisterTaskDefinition', 'ecs:RunTask']],
    ['datapipeline.amazonaws.com', 'datapipeline', ['datapipeline:CreatePipeline', 'datapipeline:PutPipelineDefinition', 'datapipeline:ActivatePipeline']],
  ]
  it.each(services)('%s: PassRole of an administrator role with %s calls is a path; PassRole limited to a non-admin role, or for another service, is not', (principal, _service, calls, profile) => {
    const roles = [ADMIN_ROLE(trustService(principal), { profile }), { name: 'worker', statements: [allow('s3:GetObject')], trust: trustService(principal), profile }]
    expect(routeOf({ roles, users: [dev([allow('iam:PassRole'), allow(calls)])] })).toEqual([`${['iam:PassRole', ...calls].join(' + ')} → admin`])
    expect(routeOf({ roles, users: [dev([allow('iam:PassRole', role('worker')), allow(calls)])] })).toEqual([])
    const elsewhere = allow('iam:PassRole', '*', { StringEquals: { 'iam:PassedToService': 'states.amazonaws.com' } })
    expect(routeOf({ roles, users: [dev([elsewhere, allow(calls)])] })).toEqual([])
    // Passing is nothing without driving the service.
    expect(routeOf({ roles, users: [dev([allow('iam:PassRole'), allow(calls.slice(1).length ? calls.slice(1) : ['s3:GetObject'])])] })).toEqual([])
  })

  it('EC2 needs an instance profile to hand the role to an instance', () => {
    const roles = [ADMIN_ROLE(trustService('ec2.amazonaws.com'))]
    expect(routeOf({ roles, users: [dev([allow(['iam:PassRole', 'ec2:RunInstances'])])] })).toEqual([])
  })

  it('a function name limited by pattern still lets it create one of its own', () => {
    const roles = [ADMIN_ROLE(trustService('lambda.amazonaws.com'))]
    const grants = [allow('iam:PassRole'), allow(['lambda:CreateFunction', 'lambda:InvokeFunction'], `arn:aws:lambda:*:${ACCOUNT}:function:dev-*`)]
    expect(routeOf({ roles, users: [dev(grants)] })).toEqual(['iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction → admin'])
  })
})

describe('escalation paths: running code as an existing role', () => {
  it('lambda:UpdateFunctionCode reaches a role Lambda may run as; not a role only EC2 may', () => {
    expect(routeOf({ roles: [ADMIN_ROLE(trustService('lambda.amazonaws.com'))], users: [dev([allow('lambda:UpdateFunctionCode')])] })).toEqual(['lambda:UpdateFunctionCode → admin'])
    expect(routeOf({ roles: [ADMIN_ROLE(trustService('ec2.amazonaws.com'), { profile: true })], users: [dev([allow('lambda:UpdateFunctionCode')])] })).toEqual([])
  })

  it.each(['ssm:SendCommand', 'ssm:StartSession', 'ec2-instance-connect:SendSSHPublicKey'])('%s reaches a role with an instance profile; not one without', (call) => {
    expect(routeOf({ roles: [ADMIN_ROLE(trustService('ec2.amazonaws.com'), { profile: true })], users: [dev([allow(call)])] })).toEqual([`${call} → admin`])
    expect(routeOf({ roles: [ADMIN_ROLE(trustService('ec2.amazonaws.com'))], users: [dev([allow(call)])] })).toEqual([])
  })
})

describe('paths over several steps', () => {
  const spec: Spec = {
    users: [dev([allow('iam:PassRole', role('builder')), allow(['codebuild:CreateProject', 'codebuild:StartBuild'])]), { name: 'ops', statements: [allow('*')] }, { name: 'reader', statements: [allow('s3:GetObject')] }],
    roles: [{ name: 'builder', statements: [allow('iam:CreateAccessKey', user('ops'))], trust: trustService('codebuild.amazonaws.com') }],
  }

  it('dev → builder → ops: the shortest path with each step’s action and granting statement', () => {
    const graph = escalationGraph([snapshot(spec)])
    expect(route(graph, user('dev'))).toEqual(['iam:PassRole + codebuild:CreateProject + codebuild:StartBuild → builder', 'iam:CreateAccessKey → ops'])
    expect(pathsFrom(graph, user('dev'))[0]?.steps[1]?.via).toEqual(['role/builder:own#0'])
  })

  it('every identity that can become administrator, and nobody else (not reader, not ops who already is)', () => {
    const paths = pathsToAdministrator(escalationGraph([snapshot(spec)]))
    expect(paths.map((p) => `${p.from.split('/').pop() ?? ''} ${String(p.steps.length)}`)).toEqual(['builder 1', 'dev 2'])
  })

  it('the smallest cut: one step when every path goes through it, two when there are two separate ways', () => {
    const graph = escalationGraph([snapshot(spec)])
    const passBuilder = 'iam:PassRole + codebuild:CreateProject + codebuild:StartBuild'
    expect(smallestCut(graph, user('dev'))?.map((s) => s.action)).toEqual([passBuilder])
    const twoWays = escalationGraph([snapshot({ ...spec, users: [...(spec.users ?? []).map((u) => (u.name === 'dev' ? { ...u, statements: [...(u.statements ?? []), allow('iam:UpdateLoginProfile', user('ops'))] } : u))] })])
    expect(smallestCut(twoWays, user('dev'))?.map((s) => s.action).sort()).toEqual([passBuilder, 'iam:UpdateLoginProfile'])
  })

  it('--to another identity: the path to a role that leads nowhere further, when asked for it', () => {
    const spec2: Spec = { roles: [{ name: 'billing', statements: [allow('aws-portal:*')], trust: trustAws(`arn:aws:iam::${ACCOUNT}:root`) }], users: [dev([allow('sts:AssumeRole')])] }
    const graph = escalationGraph([snapshot(spec2)], { alsoReach: role('billing') })
    expect(pathsFrom(graph, user('dev'), (id) => id === role('billing')).map((p) => p.steps.map((s) => s.action))).toEqual([['sts:AssumeRole']])
  })
})
