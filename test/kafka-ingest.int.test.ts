import { randomBytes } from 'node:crypto'
import { CompressionTypes, type Message } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { IngestWorker, type IngestOptions } from '../ingest/kafka-ingest.js'
import type { Store } from '../src/clickhouse/client.js'
import { metrics } from '../src/metrics.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { refusingEventInserts } from './helpers/faults.js'
import { createTopic, produce, progress, readAll, testKafka, waitUntil } from './helpers/kafka.js'
import { openTestStore, queryRows, testLogger, type TestStore } from './helpers/store.js'

const kafka = testKafka()
const running: IngestWorker[] = []
const stores: TestStore[] = []

afterEach(async () => {
  for (const worker of running.splice(0)) await worker.stop()
  for (const store of stores.splice(0)) await store.close()
})

async function testStore(): Promise<TestStore> {
  const store = await openTestStore()
  stores.push(store)
  return store
}

async function startWorker(store: Store, topic: string, group: string, overrides: Partial<IngestOptions> = {}): Promise<IngestWorker> {
  const worker = new IngestWorker(kafka, store, {
    topics: [topic],
    group,
    deadLetterTopic: `${topic}.dead-letter`,
    maxBatch: 5000,
    maxRecordBytes: 1024 * 1024,
    flushMs: 200,
    logger: testLogger,
    retryDelayMs: 250,
    lagIntervalMs: 500,
    ...overrides,
  })
  running.push(worker)
  await worker.start()
  return worker
}

function records(count: number, seed: number): Message[] {
  return [...syntheticRecords({ count, seed, startMs: Date.UTC(2026, 10, 1), stepMs: 50 })].map((record) => ({
    key: String((record.userIdentity as { arn?: string }).arn ?? record.eventSource),
    value: JSON.stringify(record),
  }))
}

const group = () => `group-${randomBytes(4).toString('hex')}`

