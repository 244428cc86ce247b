import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { z } from 'zod'
import { selectRows } from '../../src/clickhouse/rows.js'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, roleSession, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const DAY = 86_400_000

/** A USER_ACTIONS summary: what one principal called in a 5-minute window, and how often. */
function summary(start: number, principal: string, calls: Record<string, number>): RawEvent {
  return {
    eventVersion: '1.0',
    accountId: ACCOUNT,
    eventId: randomUUID(),
    eventCategory: 'Aggregated',
    eventType: 'AwsAggregatedEvent',
    awsRegion: 'us-east-1',
    eventSource: 's3.amazonaws.com',
    timeWindow: { windowStart: new Date(start).toISOString(), windowEnd: new Date(start + 300_000).toISOString(), windowSize: 'PT5M' },
    summary: {
      primaryDimension: { dimension: 'userIdentity', statistics: [{ name: principal, value: Object.values(calls).reduce((a, b) => a + b, 0) }], aggregationType: 'Count' },
      details: [
        { dimension: 'eventName', statistics: Object.entries(calls).map(([name, value]) => ({ name, value })), aggregationType: 'Count' },
        { dimension: 'resourceARN', statistics: [{ name: 'arn:aws:s3:::records', value: 1 }], aggregationType: 'Count' },
      ],
    },
  }
}
const session = (role: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/worker-${randomUUID().slice(0, 8)}`
const getObject = (at: number, who: RawEvent) => apiCall(at, who, '198.51.100.7', { eventName: 'GetObject', eventCategory: 'Data', managementEvent: false, requestParameters: { bucketName: 'records', key: `k/${randomUUID()}` } })
const daysBefore = (days: number, minutes = 0) => NOW - days * DAY + minutes * 60_000

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // An exporter role that reads about 100 objects each day, summarised, then 3,000 in the last hour.
    ...Array.from({ length: 10 }, (_, d) => summary(daysBefore(d + 1), session('exporter'), { GetObject: 100, PutObject: 5 })),
    ...[10, 25, 40].map((m) => summary(NOW - 60 * 60_000 + m * 60_000, session('exporter'), { GetObject: 1_000, ListObjects: 50 })),
    // A nightly backup role: its busiest earlier hour read 2,000; 3,000 now is its usual, give or take.
    ...Array.from({ length: 10 }, (_, d) => summary(daysBefore(d + 1, 30), session('backup'), { GetObject: 2_000 })),
    summary(NOW - 30 * 60_000, session('backup'), { GetObject: 3_000 }),
    // A role first seen two days ago: no usual yet, however much it reads.
    summary(daysBefore(2), session('new-app'), { GetObject: 10 }),
    summary(NOW - 20 * 60_000, session('new-app'), { GetObject: 5_000 }),
    // mallory's key, told one data event at a time: five reads a week ago, 1,100 now.
    ...Array.from({ length: 5 }, (_, i) => getObject(daysBefore(8, i), iamUser('mallory'))),
    ...Array.from({ length: 1_100 }, (_, i) => getObject(NOW - 50 * 60_000 + i * 1_000, iamUser('mallory'))),
    // An analyst role whose busiest hour read 150, now both summarised and told one by one: the same
    // 1,100 reads, counted once (under ten times 150; counted twice they would not be).
    summary(daysBefore(9), session('analyst'), { GetObject: 150 }),
    ...Array.from({ length: 1_100 }, (_, i) => getObject(NOW - 40 * 60_000 + i * 1_000, roleSession('analyst', 'a'))),
    summary(NOW - 40 * 60_000, session('analyst'), { GetObject: 1_100 }),
  ])
})
afterAll(async () => {
  await store.close()
})

it('stores an aggregated data event at the start of its window, with AWS as its actor and no principal of its own', async () => {
  const rows = await selectRows(
    store,
    "SELECT event_type, event_category, toString(actor_kind) AS actor, principal_arn, toString(event_time) AS at FROM events WHERE event_type IN ('AwsAggregatedEvent') ORDER BY event_time DESC LIMIT 1",
    {},
    z.object({ event_type: z.string(), event_category: z.string(), actor: z.string(), principal_arn: z.string(), at: z.string() }),
  )
  expect(rows).toEqual([{ event_type: 'AwsAggregatedEvent', event_category: 'Aggregated', actor: 'aws-service', principal_arn: '', at: '2026-11-20 11:40:00.000' }])
})

it('finds a principal reading ten times its busiest hour, from summaries or data events, once it has a week of history', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => [f.principal, f.evidence.reads, f.evidence.busiest_earlier_hour, f.evidence.counted_from])).toEqual([
    [`arn:aws:iam::${ACCOUNT}:role/exporter`, 3_000, 100, 'aggregated data events'],
    [`arn:aws:iam::${ACCOUNT}:user/mallory`, 1_100, 5, 'data events'],
  ])
  expect(findings[0]?.title).toBe(`arn:aws:iam::${ACCOUNT}:role/exporter read 3000 objects or items (GetObject) within the hour; its busiest hour of the 28 days before read 100`)
  expect(findings[0]?.severity).toBe('high')
})

it('counts an hour told both ways once, and judges a young principal once it has the history asked for', async () => {
  // Seven times its busiest hour is enough here: the analyst is found, with its 1,100 reads.
  const lower = await detectAt(store, detector, '2026-11-20T12:00:00Z', { overUsual: 7 })
  expect(lower.find((f) => f.principal.endsWith(':role/analyst'))?.evidence.reads).toBe(1_100)
  expect(lower.some((f) => f.principal.endsWith(':role/new-app'))).toBe(false)
  const young = await detectAt(store, detector, '2026-11-20T12:00:00Z', { learnDays: 1 })
  expect(young.find((f) => f.principal.endsWith(':role/new-app'))?.evidence).toMatchObject({ reads: 5_000, busiest_earlier_hour: 10 })
})
