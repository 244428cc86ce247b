import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
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
    // Another account stopped only 30 minutes ago: within the limit.
    ...steady(OTHER, 'us-east-1', NOW - 8 * 24 * HOUR, NOW - 30 * 60_000),
    // A region used one afternoon a week is quiet by nature.
    ...steady(OTHER, 'ap-south-1', NOW - 2 * 24 * HOUR, NOW - 2 * 24 * HOUR + 4 * HOUR),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports a usually busy account and region that went quiet, and nothing that is quiet by nature', async () => {
  const findings = await detectAt(store, detector, new Date(NOW).toISOString())
  expect(findings.map((f) => [f.account, f.evidence.region, f.evidence.quiet_for])).toEqual([[ACCOUNT, 'us-east-1', '3 h 20 min']])
  expect(findings[0]?.title).toBe(`No CloudTrail events from account ${ACCOUNT} in us-east-1 for 3 h 20 min`)
  expect(findings[0]?.why).toMatch(/events in 165 of 168 hours \(98%\)/)

  // The same silence an hour later is the same alert; a stricter setting finds the other account too.
  const later = await detectAt(store, detector, new Date(NOW + HOUR).toISOString())
  expect(later.map((f) => f.alertId)).toContain(findings[0]?.alertId)
  const strict = await detectAt(store, detector, new Date(NOW).toISOString(), { quietMinutes: 20 })
  expect(strict.map((f) => `${f.account}/${String(f.evidence.region)}`)).toEqual([`${ACCOUNT}/us-east-1`, `${OTHER}/us-east-1`])
})
