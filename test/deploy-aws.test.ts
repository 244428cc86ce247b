import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse, type Tags, YAMLSeq } from 'yaml'
import { evaluate, statementsOf, type NamedPolicy, type PolicyDocument } from '../src/iam/policy.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const DEPLOY = path.join(ROOT, 'deploy/aws')

/** CloudFormation's short forms, read as the long forms they stand for. */
const SHORT_FORMS: Tags = [
  ...['Ref', 'Sub', 'GetAtt'].map((name) => ({ tag: `!${name}`, resolve: (value: string) => (name === 'Ref' ? { Ref: value } : { [`Fn::${name}`]: value }) })),
  ...['If', 'Not', 'Equals'].map((name) => ({ tag: `!${name}`, collection: 'seq' as const, resolve: (value: unknown) => ({ [`Fn::${name}`]: (value as YAMLSeq).toJSON() }) })),
]

/** A template's value with the intrinsic functions worked out for these parameters. */
function resolve(value: unknown, parameters: Record<string, string>, conditions: Record<string, boolean>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, parameters, conditions)).filter((item) => item !== NO_VALUE)
  if (typeof value !== 'object' || value === null) return value
  const node = value as Record<string, unknown>
  if ('Ref' in node) return node.Ref === 'AWS::NoValue' ? NO_VALUE : (parameters[String(node.Ref)] ?? `${String(node.Ref)}-ref`)
  if ('Fn::Sub' in node) return String(node['Fn::Sub']).replace(/\$\{([\w:]+)\}/g, (_, name: string) => parameters[name] ?? `${name}-ref`)
  if ('Fn::GetAtt' in node) return parameters[String(node['Fn::GetAtt'])] ?? `${String(node['Fn::GetAtt'])}-att`
  if ('Fn::If' in node) {
    const [condition, yes, no] = node['Fn::If'] as [string, unknown, unknown]
    return resolve(conditions[condition] ? yes : no, parameters, conditions)
  }
  return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, resolve(item, parameters, conditions)]))
}
const NO_VALUE = Symbol('AWS::NoValue')

interface Template {
  Resources: Record<string, { Type: string; Properties: { RoleName?: string; Policies?: { PolicyName: string; PolicyDocument: PolicyDocument }[] } }>
}

function rolePolicies(file: string, parameters: Record<string, string>, conditions: Record<string, boolean>): Map<string, NamedPolicy[]> {
  const template = resolve(parse(readFileSync(path.join(DEPLOY, file), 'utf8'), { customTags: SHORT_FORMS }), parameters, conditions) as Template
  const roles = new Map<string, NamedPolicy[]>()
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue
    roles.set(resource.Properties.RoleName ?? '', (resource.Properties.Policies ?? []).map((p) => ({ name: p.PolicyName, document: p.PolicyDocument })))
  }
  return roles
}

const PARAMETERS = {
  TrailBucket: 'org-trail',
  TrailPrefix: 'trails/',
  TrailKmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  MemberRoleName: 'trailwatch-member-reader',
  ResponderRoleName: 'trailwatch-responder',
  RoleName: 'trailwatch-responder',
  ProtectedNamePrefix: 'break-glass',
  'TrailQueue.Arn': 'arn:aws:sqs:us-east-1:111122223333:trailwatch-TrailQueue',
  'AWS::AccountId': '111122223333',
  'AWS::Region': 'us-east-1',
}
const reader = rolePolicies('trailwatch-reader.yaml', PARAMETERS, { Encrypted: true, Responds: true })
const member = rolePolicies('trailwatch-member-reader.yaml', PARAMETERS, {})
const responder = rolePolicies('trailwatch-responder.yaml', PARAMETERS, {})
const POLICIES = { trailwatch: reader, 'trailwatch-member-reader': member, 'trailwatch-responder': responder }
/** A user whose key leaked, in the account the responder is deployed in. */
const ANNA = 'arn:aws:iam::111122223333:user/anna'
const containing = (action: string) => ({ role: 'trailwatch-responder' as const, action, resource: ANNA })