async function storedCounts(store: Store): Promise<{ rows: number; ids: number }> {
  const [row] = await queryRows<{ rows: string; ids: string }>(store, 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events FINAL')
  return { rows: Number(row?.rows), ids: Number(row?.ids) }
}

describe('trailwatch ingest on a real broker', () => {
  it('two workers of one group share 4 partitions and store exactly 50,000 events', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 4)
    await produce(kafka, topic, records(50_000, 11))
    const groupId = group()
    const [first, second] = await Promise.all([startWorker(store, topic, groupId), startWorker(store, topic, groupId)])

    await waitUntil('the group has committed every offset', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    })
    expect(await storedCounts(store)).toEqual({ rows: 50_000, ids: 50_000 })
    expect(first.stats.partitionsSeen.size).toBeGreaterThan(0)
    expect(second.stats.partitionsSeen.size).toBeGreaterThan(0)
    // Written at least once each: a partition that moves during the rebalance is read again from its
    // last commit, and those repeats collapse in the table, which the counts above check exactly.
    expect(first.totals.stored + second.totals.stored).toBeGreaterThanOrEqual(50_000)

    // What /metrics shows: messages consumed from the topic, and each partition's lag, measured from
    // the committed offsets every half second here, caught up.
    const consumed = (await metrics.kafkaMessages.get()).values.find((v) => v.labels.topic === topic)
    expect(consumed?.value).toBeGreaterThanOrEqual(50_000)
    const lag = async () => (await metrics.kafkaLag.get()).values.filter((v) => v.labels.topic === topic).map((v) => [v.labels.partition, v.value])
    await expect.poll(async () => (await lag()).sort(), { timeout: 10_000, interval: 250 }).toEqual([['0', 0], ['1', 0], ['2', 0], ['3', 0]])
  })

  it('goes on past one message whose records span 150 months, more partitions than one insert may touch', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 2)
    const spread = { Records: Array.from({ length: 150 }, (_, i) => ({ eventID: `month-${String(i)}`, eventTime: new Date(Date.UTC(2014, i, 15)).toISOString(), eventSource: 'iam.amazonaws.com', eventName: 'ListUsers', recipientAccountId: '111122223333' })) }
    await produce(kafka, topic, [{ key: 'spread', value: JSON.stringify(spread) }, ...records(1_000, 21)])
    const groupId = group()
    await startWorker(store, topic, groupId)
    await waitUntil('every offset is committed', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    })
    expect(await storedCounts(store)).toEqual({ rows: 1_150, ids: 1_150 })
  })

  it('sends 1% poison to the dead-letter topic and table with the reason, and stores every good record', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 2)
    const good = records(9_900, 12)
    const missingName = JSON.stringify({ eventID: 'p-missing', eventTime: '2026-11-01T00:00:00Z', eventSource: 'iam.amazonaws.com' })
    const wrongType = JSON.stringify({ eventID: 'p-type', eventTime: '2026-11-01T00:00:00Z', eventSource: 'iam.amazonaws.com', eventName: ['x'] })
    const huge = JSON.stringify({ eventID: 'p-huge', eventTime: '2026-11-01T00:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'PutObject', requestParameters: { blob: 'x'.repeat(5 * 1024 * 1024) } })
    const poison: Message[] = [
      ...Array.from({ length: 33 }, (_, i) => ({ key: 'p', value: `{"eventID": "broken-${i}", "eventName": ` })),
      ...Array.from({ length: 33 }, () => ({ key: 'p', value: missingName })),
      ...Array.from({ length: 33 }, () => ({ key: 'p', value: wrongType })),
      { key: 'p', value: huge },
    ]
    // Poison spread through the stream, one message in a hundred.
    const messages = good.flatMap((message, i) => (i % 99 === 0 && poison[i / 99] ? [poison[i / 99] as Message, message] : [message]))
    expect(messages).toHaveLength(10_000)
    await produce(kafka, topic, messages)
    const groupId = group()
    const worker = await startWorker(store, topic, groupId)
    await waitUntil('every offset is committed', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    })

    expect(await storedCounts(store)).toEqual({ rows: 9_900, ids: 9_900 })
    expect(worker.stats.deadLetters).toBe(100)

    const dead = await readAll(kafka, `${topic}.dead-letter`, 100)
    expect(dead).toHaveLength(100)
    const reasons = dead.map((m) => m.headers['trailwatch-reason'])
    expect(reasons.filter((r) => r === 'input ended inside a JSON value (truncated?)')).toHaveLength(33)
    expect(reasons.filter((r) => r === 'eventName: missing')).toHaveLength(33)
    expect(reasons.filter((r) => r?.startsWith('eventName: Invalid input: expected string'))).toHaveLength(33)
    expect(reasons.filter((r) => r?.startsWith('value is larger than 1048576 bytes'))).toHaveLength(1)
    // The original bytes, and where they came from.
    const bigOne = dead.find((m) => m.headers['trailwatch-reason']?.startsWith('value is larger'))
    expect(bigOne?.value?.toString()).toBe(huge)
    expect(dead.every((m) => m.headers['trailwatch-source-topic'] === topic && /^\d+$/.test(m.headers['trailwatch-source-offset'] ?? ''))).toBe(true)

    const [table] = await queryRows<{ n: string; kafka: string }>(store, "SELECT count() AS n, countIf(source LIKE 'kafka:%') AS kafka FROM rejected_input FINAL")
    expect([Number(table?.n), Number(table?.kafka)]).toEqual([100, 100])
  })

  it('is not stalled by 10 KB of gzip holding five million numbers: a few rejections, and the messages after it stored', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 1)
    const bomb = `[${'0,'.repeat(5_000_000)}0]`
    await produce(kafka, topic, [{ key: 'bomb', value: bomb }], CompressionTypes.GZIP)
    await produce(kafka, topic, records(1_000, 23))
    const groupId = group()
    await startWorker(store, topic, groupId)
    await waitUntil('every offset is committed', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    }, 60_000)
    expect(await storedCounts(store)).toEqual({ rows: 1_000, ids: 1_000 })
    const [rejected] = await queryRows<{ n: string; last: string }>(store, 'SELECT count() AS n, argMax(reason, location) AS last FROM rejected_input FINAL')
    expect(Number(rejected?.n)).toBeLessThanOrEqual(101)
    expect(Number(rejected?.n)).toBeGreaterThan(0)
  })

  it('holds its position while inserts fail for 30 s, then catches up with nothing lost', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 2)
    await produce(kafka, topic, records(5_000, 13))
    const groupId = group()
    const outage = { until: Date.now() + 30_000, refused: 0 }
    const worker = await startWorker(
      refusingEventInserts(store, () => Date.now() < outage.until && ++outage.refused > 0),
      topic,
      groupId,
      { stallMs: 10_000 },
    )

    await waitUntil('the worker has tried and failed to insert', () => Promise.resolve(outage.refused >= 2))
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outage.until - Date.now() - 5_000)))
    // Deep into the outage: read, not stored, so not committed; not ready, and it says why; the lag is the truth.
    expect((await progress(kafka, groupId, topic)).committed).toBe(0)
    expect(worker.stats.messages).toBeGreaterThan(0)
    expect(worker.readiness()).toMatch(/^inserts into the store have failed for \d+ s$/)
    expect([...worker.stats.lag.values()].reduce((a, b) => a + b, 0)).toBe(5_000)

    await waitUntil('every offset is committed', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    }, 90_000)
    expect(Date.now()).toBeGreaterThanOrEqual(outage.until)
    expect(await storedCounts(store)).toEqual({ rows: 5_000, ids: 5_000 })
    await waitUntil('ready again', () => Promise.resolve(worker.readiness() === true))
  }, 150_000)

  it('stops within its shutdown bound while the store refuses every insert, and loses nothing', async () => {
    const store = await testStore()
    const topic = await createTopic(kafka, 2)
    await produce(kafka, topic, records(1_000, 17))
    const groupId = group()
    let refused = 0
    const worker = await startWorker(refusingEventInserts(store, () => ++refused > 0), topic, groupId, { shutdownTimeoutMs: 2_000 })
    await waitUntil('the worker has tried and failed to insert', () => Promise.resolve(refused >= 2))
    // A hang here would end in the test's timeout.
    await worker.stop()
    expect((await progress(kafka, groupId, topic)).committed).toBe(0)

    // Nothing was committed, so a worker on a store that works reads it all again.
    await startWorker(store, topic, groupId)
    await waitUntil('every offset is committed', async () => {
      const { committed, end } = await progress(kafka, groupId, topic)
      return committed === end
    })
    expect(await storedCounts(store)).toEqual({ rows: 1_000, ids: 1_000 })
  })
})
