import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { storeSnapshot } from '../../src/iam/snapshots.js'
import detector from './detector.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const OTHER = '444455556666'
const HOUR = 3_600_000

/** A call every 20 minutes from `from` until `until`, as a busy account sends. */
function steady(account: string, region: string, from: number, until: number): RawEvent[] {
  const records: RawEvent[] = []
  for (let at = from; at < until; at += 20 * 60_000) {
    records.push(apiCall(at, { ...iamUser('ci'), accountId: account }, '3.90.1.1', { recipientAccountId: account, awsRegion: region }))
  }
  return records
}

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // us-east-1 of the main account stops three hours before now; eu-west-1 keeps going.
    ...steady(ACCOUNT, 'us-east-1', NOW - 8 * 24 * HOUR, NOW - 3 * HOUR),
    ...steady(ACCOUNT, 'eu-west-1', NOW - 8 * 24 * HOUR, NOW - 5 * 60_000),
    // Another account stopped only 90 minutes ago: within the limit.
    ...steady(OTHER, 'us-east-1', NOW - 8 * 24 * HOUR, NOW - 90 * 60_000),
    // A region used one afternoon a week is quiet by nature.
    ...steady(OTHER, 'ap-south-1', NOW - 2 * 24 * HOUR, NOW - 2 * 24 * HOUR + 4 * HOUR),
  ])
  // IAM state: the main account's sync stopped five days ago; the other's ran this morning.
  const empty = JSON.stringify({ UserDetailList: [], GroupDetailList: [], RoleDetailList: [], Policies: [] })
  for (const days of [7, 6, 5]) await storeSnapshot(store, ACCOUNT, NOW - days * 24 * HOUR, empty, NOW)
  await storeSnapshot(store, OTHER, NOW - 10 * 24 * HOUR, empty, NOW)
  await storeSnapshot(store, OTHER, NOW - 6 * HOUR, empty, NOW)
})
afterAll(async () => {
  await store.close()
})

it('reports a usually busy account and region that went quiet, and nothing that is quiet by nature', async () => {
  const findings = (await detectAt(store, detector, new Date(NOW).toISOString())).filter((f) => f.evidence.region)
  expect(findings.map((f) => [f.account, f.evidence.region, f.evidence.quiet_for])).toEqual([[ACCOUNT, 'us-east-1', '3 h 20 min']])
  expect(findings[0]?.title).toBe(`No CloudTrail events from account ${ACCOUNT} in us-east-1 for 3 h 20 min`)
  expect(findings[0]?.why).toMatch(/events in 165 of 168 hours \(98%\)/)

  // The same silence an hour later is the same alert; a stricter setting finds the other account too.
  const later = (await detectAt(store, detector, new Date(NOW + HOUR).toISOString())).filter((f) => f.evidence.region)
  expect(later.map((f) => f.alertId)).toContain(findings[0]?.alertId)
  const strict = (await detectAt(store, detector, new Date(NOW).toISOString(), { quietMinutes: 60 })).filter((f) => f.evidence.region)
  expect(strict.map((f) => `${f.account}/${String(f.evidence.region)}`)).toEqual([`${ACCOUNT}/us-east-1`, `${OTHER}/us-east-1`])
})

it('reports an account whose newest IAM snapshot is older than two days, once for that snapshot, and judges by the snapshots of its time', async () => {
  const stale = (at: number, settings = {}) => detectAt(store, detector, new Date(at).toISOString(), settings).then((found) => found.filter((f) => f.evidence.source === 'iam snapshot'))
  const now = await stale(NOW)
  expect(now.map((f) => [f.account, f.severity, f.title])).toEqual([[ACCOUNT, 'low', `The IAM snapshot of account ${ACCOUNT} is 5 days old`]])
  expect((await stale(NOW + 24 * HOUR)).map((f) => f.alertId)).toEqual(now.map((f) => f.alertId))
  // Four days before now, the main account's sync was still running and the other's had stopped.
  expect((await stale(NOW - 4 * 24 * HOUR)).map((f) => [f.account, f.evidence.old])).toEqual([[OTHER, '6 days']])
  expect(await stale(NOW, { staleSnapshotDays: 6 })).toEqual([])
})
