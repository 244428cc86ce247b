import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { apiCall, iamUser, ingestRecords, roleSession } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const denied = (at: number, who: Record<string, unknown>, eventSource: string, eventName: string) => apiCall(at, who, '73.15.20.1', { eventSource, eventName, errorCode: 'AccessDenied', errorMessage: 'not authorized' })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  const hours = Array.from({ length: 6 * 24 }, (_, i) => NOW - (i + 2) * 3_600_000)
  await ingestRecords(store, [
    // A stolen session enumerating: 40 denials across four services in an hour, never any before.
    ...Array.from({ length: 40 }, (_, i) => denied(NOW - 50 * 60_000 + i * 60_000, roleSession('app-runtime', 'i-0abc1234def567890'), ['iam.amazonaws.com', 's3.amazonaws.com', 'secretsmanager.amazonaws.com', 'ec2.amazonaws.com'][i % 4] ?? '', 'ListUsers')),
    // A misconfigured job that is always denied about 30 times an hour: its normal.
    ...hours.flatMap((hour) => Array.from({ length: 30 }, (_, i) => denied(hour + i * 60_000, iamUser('report-job'), 's3.amazonaws.com', 'GetObject'))),
    ...Array.from({ length: 30 }, (_, i) => denied(NOW - 55 * 60_000 + i * 60_000, iamUser('report-job'), 's3.amazonaws.com', 'GetObject')),
    // A CI role whose daily deploy draws a dozen denials in minutes, idle the rest of the day: today's deploy is its usual.
    ...Array.from({ length: 20 }, (_, day) => Array.from({ length: 12 }, (_, i) => denied(NOW - (day + 1) * 86_400_000 - 30 * 60_000 + i * 10_000, roleSession('ci-deploy', 'build'), 'iam.amazonaws.com', 'GetRole'))).flat(),
    ...Array.from({ length: 13 }, (_, i) => denied(NOW - 30 * 60_000 + i * 10_000, roleSession('ci-deploy', 'build'), 'iam.amazonaws.com', 'GetRole')),
    // A weekly security scan, denied across services each Friday; last week's run was just over seven days ago.
    ...[7, 14, 21, 28].flatMap((days) => Array.from({ length: 50 }, (_, i) => denied(NOW - days * 86_400_000 - 100 * 60_000 + i * 20_000, iamUser('scanner'), ['iam.amazonaws.com', 's3.amazonaws.com', 'kms.amazonaws.com'][i % 3] ?? '', 'ListPolicies'))),
    ...Array.from({ length: 50 }, (_, i) => denied(NOW - 40 * 60_000 + i * 20_000, iamUser('scanner'), ['iam.amazonaws.com', 's3.amazonaws.com', 'kms.amazonaws.com'][i % 3] ?? '', 'ListPolicies')),
    // The log delivery service draws thousands; it never counts.
    ...Array.from({ length: 200 }, (_, i) => denied(NOW - 59 * 60_000 + i * 1000, { type: 'AWSService', invokedBy: 'delivery.logs.amazonaws.com' }, 's3.amazonaws.com', 'PutObject')),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports a burst far above the principal’s own busiest hours, across services, and not its deploys or its weekly scan', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => [f.principal, f.severity, f.evidence.denied, f.evidence.busiest_earlier_hour])).toEqual([['arn:aws:iam::111122223333:role/app-runtime', 'high', 40, 0]])
  expect(findings[0]?.title).toBe('arn:aws:iam::111122223333:role/app-runtime drew 40 denied calls (ListUsers); it drew none in the 35 days before')
})
