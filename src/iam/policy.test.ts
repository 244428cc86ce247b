import { describe, expect, it } from 'vitest'
import { evaluate, type NamedPolicy, type PolicyDocument, type Request } from './policy.js'

const policy = (name: string, ...Statement: PolicyDocument['Statement'][]): NamedPolicy => ({ name, document: { Version: '2012-10-17', Statement: Statement.flat() } })
const decide = (request: Request, identity: NamedPolicy[], boundary?: NamedPolicy[]): string => evaluate(request, { identity, boundary }).decision

describe('evaluate: the decision AWS documents for a principal’s own policies', () => {
  it('denies by default, allows what a statement allows, and lets an explicit deny win', () => {
    const s3 = policy('s3-full', { Effect: 'Allow', Action: 's3:*', Resource: ['arn:aws:s3:::examplebucket', 'arn:aws:s3:::examplebucket/*'] })
    const noDelete = policy('no-delete', { Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' })
    const get = { action: 's3:GetObject', resource: 'arn:aws:s3:::examplebucket/report.csv' }
    expect(decide(get, [])).toBe('implicit-deny')
    expect(decide(get, [s3])).toBe('allowed')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::otherbucket/a' }, [s3])).toBe('implicit-deny')
    expect(decide({ action: 's3:DeleteBucket', resource: 'arn:aws:s3:::examplebucket' }, [s3, noDelete])).toBe('explicit-deny')
    expect(evaluate({ action: 's3:DeleteBucket', resource: 'arn:aws:s3:::examplebucket' }, { identity: [s3, noDelete] }).because).toEqual(['no-delete#0'])
  })

  it('matches actions without regard to case and with wildcards, resources with case', () => {
    const keys = policy('keys', { Sid: 'OwnKeys', Effect: 'Allow', Action: 'iam:*AccessKey*', Resource: 'arn:aws:iam::111122223333:user/Bob' })
    expect(decide({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/Bob' }, [keys])).toBe('allowed')
    expect(decide({ action: 'IAM:listaccesskeys', resource: 'arn:aws:iam::111122223333:user/Bob' }, [keys])).toBe('allowed')
    expect(decide({ action: 'iam:CreateUser', resource: 'arn:aws:iam::111122223333:user/Bob' }, [keys])).toBe('implicit-deny')
    expect(decide({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/bob' }, [keys])).toBe('implicit-deny')
    const one = policy('one-char', { Effect: 'Allow', Action: 's3:GetObjec?', Resource: 'arn:aws:s3:::b/log-?.txt' })
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/log-1.txt' }, [one])).toBe('allowed')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/log-10.txt' }, [one])).toBe('implicit-deny')
  })

  it('reads NotAction and NotResource as everything but what they list', () => {
    // AWS's example: everything outside IAM, and IAM reads only.
    const notIam = policy('not-iam', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }, { Effect: 'Allow', Action: ['iam:Get*', 'iam:List*'], Resource: '*' })
    expect(decide({ action: 'ec2:RunInstances', resource: '*' }, [notIam])).toBe('allowed')
    expect(decide({ action: 'iam:ListUsers', resource: '*' }, [notIam])).toBe('allowed')
    expect(decide({ action: 'iam:CreateUser', resource: 'arn:aws:iam::111122223333:user/x' }, [notIam])).toBe('implicit-deny')
    const notSecret = policy('not-secret', { Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' })
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::public/a' }, [notSecret])).toBe('allowed')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::secret/a' }, [notSecret])).toBe('implicit-deny')
  })

  it('fills policy variables from the request, and a missing one matches nothing', () => {
    // AWS's example: users manage their own credentials only.
    const own = policy('own-credentials', { Effect: 'Allow', Action: ['iam:CreateAccessKey', 'iam:DeleteAccessKey'], Resource: 'arn:aws:iam::*:user/${aws:username}' })
    expect(decide({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/alice', context: { 'aws:username': 'alice' } }, [own])).toBe('allowed')
    expect(decide({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/bob', context: { 'aws:username': 'alice' } }, [own])).toBe('implicit-deny')
    expect(decide({ action: 'iam:CreateAccessKey', resource: 'arn:aws:iam::111122223333:user/alice' }, [own])).toBe('implicit-deny')
  })

  it('allows only what both the identity policy and the permission boundary allow', () => {
    // AWS's example: a boundary of S3, CloudWatch and EC2; a policy that also grants iam:CreateUser.
    const boundary = policy('boundary', { Effect: 'Allow', Action: ['s3:*', 'cloudwatch:*', 'ec2:*'], Resource: '*' })
    const identity = policy('identity', { Effect: 'Allow', Action: ['iam:CreateUser', 's3:GetObject'], Resource: '*' })
    expect(decide({ action: 'iam:CreateUser', resource: 'arn:aws:iam::111122223333:user/x' }, [identity], [boundary])).toBe('implicit-deny')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }, [identity], [boundary])).toBe('allowed')
    // The boundary grants nothing by itself.
    expect(decide({ action: 'ec2:RunInstances', resource: '*' }, [identity], [boundary])).toBe('implicit-deny')
    const denyingBoundary = policy('denying-boundary', { Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 's3:GetObject', Resource: '*' })
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }, [identity], [denyingBoundary])).toBe('explicit-deny')
  })
})

describe('evaluate: the condition keys that matter here', () => {
  const everything = policy('admin', { Effect: 'Allow', Action: '*', Resource: '*' })

  it('aws:MultiFactorAuthPresent: AWS’s deny-without-MFA example denies a request with no MFA key at all', () => {
    const requireMfa = policy('require-mfa', {
      Sid: 'DenyAllExceptListedIfNoMFA',
      Effect: 'Deny',
      NotAction: ['iam:CreateVirtualMFADevice', 'iam:EnableMFADevice', 'iam:GetUser', 'iam:ListMFADevices', 'sts:GetSessionToken'],
      Resource: '*',
      Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
    })
    const read = (context?: Request['context']): string => decide({ action: 'ec2:DescribeInstances', resource: '*', context }, [everything, requireMfa])
    expect(read({ 'aws:MultiFactorAuthPresent': true })).toBe('allowed')
    expect(read({ 'aws:MultiFactorAuthPresent': false })).toBe('explicit-deny')
    // A long-term key's request carries no MFA key: …IfExists makes the deny apply.
    expect(read()).toBe('explicit-deny')
    expect(decide({ action: 'sts:GetSessionToken', resource: '*' }, [everything, requireMfa])).toBe('allowed')
    // Without IfExists the same deny would let the keyless request through.
    const plain = policy('plain-bool', { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'false' } } })
    expect(decide({ action: 'ec2:DescribeInstances', resource: '*' }, [everything, plain])).toBe('allowed')
  })

  it('aws:SourceIp: AWS’s deny-outside-these-networks example, several blocks being alternatives', () => {
    const offices = policy('offices', { Effect: 'Deny', Action: '*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '203.0.113.0/24'] }, Bool: { 'aws:ViaAWSService': 'false' } } })
    const from = (address: string, via = false): string => decide({ action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 'aws:SourceIp': address, 'aws:ViaAWSService': via } }, [everything, offices])
    expect(from('192.0.2.10')).toBe('allowed')
    expect(from('203.0.113.200')).toBe('allowed')
    expect(from('198.51.100.7')).toBe('explicit-deny')
    // A service acting for the principal has no address of theirs.
    expect(from('198.51.100.7', true)).toBe('allowed')
    const allowFrom = policy('allow-from', { Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } } })
    expect(decide({ action: 's3:ListBucket', resource: '*', context: { 'aws:SourceIp': '2001:db8::1' } }, [allowFrom])).toBe('allowed')
    expect(decide({ action: 's3:ListBucket', resource: '*', context: { 'aws:SourceIp': '2001:db9::1' } }, [allowFrom])).toBe('implicit-deny')
  })

  it('aws:PrincipalOrgID and aws:RequestedRegion: AWS’s region guard with its global-service exceptions', () => {
    const org = policy('org', { Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } })
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }, [org])).toBe('allowed')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: { 'aws:PrincipalOrgID': 'o-other' } }, [org])).toBe('implicit-deny')
    expect(decide({ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }, [org])).toBe('implicit-deny')
    const regions = policy('regions', {
      Effect: 'Deny',
      NotAction: ['iam:*', 'organizations:*', 'route53:*', 'cloudfront:*', 'support:*', 'sts:*'],
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:RequestedRegion': ['eu-central-1', 'eu-west-1'] } },
    })
    const run = (region: string, action = 'ec2:RunInstances'): string => decide({ action, resource: '*', context: { 'aws:RequestedRegion': region } }, [everything, regions])
    expect(run('eu-west-1')).toBe('allowed')
    expect(run('us-east-1')).toBe('explicit-deny')
    expect(run('us-east-1', 'iam:CreateRole')).toBe('allowed')
  })

  it('multivalued keys: ForAnyValue needs one match, ForAllValues every value (and holds for none), Null tests presence', () => {
    const any = policy('any', { Effect: 'Allow', Action: '*', Resource: '*', Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': ['team-*'] } } })
    const all = policy('all', { Effect: 'Allow', Action: '*', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } } })
    const tags = (keys?: string[]): Request => ({ action: 'ec2:CreateTags', resource: '*', context: { 'aws:TagKeys': keys } })
    expect(decide(tags(['team-a', 'x']), [any])).toBe('allowed')
    expect(decide(tags(['x']), [any])).toBe('implicit-deny')
    expect(decide(tags(), [any])).toBe('implicit-deny')
    expect(decide(tags(['team', 'env']), [all])).toBe('allowed')
    expect(decide(tags(['team', 'owner']), [all])).toBe('implicit-deny')
    expect(decide(tags(), [all])).toBe('allowed')
    const untagged = policy('untagged', { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Null: { 'aws:TagKeys': 'true' } } })
    expect(decide(tags(), [everything, untagged])).toBe('explicit-deny')
    expect(decide(tags(['team']), [everything, untagged])).toBe('allowed')
  })

  it('refuses an operator it does not know rather than guessing', () => {
    const odd = policy('odd', { Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringSoundsLike: { 'aws:username': 'bob' } } })
    expect(() => decide({ action: 's3:GetObject', resource: '*', context: { 'aws:username': 'bob' } }, [odd])).toThrow('condition operator StringSoundsLike is not supported')
  })
})
