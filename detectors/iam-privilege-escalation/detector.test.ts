import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, roleSession } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const iam = (minute: number, eventName: string, requestParameters: unknown, who = iamUser('mallory')) =>
  apiCall(Date.parse('2026-11-20T11:00:00Z') + minute * 60_000, who, '73.15.20.1', { eventSource: 'iam.amazonaws.com', eventName, requestParameters, readOnly: false })
const policy = (action: unknown, resource: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] }, null, 2)
const trust = (principal: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }] })
const quarantine = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] })
const trustAnyone = (condition?: object) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }] })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    iam(1, 'AttachRolePolicy', { roleName: 'ci', policyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }),
    iam(2, 'PutUserPolicy', { userName: 'bob', policyName: 'everything', policyDocument: policy('*', '*') }),
    iam(3, 'UpdateAssumeRolePolicy', { roleName: 'deploy', policyDocument: trust('arn:aws:iam::193672423079:root') }),
    iam(4, 'CreateUser', { userName: 'svc-new' }),
    iam(5, 'CreateLoginProfile', { userName: 'svc-new' }),
    // A bare account id trusts that account's every principal.
    iam(6, 'CreateRole', { roleName: 'vendor-read', assumeRolePolicyDocument: trust('777788889999') }),
    // A helpdesk reset the user must change at once, and a password set for someone else that stays.
    iam(16, 'UpdateLoginProfile', { userName: 'dora', passwordResetRequired: true }),
    iam(17, 'UpdateLoginProfile', { userName: 'eric', passwordResetRequired: false }),
    // A new hire: the user, then a first password to change at sign-in.
    iam(18, 'CreateUser', { userName: 'frank' }),
    iam(19, 'CreateLoginProfile', { userName: 'frank', passwordResetRequired: true }),
    // Gina, signed in through Identity Center, changes her own user's password; a session merely named hank changes hank's.
    iam(20, 'UpdateLoginProfile', { userName: 'gina', passwordResetRequired: false }, roleSession('AWSReservedSSO_PowerUser_0123456789abcdef', 'gina@example.com')),
    iam(21, 'UpdateLoginProfile', { userName: 'hank', passwordResetRequired: false }, roleSession('ops', 'hank')),
    // Ines makes keys for other users most weeks: another is her job, where eric's new password was not mallory's.
    ...[3, 9, 16].map((daysBefore, i) =>
      apiCall(Date.parse('2026-11-20T10:00:00Z') - daysBefore * 86_400_000, iamUser('ines'), '73.15.20.1', { eventSource: 'iam.amazonaws.com', eventName: 'CreateAccessKey', readOnly: false, requestParameters: { userName: `svc-${String(i)}` } }),
    ),
    iam(22, 'CreateAccessKey', { userName: 'jo' }, iamUser('ines')),
    // A role anyone may assume, and one narrowed to the organisation by a condition.
    iam(7, 'UpdateAssumeRolePolicy', { roleName: 'open-door', policyDocument: trustAnyone() }),
    iam(8, 'CreateRole', { roleName: 'org-reader', assumeRolePolicyDocument: trustAnyone({ StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } }) }),
    // Ordinary administration, and a quarantine: denying "*" on "*" takes power away.
    iam(9, 'PutUserPolicy', { userName: 'leaked-user', policyName: 'quarantine', policyDocument: quarantine }),
    iam(10, 'AttachUserPolicy', { userName: 'carol', policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }),
    iam(11, 'PutRolePolicy', { roleName: 'app', policyName: 'read', policyDocument: policy(['s3:GetObject'], 'arn:aws:s3:::reports/*') }),
    iam(12, 'CreateAccessKey', { userName: 'mallory' }),
    iam(13, 'CreateAccessKey', {}),
    iam(14, 'UpdateAssumeRolePolicy', { roleName: 'deploy', policyDocument: trust(`arn:aws:iam::${ACCOUNT}:role/ci`) }),
    // The partner's role has trusted the partner for weeks; rewriting its policy is not new trust.
    apiCall(Date.parse('2026-11-10T09:00:00Z'), iamUser('mallory'), '73.15.20.1', { eventSource: 'iam.amazonaws.com', eventName: 'CreateRole', readOnly: false, requestParameters: { roleName: 'partner-access', assumeRolePolicyDocument: trust('arn:aws:iam::444455556666:root') } }),
    iam(15, 'UpdateAssumeRolePolicy', { roleName: 'partner-access', policyDocument: trust('arn:aws:iam::444455556666:role/sync') }),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports power given, and leaves ordinary administration alone', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => [f.evidence.event, f.evidence.target, f.severity])).toEqual([
    ['AttachRolePolicy', 'ci', 'high'],
    ['PutUserPolicy', 'bob', 'high'],
    ['UpdateAssumeRolePolicy', 'deploy', 'high'],
    ['CreateLoginProfile', 'svc-new', 'high'],
    ['CreateRole', 'vendor-read', 'high'],
    ['UpdateAssumeRolePolicy', 'open-door', 'critical'],
    ['CreateRole', 'org-reader', 'medium'],
    ['UpdateLoginProfile', 'dora', 'low'],
    ['UpdateLoginProfile', 'eric', 'medium'],
    ['CreateLoginProfile', 'frank', 'low'],
    ['UpdateLoginProfile', 'hank', 'medium'],
    ['CreateAccessKey', 'jo', 'low'],
  ])
  expect(findings.find((f) => f.evidence.target === 'jo')?.why).toContain('The same person made credentials for other users on 3 days of the 30 before: it is their usual work.')
  // Mallory's password for svc-new and dora's reset, earlier the same day, are one day.
  expect(findings.find((f) => f.evidence.target === 'eric')?.evidence.credential_days_before).toBe(1)
  expect(findings.find((f) => f.evidence.target === 'frank')?.title).toBe('arn:aws:iam::111122223333:user/mallory created a console password for user frank, to be changed at the next sign-in, a user created in the same window')
  expect(findings.map((f) => f.title)).toContain('arn:aws:iam::111122223333:user/mallory made role deploy trust account 193672423079')
  expect(findings.map((f) => f.title)).toContain('arn:aws:iam::111122223333:user/mallory made role open-door trust anyone ("Principal": "*")')
})
