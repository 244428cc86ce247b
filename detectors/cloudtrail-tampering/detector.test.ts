import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { apiCall, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const admin = iamUser('admin')
const call = (minute: number, eventSource: string, eventName: string, requestParameters: unknown, extra: Record<string, unknown> = {}) =>
  apiCall(Date.parse('2026-11-20T11:00:00Z') + minute * 60_000, admin, '73.15.20.1', { eventSource, eventName, requestParameters, readOnly: false, ...extra })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    call(1, 'cloudtrail.amazonaws.com', 'StopLogging', { name: 'org-trail' }, { errorCode: 'AccessDenied', errorMessage: 'denied' }),
    call(2, 'cloudtrail.amazonaws.com', 'UpdateTrail', { name: 'org-trail', s3BucketName: 'attacker-bucket' }),
    call(3, 'guardduty.amazonaws.com', 'DeleteDetector', { detectorId: '12abc34d567e8fa901bc2d34e56789f0' }),
    call(4, 'config.amazonaws.com', 'StopConfigurationRecorder', { configurationRecorderName: 'default' }),
    call(5, 'guardduty.amazonaws.com', 'UpdateDetector', { detectorId: '98abc34d567e8fa901bc2d34e56789f0', enable: false }),
    // Changes that leave logging as it was.
    call(10, 'cloudtrail.amazonaws.com', 'UpdateTrail', { name: 'org-trail', snsTopicName: 'trail-notifications' }),
    call(11, 'cloudtrail.amazonaws.com', 'PutEventSelectors', { trailName: 'org-trail', eventSelectors: [{ readWriteType: 'All', includeManagementEvents: true, dataResources: [] }] }),
    call(12, 'guardduty.amazonaws.com', 'UpdateDetector', { detectorId: '12abc34d567e8fa901bc2d34e56789f0', enable: true }),
    call(13, 'cloudtrail.amazonaws.com', 'StartLogging', { name: 'org-trail' }),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports what blinds the account, a failed attempt a step lower, and not changes that keep logging on', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => [f.evidence.event, f.severity, f.evidence.succeeded])).toEqual([
    ['StopLogging', 'high', false],
    ['UpdateTrail', 'high', true],
    ['DeleteDetector', 'critical', true],
    ['StopConfigurationRecorder', 'high', true],
    ['UpdateDetector', 'critical', true],
  ])
  expect(findings[0]?.title).toBe('arn:aws:iam::111122223333:user/admin tried (AccessDenied) StopLogging on org-trail')
})
