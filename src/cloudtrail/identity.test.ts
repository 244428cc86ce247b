import { describe, expect, it } from 'vitest'
import { datasetRecord } from '../../test/helpers/datasets.js'
import { normaliseIdentity, splitSource } from './identity.js'
import { CloudTrailRecord } from './schema.js'

const identityOf = (record: unknown) => normaliseIdentity(CloudTrailRecord.parse(record))

function synthetic(userIdentity: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    eventVersion: '1.08',
    eventTime: '2026-11-02T09:15:00Z',
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    eventID: 'b4b9f1de-0000-4000-8000-000000000001',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.7',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64',
    recipientAccountId: '111122223333',
    userIdentity,
    ...extra,
  }
}

describe('normaliseIdentity on real records', () => {
  it('IAM user in the console: calls relayed as AWS Internal with a console session key', () => {
    // invictus: GetStorageLensConfiguration by benjamin, ASIA key, MFA, invokedBy AWS Internal.
    const who = identityOf(datasetRecord('293ba626-3be5-4a26-ab1b-0f4c54f49959'))
    expect(who).toMatchObject({
      principalArn: 'arn:aws:iam::123837392027:user/benjamin',
      actorKind: 'human-console',
      accessKeyKind: 'temporary',
      mfaAuthenticated: true,
      sourceIp: null,
      sourceHost: 'AWS Internal',
    })
  })

  it('IAM user with a long-term key from Terraform is a person at a command line', () => {
    const who = identityOf(datasetRecord('f0cce5bc-5f9e-4ee1-bb48-e20fecb32403'))
    expect(who).toMatchObject({ principalArn: 'arn:aws:iam::123837392027:user/bert-jan', actorKind: 'human-cli', accessKeyKind: 'long-term', sourceIp: '192.168.10.20' })
  })

  it('console sign-in with and without MFA', () => {
    expect(identityOf(datasetRecord('8feee4c2-5e27-4857-8475-bfa7e7b6d791'))).toMatchObject({
      principalArn: 'arn:aws:iam::123837392027:user/bert-jan',
      actorKind: 'human-console',
      mfaAuthenticated: true,
      consoleSession: true,
    })
    expect(identityOf(datasetRecord('70e5932e-9022-4b38-837e-ca10dad94eb7'))).toMatchObject({ actorKind: 'human-console', mfaAuthenticated: false })
  })

  it('a console page’s own call, made for the person by the sign-in service, is the console', () => {
    // The console's pages call on the person's behalf: invokedBy names the sign-in service, whatever the user agent says.
    const session = { type: 'AssumedRole', principalId: 'AROAEXAMPLE:dana', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/dana', accountId: '111122223333', accessKeyId: 'ASIAEXAMPLE000000001', invokedBy: 'signin.amazonaws.com' }
    const denied = synthetic(session, { userAgent: 'signin.amazonaws.com', sourceIPAddress: '203.0.113.7', errorCode: 'AccessDenied', eventName: 'GetAccountSummary' })
    expect(identityOf(denied)).toMatchObject({ actorKind: 'human-console', consoleSession: true })
    expect(identityOf(synthetic({ ...session, invokedBy: undefined }))).toMatchObject({ actorKind: 'automation', consoleSession: false })
  })

  it('sign-in step without an ARN gets the user ARN from account and name', () => {
    // CheckMfa during bert-jan's sign-in: userIdentity has userName and accountId only.
    expect(identityOf(datasetRecord('74b4a7d6-764d-4ec8-bbd4-91e7a84e6780'))).toMatchObject({
      principalArn: 'arn:aws:iam::123837392027:user/bert-jan',
      actorKind: 'human-console',
    })
  })

  it('EC2 instance role session is automation, with the instance id as session name', () => {
    expect(identityOf(datasetRecord('2d9189b5-cb66-4363-8ecf-cfe1ecb40796'))).toMatchObject({
      principalArn: 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-enumerate-role',
      principalType: 'AssumedRole',
      sessionName: 'i-05c30218156bcc246',
      actorKind: 'automation',
      sourceIp: '52.45.102.28',
    })
  })

  it('service-linked role and AWSService identities are AWS acting for the account', () => {
    expect(identityOf(datasetRecord('75f05727-9451-4593-9dd2-921cb841f2c3'))).toMatchObject({
      principalArn: 'arn:aws:iam::123837392027:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS',
      sessionName: 'SLRManagement',
      actorKind: 'aws-service',
      sourceHost: 'rds.amazonaws.com',
    })
    expect(identityOf(datasetRecord('aa8d0d50-f346-45dc-b6d7-8d208322ca9e'))).toMatchObject({
      principalArn: 'rds.amazonaws.com',
      principalType: 'AWSService',
      actorKind: 'aws-service',
    })
  })

  it('SSO permission-set session is a person', () => {
    const who = identityOf(datasetRecord('37ba412b-f943-44f2-ae48-4527f6e789d9'))
    expect(who.principalArn).toMatch(/^arn:aws:iam::844015365555:role\/aws-reserved\/sso\.amazonaws\.com\/AWSReservedSSO_/)
    expect(who.actorKind).toBe('human-cli')
    // Anonymised address with leading zeros, read as decimal.
    expect(who.sourceIp).toBe('201.252.42.3')
  })

  it('federated user acts as the IAM user that asked for the token', () => {
    expect(identityOf(datasetRecord('91529247-c4c4-4793-afc8-d70bbcfe9d19'))).toMatchObject({
      principalArn: 'arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user',
      principalType: 'FederatedUser',
      sessionName: 'stratus_red_team',
      accessKeyKind: 'temporary',
    })
  })
})

describe('normaliseIdentity on identities the datasets lack', () => {
  it('root, with and without an ARN', () => {
    expect(identityOf(synthetic({ type: 'Root', principalId: '111122223333', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: 'AKIAEXAMPLEROOT00001' }))).toMatchObject({
      principalArn: 'arn:aws:iam::111122223333:root',
      actorKind: 'human-cli',
      accessKeyKind: 'long-term',
    })
    expect(identityOf(synthetic({ type: 'Root', principalId: '111122223333', accountId: '111122223333' })).principalArn).toBe('arn:aws:iam::111122223333:root')
  })

  it('a caller from another account through a resource policy is that account', () => {
    const who = identityOf(synthetic({ type: 'AWSAccount', principalId: 'AIDAEXAMPLE:x', accountId: '444455556666' }))
    expect(who).toMatchObject({ principalArn: '444455556666', principalAccountId: '444455556666' })
  })

  it('cross-account role session keeps the role ARN and its own account', () => {
    const who = identityOf(
      synthetic({
        type: 'AssumedRole',
        principalId: 'AROAEXAMPLE:deploy',
        arn: 'arn:aws:sts::444455556666:assumed-role/Deployer/deploy',
        accountId: '444455556666',
        accessKeyId: 'ASIAEXAMPLE000000001',
        sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::444455556666:role/ci/Deployer', accountId: '444455556666', userName: 'Deployer' } },
      }),
    )
    expect(who).toMatchObject({ principalArn: 'arn:aws:iam::444455556666:role/ci/Deployer', principalAccountId: '444455556666', sessionName: 'deploy', actorKind: 'automation' })
  })

  it('a failed console sign-in carries no ARN: the user ARN is built from account and name', () => {
    const who = identityOf(
      synthetic(
        { type: 'IAMUser', principalId: 'AIDAEXAMPLEALICE00001', accountId: '111122223333', accessKeyId: '', userName: 'alice' },
        { eventSource: 'signin.amazonaws.com', eventName: 'ConsoleLogin', errorMessage: 'Failed authentication', responseElements: { ConsoleLogin: 'Failure' }, additionalEventData: { MFAUsed: 'No' } },
      ),
    )
    expect(who).toMatchObject({ principalArn: 'arn:aws:iam::111122223333:user/alice', actorKind: 'human-console', mfaAuthenticated: false, accessKeyKind: '' })
  })

  it('a failed console sign-in for a name that does not exist has no principal', () => {
    const who = identityOf(
      synthetic(
        { type: 'IAMUser', principalId: '', accountId: '111122223333', accessKeyId: '', userName: 'HIDDEN_DUE_TO_SECURITY_REASONS' },
        { eventSource: 'signin.amazonaws.com', eventName: 'ConsoleLogin', errorMessage: 'Failed authentication', responseElements: { ConsoleLogin: 'Failure' } },
      ),
    )
    expect(who).toMatchObject({ principalArn: '', actorKind: 'human-console', userName: 'HIDDEN_DUE_TO_SECURITY_REASONS' })
  })

  it('a role used from a GitHub Actions workflow is automation', () => {
    const who = identityOf(
      synthetic({
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/gha-deploy/GitHubActions',
        accountId: '111122223333',
        accessKeyId: 'ASIAEXAMPLE000000002',
        sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/gha-deploy' }, webIdFederationData: { federatedProvider: 'arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com' } },
      }),
    )
    expect(who.actorKind).toBe('automation')
  })

  it('a service acting for a user (CloudFormation) is AWS, the principal stays the user', () => {
    const who = identityOf(
      synthetic(
        { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'ASIAEXAMPLE000000003', invokedBy: 'cloudformation.amazonaws.com' },
        { sourceIPAddress: 'cloudformation.amazonaws.com', userAgent: 'cloudformation.amazonaws.com' },
      ),
    )
    expect(who).toMatchObject({ principalArn: 'arn:aws:iam::111122223333:user/alice', actorKind: 'aws-service', sourceIp: null, sourceHost: 'cloudformation.amazonaws.com' })
  })

  it('an invokedBy beside the person’s own address leaves them a person: their hours, denials and networks count', () => {
    const who = identityOf(
      synthetic({ type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIAEXAMPLE000000004', invokedBy: 'ssm.amazonaws.com' }),
    )
    expect(who).toMatchObject({ actorKind: 'human-cli', sourceIp: '203.0.113.7', invokedBy: 'ssm.amazonaws.com' })
  })
})

describe('splitSource', () => {
  it('keeps addresses and hostnames apart', () => {
    expect(splitSource('2001:db8::1')).toEqual({ sourceIp: '2001:db8::1', sourceHost: '' })
    expect(splitSource('ec2.amazonaws.com')).toEqual({ sourceIp: null, sourceHost: 'ec2.amazonaws.com' })
    expect(splitSource('300.1.2.3')).toEqual({ sourceIp: null, sourceHost: '300.1.2.3' })
  })
})
