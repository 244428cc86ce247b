import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertCredentialReport, parseCredentialReport } from '../../src/credentials/credential-report.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { testSettings } from '../../test/helpers/detect.js'
import { runDetector } from '../engine.js'
import detector from './detector.js'

const NOW = Date.parse('2026-11-27T06:00:00Z')
const OTHER_ACCOUNT = '444455556666'
const HEADER = 'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated'
const user = (name: string, key1: string, key2 = 'false,N/A,N/A,N/A,N/A') => `${name},arn:aws:iam::${ACCOUNT}:${name === '<root_account>' ? 'root' : `user/${name}`},2020-01-01T00:00:00+00:00,true,N/A,N/A,N/A,true,${key1},${key2},false,N/A,false,N/A`
const REPORT = [
  HEADER,
  user('<root_account>', 'true,2024-03-01T00:00:00+00:00,2026-11-20T00:00:00+00:00,us-east-1,iam'),
  user('alice', 'true,2025-01-15T10:00:00+00:00,2026-11-20T00:00:00+00:00,us-east-1,s3'),
  user('ci-deploy', 'true,2026-10-20T00:00:00+00:00,2026-11-27T05:40:00+00:00,eu-west-1,cloudformation'),
  user('bob', 'false,2019-01-01T00:00:00+00:00,2019-06-01T00:00:00+00:00,us-east-1,s3'),
  user('carol', 'true,2026-09-01T00:00:00+00:00,2026-09-20T00:00:00+00:00,us-east-1,s3'),
  user('dan', 'true,2026-11-24T00:00:00+00:00,N/A,N/A,N/A', 'true,2026-11-01T00:00:00+00:00,N/A,N/A,N/A'),
].join('\n')

const lifecycle = (at: string, account: string, name: string, keyId: string, action: 'CreateAccessKey' | 'DeleteAccessKey'): RawEvent =>
  apiCall(at, { ...iamUser('admin'), accountId: account }, '73.15.20.9', {
    recipientAccountId: account,
    eventSource: 'iam.amazonaws.com',
    eventName: action,
    requestParameters: action === 'CreateAccessKey' ? { userName: name } : { userName: name, accessKeyId: keyId },
    responseElements: action === 'CreateAccessKey' ? { accessKey: { accessKeyId: keyId, userName: name, status: 'Active', createDate: at } } : null,
  })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await insertCredentialReport(store, parseCredentialReport(REPORT), Date.parse('2026-11-27T05:00:00Z'), NOW)
  const ciKey = 'AKIACIDEPLOYEXAMPLE1'
  await ingestRecords(store, [
    // alice's key as CloudTrail saw it created, and used yesterday.
    lifecycle('2025-01-15T10:00:30Z', ACCOUNT, 'alice', 'AKIAALICEEXAMPLE0001', 'CreateAccessKey'),
    apiCall('2026-11-26T09:00:00Z', iamUser('alice', 'AKIAALICEEXAMPLE0001'), '73.15.20.1'),
    // A CI key used every 20 minutes all week: fine.
    lifecycle('2026-10-20T00:00:10Z', ACCOUNT, 'ci-deploy', ciKey, 'CreateAccessKey'),
    ...Array.from({ length: 7 * 72 }, (_, i) => apiCall(NOW - (i + 1) * 20 * 60_000, iamUser('ci-deploy', ciKey), '3.90.1.1')),
    // An account with no credential report: CloudTrail alone knows erin's key; fay's was deleted.
    lifecycle('2026-06-01T00:00:00Z', OTHER_ACCOUNT, 'erin', 'AKIAERINEXAMPLE00001', 'CreateAccessKey'),
    apiCall('2026-11-26T12:00:00Z', { ...iamUser('erin', 'AKIAERINEXAMPLE00001'), accountId: OTHER_ACCOUNT, arn: `arn:aws:iam::${OTHER_ACCOUNT}:user/erin` }, '81.2.69.142', { recipientAccountId: OTHER_ACCOUNT }),
    lifecycle('2026-01-01T00:00:00Z', OTHER_ACCOUNT, 'fay', 'AKIAFAYEXAMPLE000001', 'CreateAccessKey'),
    lifecycle('2026-02-01T00:00:00Z', OTHER_ACCOUNT, 'fay', 'AKIAFAYEXAMPLE000001', 'DeleteAccessKey'),
  ])
})
afterAll(async () => {
  await store.close()
})

describe('stale-access-key', () => {
  it('reports one finding per stale key, from the credential report and from CloudTrail', async () => {
    const findings = await runDetector(store, detector, { now: new Date(NOW), from: new Date(NOW - 86_400_000) }, testSettings())
    const summary = findings.map((f) => [f.account, f.evidence.user, f.evidence.access_key_id, f.severity])
    expect(summary).toEqual([
      [ACCOUNT, '<root_account>', null, 'critical'],
      [ACCOUNT, 'alice', 'AKIAALICEEXAMPLE0001', 'medium'],
      [ACCOUNT, 'carol', null, 'medium'],
      [ACCOUNT, 'dan', null, 'low'],
      [OTHER_ACCOUNT, 'erin', 'AKIAERINEXAMPLE00001', 'medium'],
    ])
    const alice = findings.find((f) => f.evidence.user === 'alice')
    expect(alice?.title).toBe('Access key AKIAALICEEXAMPLE0001 of alice: 680 days old (rotation limit 90)')
    expect(alice?.evidence).toMatchObject({ age_days: 680, last_used: '2026-11-26T09:00:00.000Z', days_unused: 0, last_address: '73.15.20.1', known_from: 'credential report' })
    expect(findings.find((f) => f.evidence.user === 'carol')?.title).toBe('Access key in slot 1 of carol: unused for 68 days (limit 45)')
    // dan's first key is three days old and unused: within grace; his second, 26 days and never used.
    expect(findings.filter((f) => f.evidence.user === 'dan').map((f) => f.evidence.slot)).toEqual([2])
    expect(findings.find((f) => f.evidence.user === 'erin')?.evidence).toMatchObject({ age_days: 179, known_from: 'CloudTrail', last_address: '81.2.69.142' })
    // Each is told what its kind of key needs: a user's key is never told to delete root's.
    const runbook = (user: string) => findings.find((f) => f.evidence.user === user)?.runbook.join(' ') ?? ''
    expect(runbook('alice')).toContain('Ask the owner')
    expect(runbook('alice')).not.toContain('root')
    expect(runbook('<root_account>')).toMatch(/^Delete the root access key now/)
    expect(runbook('<root_account>')).not.toContain('Ask the owner')
  })
})
