// Kafka ingest through the real broker into the embedded store, against kafkajs consuming alone and
// against a backfill of the same records from files, measured in the same run; then
// produce-to-stored latency under a steady stream.
//   bash kafka/broker.sh start && npm run bench:ingest [-- --records 500000 --partitions 4]
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs'
import { z } from 'zod'
import { backfill } from '../ingest/backfill.js'
import { Decoder } from '../ingest/decoder.js'
import { IngestWorker } from '../ingest/kafka-ingest.js'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { loadConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { dropStore } from './drop-store.js'
import { writeLogFiles } from './log-files.js'
import { peakMemory } from './peak-memory.js'
import { percentile } from './percentile.js'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    partitions: { type: 'string', default: '4' },
    'latency-rate': { type: 'string', default: '5000' },
    'latency-seconds': { type: 'string', default: '20' },
  },
})
const total = Number(values.records)
const partitions = Number(values.partitions)
const brokers = loadConfig().kafka.brokers ?? ['127.0.0.1:19092']
const kafka = new Kafka({ clientId: 'trailwatch-bench', brokers, logLevel: logLevel.NOTHING })
const logger = createLogger('warn')
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-ingest-'))
const suffix = randomBytes(4).toString('hex')

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
}

async function committed(group: string, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  await admin.disconnect()
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
}

/** Produces `count` records, generated as they go; returns their total size. */
async function produceRecords(topic: string, count: number, seed: number, startMs: number, onSent?: (ids: string[], at: number) => void, perSecond?: number): Promise<number> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  let bytes = 0
  let batch: Message[] = []
  let ids: string[] = []
  const started = performance.now()
  let sent = 0
  const chunk = perSecond ? Math.max(1, Math.round(perSecond / 20)) : 2000
  for (const record of syntheticRecords({ count, seed, startMs, stepMs: 10 })) {
    const value = JSON.stringify(record)
    bytes += value.length
    batch.push({ key: String((record.userIdentity as { arn?: string } | undefined)?.arn ?? record.eventSource), value })
    ids.push(record.eventID as string)
    if (batch.length < chunk) continue
    if (perSecond) await sleep(Math.max(0, (sent / perSecond) * 1000 - (performance.now() - started)))
    await producer.send({ topic, messages: batch, acks: -1 })
    onSent?.(ids, Date.now())
    sent += batch.length
    batch = []
    ids = []
  }
  if (batch.length > 0) {
    await producer.send({ topic, messages: batch, acks: -1 })
    onSent?.(ids, Date.now())
  }
  await producer.disconnect()
  return bytes
}

