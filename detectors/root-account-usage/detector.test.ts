import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const root = { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: '' }
const signIn = (at: string, result: 'Success' | 'Failure', mfa = 'Yes', from = '73.15.20.1') =>
  apiCall(at, root, from, {
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    eventType: 'AwsConsoleSignIn',
    responseElements: { ConsoleLogin: result },
    additionalEventData: { MFAUsed: mfa },
    ...(result === 'Failure' ? { errorMessage: 'Failed authentication' } : {}),
  })
/** A step of the newer sign-in flow: its result is in serviceEventDetails, with no error fields. */
const signInStep = (at: string, eventName: string, result: 'Success' | 'Failure') =>
  apiCall(at, root, '73.15.20.1', {
    eventSource: 'signin.amazonaws.com',
    eventName,
    eventType: 'AwsServiceEvent',
    serviceEventDetails: { [eventName]: result },
    additionalEventData: { CredentialType: 'PASSWORD' },
  })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    signIn('2026-11-20T10:02:00Z', 'Success', 'Yes', '73.15.20.9'),
    signIn('2026-11-20T10:05:00Z', 'Success', 'No'),
    apiCall('2026-11-20T10:06:00Z', { ...root, accessKeyId: 'ASIAROOTSESSION00001' }, '73.15.20.1', { eventSource: 'iam.amazonaws.com', eventName: 'CreateAccessKey', requestParameters: {}, responseElements: { accessKey: { accessKeyId: 'AKIAROOTKEYEXAMPLE01' } } }),
    apiCall('2026-11-20T10:07:00Z', { ...root, accessKeyId: 'ASIAROOTSESSION00001' }, '73.15.20.1', { eventName: 'ListBuckets' }),
    // The newer sign-in steps: a password checked and a challenge passed on the way in are the sign-in's.
    signInStep('2026-11-20T10:04:00Z', 'CredentialVerification', 'Success'),
    // An hour later: one failed root sign-in (a password refused at its verification step), then four.
    signInStep('2026-11-20T11:10:00Z', 'CredentialVerification', 'Failure'),
    ...['13:01', '13:02', '13:03', '13:04'].map((t) => signIn(`2026-11-20T${t}:00Z`, 'Failure')),
    // That afternoon: root refused an API call, and a second sign-in without MFA from elsewhere.
    apiCall('2026-11-20T16:10:00Z', { ...root, accessKeyId: 'ASIAROOTSESSION00002' }, '73.15.20.1', { eventSource: 'organizations.amazonaws.com', eventName: 'LeaveOrganization', errorCode: 'AccessDenied' }),
    signIn('2026-11-20T16:30:00Z', 'Success', 'No', '5.255.255.77'),
    // An administrator creating a key for a user is not root.
    apiCall('2026-11-20T14:30:00Z', iamUser('admin'), '73.15.20.2', { eventSource: 'iam.amazonaws.com', eventName: 'CreateAccessKey', requestParameters: { userName: 'bob' } }),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports root sign-in (critical without MFA), API calls and a root access key (critical)', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T11:00:00Z')
  expect(findings.map((f) => [f.evidence.kind, f.evidence.mfa, f.severity])).toEqual([
    ['sign-in', true, 'high'],
    ['sign-in', false, 'critical'],
    ['access-key', false, 'critical'],
    ['api', false, 'high'],
  ])
  expect(findings[1]?.title).toBe(`Account ${ACCOUNT}: someone signed in to the console as root, without MFA`)
  expect(findings.every((f) => f.principal === `arn:aws:iam::${ACCOUNT}:root`)).toBe(true)
})

it('reports one failed root sign-in low, and repeated ones medium', async () => {
  expect((await detectAt(store, detector, '2026-11-20T12:00:00Z')).map((f) => f.severity)).toEqual(['low'])
  expect((await detectAt(store, detector, '2026-11-20T14:00:00Z')).map((f) => [f.severity, f.evidence.calls])).toEqual([['medium', 4]])
})

it('stays quiet when no one used root', async () => {
  expect(await detectAt(store, detector, '2026-11-20T15:00:00Z')).toEqual([])
})

it('tells a refused root call from a successful one, and a second sign-in from elsewhere from the morning’s', async () => {
  const afternoon = await detectAt(store, detector, '2026-11-20T17:00:00Z')
  expect(afternoon.map((f) => [f.evidence.kind, f.severity])).toEqual([
    ['failed-api', 'medium'],
    ['sign-in', 'critical'],
  ])
  expect(afternoon[0]?.title).toBe(`Account ${ACCOUNT}: someone tried API calls as root and was refused`)
  const morning = await detectAt(store, detector, '2026-11-20T11:00:00Z')
  expect(morning.map((f) => f.alertId)).not.toContain(afternoon[1]?.alertId)
})
