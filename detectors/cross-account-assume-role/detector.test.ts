import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, daily, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const assume = (at: number | string, callerAccount: string, role: string) =>
  apiCall(at, { type: 'AWSAccount', principalId: `AROAEXAMPLE:${callerAccount}`, accountId: callerAccount }, '35.180.1.1', {
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRole',
    requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`, roleSessionName: 'session' },
  })
const NOW = Date.parse('2026-11-20T12:00:00Z')

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // The partner has assumed its role every day for weeks.
    ...daily(20, NOW, 9, (t) => assume(t, '444455556666', 'partner-sync')),
    assume('2026-11-20T11:30:00Z', '444455556666', 'partner-sync'),
    // A vendor in the configured list, for the first time.
    assume('2026-11-20T11:35:00Z', '777788889999', 'vendor-audit'),
    // Nobody has seen this account before.
    assume('2026-11-20T11:40:00Z', '193672423079', 'stratus-red-team-backdoor-r-role'),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports an account assuming a role here for the first time, and not the partner or a known vendor', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z', { knownAccounts: ['777788889999'] })
  expect(findings.map((f) => [f.principal, f.severity, f.evidence.roles])).toEqual([['193672423079', 'high', [`arn:aws:iam::${ACCOUNT}:role/stratus-red-team-backdoor-r-role`]]])
})

it('reports the vendor too when nobody listed it', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => f.principal).sort()).toEqual(['193672423079', '777788889999'])
})