async function consumeOnly(topic: string, expected: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-consume-${suffix}`, maxBytesPerPartition: 16 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  let started = 0
  let finished = 0
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (!started) started = performance.now()
      seen += batch.messages.length
      if (seen >= expected && !finished) finished = performance.now()
      await Promise.resolve()
    },
  })
  while (!finished) await sleep(50)
  await consumer.disconnect()
  return (finished - started) / 1000
}

/** From joining the group (as (a) counts from its first batch) until every offset is committed. */
async function fullIngest(store: Store, topic: string, group: string, expected: number): Promise<{ seconds: number; worker: IngestWorker }> {
  const worker = new IngestWorker(kafka, store, { topics: [topic], group, deadLetterTopic: `${topic}.dead-letter`, maxBatch: 10_000, maxRecordBytes: 1 << 20, flushMs: 1000, logger })
  await worker.start()
  while (!worker.joined) await sleep(10)
  const started = performance.now()
  while ((await committed(group, topic)) < expected) await sleep(100)
  return { seconds: (performance.now() - started) / 1000, worker }
}


const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(0)}%`
function line(label: string, count: number, seconds: number, megabytes: number): void {
  console.log(`${label.padEnd(40)} ${Math.round(count / seconds).toLocaleString('en').padStart(9)} events/s  ${(megabytes / seconds).toFixed(1).padStart(6)} MB/s  (${count} in ${seconds.toFixed(1)} s)`)
}

const main = async () => {
  const topic = `bench-${suffix}`
  await createTopic(topic)
  const producedAt = performance.now()
  const bytes = await produceRecords(topic, total, 101, Date.UTC(2026, 9, 1))
  const megabytes = bytes / 1024 / 1024
  console.log(`${total} records produced to ${partitions} partitions (${megabytes.toFixed(0)} MB, ${Math.round(bytes / total)} bytes each) in ${((performance.now() - producedAt) / 1000).toFixed(1)} s\n`)

  const filesDir = path.join(work, 'files')
  // The same records as S3-style log files.
  writeLogFiles(filesDir, syntheticRecords({ count: total, seed: 101, startMs: Date.UTC(2026, 9, 1), stepMs: 10 }), 1000)

  const consumeSeconds = await consumeOnly(topic, total)
  line('(a) kafkajs consume only', total, consumeSeconds, megabytes)

  const files = await openEmbeddedStore(path.join(work, 'data'), 'bench_files')
  await migrate(files, { retentionDays: 400 }, logger)
  const atRestMiB = process.memoryUsage.rss() / 1024 / 1024
  // Started beforehand, as the Kafka worker's is before (c) is timed.
  const decoder = await Decoder.start({ maxRecordBytes: 1 << 20 })
  const backfilled = await peakMemory(() => backfill(files, [filesDir], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger, decoder }))
  line('(b) backfill of the same records', backfilled.result.stored, backfilled.result.seconds, megabytes)
  await decoder.close()
  await dropStore(files)

  const store = await openEmbeddedStore(path.join(work, 'data'), 'bench')
  await migrate(store, { retentionDays: 400 }, logger)
  const group = `bench-ingest-${suffix}`
  const ingested = await peakMemory(() => fullIngest(store, topic, group, total))
  const { seconds: ingestSeconds, worker } = ingested.result
  line('(c) full ingest, one worker', worker.totals.stored, ingestSeconds, megabytes)
  const backfillRate = backfilled.result.stored / backfilled.result.seconds
  console.log(`\nfull ingest / consume only: ${percent(total / ingestSeconds, total / consumeSeconds)}`)
  console.log(`full ingest / backfill: ${percent(worker.totals.stored / ingestSeconds, backfillRate)}`)
  console.log(`peak resident memory: ${ingested.peakMiB.toFixed(0)} MiB during the Kafka ingest, ${backfilled.peakMiB.toFixed(0)} MiB during the backfill, ${atRestMiB.toFixed(0)} MiB before them (the whole process, the engine's too)\n`)

  // A steady stream while the same worker runs: from the producer's acknowledgement to the row's ingested_at.
  const rate = Number(values['latency-rate'])
  const count = rate * Number(values['latency-seconds'])
  const sentAt = new Map<string, number>()
  await produceRecords(topic, count, 202, Date.UTC(2026, 10, 1), (ids, at) => {
    for (const id of ids) sentAt.set(id, at)
  }, rate)
  while ((await committed(group, topic)) < total + count) await sleep(100)
  await worker.stop()
  const stored = await selectRows(
    store,
    'SELECT event_id, toUnixTimestamp64Milli(ingested_at) AS stored FROM events WHERE event_time >= {from:DateTime64(3)}',
    { from: '2026-11-01 00:00:00.000' },
    z.object({ event_id: z.string(), stored: z.coerce.number() }),
  )
  const latencies = stored
    .map((row) => row.stored - (sentAt.get(row.event_id) ?? NaN))
    .filter((ms) => !Number.isNaN(ms))
  console.log(`produce-to-stored latency at ${rate} events/s for ${values['latency-seconds']} s (${latencies.length} events): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`)

  await store.close()
  rmSync(work, { recursive: true, force: true })
}

await main()