/**
 * Each AWS call trailwatch makes, by its SDK command, with the role that makes it and a resource it
 * acts on. A call the code makes that is missing here fails the test: add it, and to the templates.
 */
const CALLS: Record<string, { role: keyof typeof POLICIES; action: string; resource: string } | 'no permission needed'> = {
  ListObjectsV2: { role: 'trailwatch', action: 's3:ListBucket', resource: 'arn:aws:s3:::org-trail' },
  GetObject: { role: 'trailwatch', action: 's3:GetObject', resource: 'arn:aws:s3:::org-trail/trails/AWSLogs/o-abcdef1234/222233334444/CloudTrail/us-east-1/2026/11/20/x.json.gz' },
  ReceiveMessage: { role: 'trailwatch', action: 'sqs:ReceiveMessage', resource: PARAMETERS['TrailQueue.Arn'] },
  DeleteMessage: { role: 'trailwatch', action: 'sqs:DeleteMessage', resource: PARAMETERS['TrailQueue.Arn'] },
  ChangeMessageVisibility: { role: 'trailwatch', action: 'sqs:ChangeMessageVisibility', resource: PARAMETERS['TrailQueue.Arn'] },
  ListAccounts: { role: 'trailwatch', action: 'organizations:ListAccounts', resource: '*' },
  AssumeRole: { role: 'trailwatch', action: 'sts:AssumeRole', resource: 'arn:aws:iam::222233334444:role/trailwatch-member-reader' },
  GetCallerIdentity: 'no permission needed',
  GenerateCredentialReport: { role: 'trailwatch-member-reader', action: 'iam:GenerateCredentialReport', resource: '*' },
  GetCredentialReport: { role: 'trailwatch-member-reader', action: 'iam:GetCredentialReport', resource: '*' },
  GetAccountAuthorizationDetails: { role: 'trailwatch-member-reader', action: 'iam:GetAccountAuthorizationDetails', resource: '*' },
  GetAccountPasswordPolicy: { role: 'trailwatch-member-reader', action: 'iam:GetAccountPasswordPolicy', resource: '*' },
  GetAccessKeyLastUsed: containing('iam:GetAccessKeyLastUsed'),
  GetUser: containing('iam:GetUser'),
  GetRole: containing('iam:GetRole'),
  ListAccessKeys: containing('iam:ListAccessKeys'),
  GetUserPolicy: containing('iam:GetUserPolicy'),
  GetRolePolicy: containing('iam:GetRolePolicy'),
  GetLoginProfile: containing('iam:GetLoginProfile'),
  ListAttachedUserPolicies: containing('iam:ListAttachedUserPolicies'),
  ListAttachedRolePolicies: containing('iam:ListAttachedRolePolicies'),
  UpdateAccessKey: containing('iam:UpdateAccessKey'),
  PutUserPolicy: containing('iam:PutUserPolicy'),
  DeleteUserPolicy: containing('iam:DeleteUserPolicy'),
  PutRolePolicy: containing('iam:PutRolePolicy'),
  DeleteRolePolicy: containing('iam:DeleteRolePolicy'),
  DeleteLoginProfile: containing('iam:DeleteLoginProfile'),
  CreateLoginProfile: containing('iam:CreateLoginProfile'),
  AttachUserPolicy: containing('iam:AttachUserPolicy'),
  DetachUserPolicy: containing('iam:DetachUserPolicy'),
  AttachRolePolicy: containing('iam:AttachRolePolicy'),
  DetachRolePolicy: containing('iam:DetachRolePolicy'),
}

