import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runDetector } from '../detectors/engine.js'
import awsKeyQuarantine from '../detectors/aws-key-quarantine/detector.js'
import cloudtrailTampering from '../detectors/cloudtrail-tampering/detector.js'
import guardDutyFindings from '../detectors/guardduty-findings/detector.js'
import { backfill } from '../ingest/backfill.js'
import { listIncidents } from '../src/incidents/incidents.js'
import { testSettings } from './helpers/detect.js'
import { ACCOUNT, apiCall, guardDutyEvent, iamUser, roleSession, type RawEvent } from './helpers/events.js'
import { openTestStore, recordAt, testDataDir, testLogger, type TestStore } from './helpers/store.js'

const anna = iamUser('anna', 'AKIAANNAEXAMPLEKEY01')
const deployer = roleSession('deployer', 'ci-1234')
/** AWS's own hand: the quarantine is attached by AWS, not by anyone in the account. */
const aws = { type: 'AWSService', invokedBy: 'iam.amazonaws.com' }
const viaEventBridge = (record: RawEvent) => ({ version: '0', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account: ACCOUNT, detail: record })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  // One EventBridge feed, as it lands in a file: CloudTrail calls and GuardDuty findings side by side.
  const feed = [
    apiCall('2026-11-20T10:05:00Z', anna, '198.51.100.7', { eventName: 'ListBuckets' }),
    apiCall('2026-11-20T10:20:00Z', aws, 'iam.amazonaws.com', { eventSource: 'iam.amazonaws.com', eventName: 'AttachUserPolicy', requestParameters: { userName: 'anna', policyArn: 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3' } }),
    apiCall('2026-11-20T10:30:00Z', deployer, '203.0.113.50', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name: 'org-trail' }, readOnly: false }),
  ].map(viaEventBridge)
  const findings = [
    guardDutyEvent({ id: 'f-anna', type: 'UnauthorizedAccess:IAMUser/MaliciousIPCaller', severity: 5, updatedAt: '2026-11-20T10:15:00.000Z', key: { accessKeyId: 'AKIAANNAEXAMPLEKEY01', principalId: 'AIDAANNA', userName: 'anna', userType: 'IAMUser' } }),
    guardDutyEvent({ id: 'f-deployer', type: 'Stealth:IAMUser/CloudTrailLoggingDisabled', severity: 2, updatedAt: '2026-11-20T10:35:00.000Z', key: { accessKeyId: 'ASIAEXAMPLESESSION01', principalId: 'AROAEXAMPLE:ci-1234', userName: 'deployer', userType: 'AssumedRole' } }),
  ]
  const file = path.join(testDataDir(), 'eventbridge.jsonl')
  writeFileSync(file, [...feed, ...findings].map((value) => JSON.stringify(value)).join('\n'))
  await backfill(store, [file], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger })
  const window = { from: new Date('2026-11-20T10:00:00Z'), now: new Date('2026-11-20T11:00:00Z') }
  const found = await Promise.all([guardDutyFindings, awsKeyQuarantine, cloudtrailTampering].map((detector) => runDetector(store, detector, window, testSettings())))
  await recordAt(store, found.flat(), window.now)
})
afterAll(async () => {
  await store.close()
})

it('puts a GuardDuty finding into the incident of the identity it names: a user by name, a role session by its key', async () => {
  const incidents = await listIncidents(store, { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z') })
  const byDetectors = incidents.map((incident) => [incident.detectors, incident.severity]).sort()
  expect(byDetectors).toEqual([
    [['aws-key-quarantine', 'guardduty-findings'], 'critical'],
    [['cloudtrail-tampering', 'guardduty-findings'], 'critical'],
  ])
  const annas = incidents.find((incident) => incident.detectors.includes('aws-key-quarantine'))
  expect(annas?.principals).toEqual([`arn:aws:iam::${ACCOUNT}:user/anna`])
  expect(annas?.members.map((m) => m.alert.title)).toContain(`AWS attached AWSCompromisedKeyQuarantineV3 to user anna in account ${ACCOUNT}: its key leaked`)
  const deployers = incidents.find((incident) => incident.detectors.includes('cloudtrail-tampering'))
  expect(deployers?.identities).toContain('key:ASIAEXAMPLESESSION01')
})
