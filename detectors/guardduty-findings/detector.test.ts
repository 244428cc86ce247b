import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { backfill } from '../../ingest/backfill.js'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, guardDutyEvent } from '../../test/helpers/events.js'
import { openTestStore, testDataDir, testLogger, type TestStore } from '../../test/helpers/store.js'
import detector, { guardDutySeverity } from './detector.js'

const anna = { accessKeyId: 'AKIAANNAEXAMPLEKEY01', principalId: 'AIDAANNAEXAMPLE00001', userName: 'anna', userType: 'IAMUser' }
const deployer = { accessKeyId: 'ASIADEPLOYSESSION001', principalId: 'AROADEPLOYEXAMPLE001:ci-1234', userName: 'deployer', userType: 'AssumedRole' }

let store: TestStore
let stored: number
beforeAll(async () => {
  store = await openTestStore()
  // As EventBridge events land in a file (Firehose to S3): one per line, beside a value that is not a finding.
  const file = path.join(testDataDir(), 'guardduty.jsonl')
  const lines = [
    guardDutyEvent({ id: 'f-anna', type: 'UnauthorizedAccess:IAMUser/MaliciousIPCaller', severity: 5, updatedAt: '2026-11-20T10:10:00.000Z', key: anna }),
    // GuardDuty updates the finding as the activity goes on: a second delivery, higher, and a repeat of it.
    guardDutyEvent({ id: 'f-anna', type: 'UnauthorizedAccess:IAMUser/MaliciousIPCaller', severity: 8, firstSeen: '2026-11-20T10:10:00.000Z', updatedAt: '2026-11-20T10:40:00.000Z', key: anna, count: 4 }),
    guardDutyEvent({ id: 'f-anna', type: 'UnauthorizedAccess:IAMUser/MaliciousIPCaller', severity: 8, firstSeen: '2026-11-20T10:10:00.000Z', updatedAt: '2026-11-20T10:40:00.000Z', key: anna, count: 4 }),
    guardDutyEvent({ id: 'f-ci', type: 'Discovery:IAMUser/AnomalousBehavior', severity: 2, updatedAt: '2026-11-20T10:20:00.000Z', key: deployer, api: 'ListRoles' }),
    guardDutyEvent({ id: 'f-archived', type: 'Recon:IAMUser/MaliciousIPCaller', severity: 9, updatedAt: '2026-11-20T10:30:00.000Z', key: anna, archived: true }),
    guardDutyEvent({ id: 'f-instance', type: 'CryptoCurrency:EC2/BitcoinTool.B!DNS', severity: 9.5, updatedAt: '2026-11-20T10:50:00.000Z' }),
    { 'detail-type': 'GuardDuty Finding', detail: { id: 'broken', accountId: 'not-an-account' } },
  ]
  writeFileSync(file, lines.map((line) => JSON.stringify(line)).join('\n'))
  const summary = await backfill(store, [file], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger })
  stored = summary.stored
})
afterAll(async () => {
  await store.close()
})

it('stores each update of a finding once and rejects what is not a finding, with its reason', async () => {
  expect(stored).toBe(5)
  const [rejected] = await store.client.query({ query: 'SELECT reason FROM rejected_input', format: 'JSONEachRow' }).then((r) => r.json<{ reason: string }>())
  expect(rejected?.reason).toMatch(/^not a GuardDuty finding: detail\.accountId: not an account id/)
})

it('raises each finding on the identity it names, at GuardDuty’s severity, its latest update only', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T11:00:00Z')
  expect(findings.map((f) => [f.principal, f.severity, f.evidence.finding_id, f.evidence.count])).toEqual([
    [`arn:aws:iam::${ACCOUNT}:user/anna`, 'high', 'f-anna', 4],
    [`arn:aws:iam::${ACCOUNT}:role/deployer`, 'low', 'f-ci', 1],
    [ACCOUNT, 'critical', 'f-instance', 1],
  ])
  const annas = findings[0]
  expect(annas?.title).toBe(`GuardDuty: UnauthorizedAccess:IAMUser/MaliciousIPCaller seen (arn:aws:iam::${ACCOUNT}:user/anna, key AKIAANNAEXAMPLEKEY01)`)
  expect(annas?.firstSeen).toBe('2026-11-20T10:10:00.000Z')
  expect(annas?.evidence).toMatchObject({ access_key_id: anna.accessKeyId, remote_ip: '198.51.100.7', event: 'ListBuckets' })
})

it('leaves out findings below the configured score, and archived ones', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T11:00:00Z', { minSeverity: 4 })
  expect(findings.map((f) => f.evidence.finding_id)).toEqual(['f-anna', 'f-instance'])
})

it('maps GuardDuty’s scores to its own bands', () => {
  expect([1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(guardDutySeverity)).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high', 'critical', 'critical'])
})