/** The SDK commands and paginators the production code uses, by name. */
function callsInCode(): string[] {
  const names = new Set<string>()
  for (const folder of ['ingest', 'src/aws', 'src/contain']) {
    for (const file of readdirSync(path.join(ROOT, folder)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const text = readFileSync(path.join(ROOT, folder, file), 'utf8')
      for (const [, name = ''] of text.matchAll(/new (\w+)Command\(/g)) names.add(name)
      for (const [, name = ''] of text.matchAll(/paginate(\w+)\(/g)) names.add(name)
    }
  }
  return [...names].sort()
}

describe('the AWS side in deploy/aws', () => {
  it('allows every AWS call the code makes, by the role that makes it, and the KMS key only when there is one', () => {
    const calls = callsInCode()
    expect(calls.length).toBeGreaterThanOrEqual(10)
    for (const name of calls) {
      const call = CALLS[name]
      expect(call, `${name}: which role makes it, and which action it needs`).toBeDefined()
      if (call === undefined || call === 'no permission needed') continue
      expect(evaluate({ action: call.action, resource: call.resource }, { identity: POLICIES[call.role].get(call.role) ?? [] }).decision, name).toBe('allowed')
    }
    const key = { action: 'kms:Decrypt', resource: PARAMETERS.TrailKmsKeyArn }
    expect(evaluate(key, { identity: reader.get('trailwatch') ?? [] }).decision).toBe('allowed')
    expect(evaluate(key, { identity: rolePolicies('trailwatch-reader.yaml', PARAMETERS, { Encrypted: false }).get('trailwatch') ?? [] }).decision).toBe('implicit-deny')
  })

  it('grants no wildcard action and nothing that writes, beyond consuming the trail’s queue', () => {
    const actions = [...reader.values(), ...member.values()].flat().flatMap((policy) => statementsOf(policy.document).flatMap((s) => [s.Action ?? []].flat()))
    expect(actions.length).toBeGreaterThan(0)
    for (const action of actions) {
      expect(action, action).not.toMatch(/\*/)
      expect(action, action).toMatch(/^(s3:(GetObject|ListBucket)|sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility)|kms:Decrypt|organizations:List\w+|sts:AssumeRole|iam:(Get|Generate)\w+)$/)
    }
    // Nothing outside the trail's prefix.
    expect(evaluate({ action: 's3:GetObject', resource: 'arn:aws:s3:::org-trail/other/secret.txt' }, { identity: reader.get('trailwatch') ?? [] }).decision).toBe('implicit-deny')
  })

  it('lets trailwatch become the responder only when it is deployed, and the responder never change trailwatch or the protected', () => {
    const become = { action: 'sts:AssumeRole', resource: 'arn:aws:iam::222233334444:role/trailwatch-responder' }
    expect(evaluate(become, { identity: reader.get('trailwatch') ?? [] }).decision).toBe('allowed')
    expect(evaluate(become, { identity: rolePolicies('trailwatch-reader.yaml', { ...PARAMETERS, ResponderRoleName: '' }, { Encrypted: true, Responds: false }).get('trailwatch') ?? [] }).decision).toBe('implicit-deny')
    const own = responder.get('trailwatch-responder') ?? []
    for (const resource of ['arn:aws:iam::111122223333:role/trailwatch-responder', 'arn:aws:iam::111122223333:role/ops/trailwatch', 'arn:aws:iam::111122223333:user/break-glass-1', 'arn:aws:iam::111122223333:role/break-glass']) {
      expect(evaluate({ action: 'iam:PutRolePolicy', resource }, { identity: own }).decision, resource).toBe('explicit-deny')
      expect(evaluate({ action: 'iam:UpdateAccessKey', resource }, { identity: own }).decision, resource).toBe('explicit-deny')
    }
    // Nothing beyond users and roles: no policy of its own to write, no other service.
    expect(evaluate({ action: 'iam:CreatePolicyVersion', resource: 'arn:aws:iam::111122223333:policy/x' }, { identity: own }).decision).toBe('implicit-deny')
    expect(evaluate({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/anna' }, { identity: own }).decision).toBe('implicit-deny')
    expect(evaluate({ action: 's3:GetObject', resource: 'arn:aws:s3:::org-trail/x' }, { identity: own }).decision).toBe('implicit-deny')
  })
})
