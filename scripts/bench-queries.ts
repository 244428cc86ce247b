// trailwatch run ingesting a Kafka backlog and inbox files, alone and then under 200 concurrent
// `trailwatch query` commands using the store it holds, measured in the same run: throughput, query
// answers, memory, losses.
//   bash kafka/broker.sh start && npm run bench:queries [-- --seconds 30 --clients 200 --backlog 600000]
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs'
import { ReadOnlyQueries } from '../src/clickhouse/read-only-queries.js'
import { openSharedStore, type StoreHolder } from '../src/clickhouse/shared-store.js'
import { loadConfig } from '../src/config.js'
import { syntheticRecords } from '../src/simulate/records.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    clients: { type: 'string', default: '200' },
    backlog: { type: 'string', default: '600000' },
    'inbox-files': { type: 'string', default: '20' },
  },
})
const seconds = Number(values.seconds)
const clients = Number(values.clients)
const backlog = Number(values.backlog)
const inboxFiles = Number(values['inbox-files'])
const RECORDS_PER_FILE = 5_000
const config = loadConfig()
const brokers = config.kafka.brokers ?? ['127.0.0.1:19092']
const kafka = new Kafka({ clientId: 'trailwatch-bench', brokers, logLevel: logLevel.NOTHING })
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-queries-'))
const ENTRY = path.resolve(import.meta.dirname, '../test/helpers/trailwatch.ts')
const QUERY = 'SELECT event_name, count() AS calls, uniqExact(principal_arn) AS principals FROM events GROUP BY event_name ORDER BY calls DESC LIMIT 20'

async function produceBacklog(topic: string, seed: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  let batch: Message[] = []
  for (const record of syntheticRecords({ count: backlog, seed, startMs: Date.UTC(2026, 10, 1), stepMs: 5 })) {
    batch.push({ key: String((record.userIdentity as { arn?: string } | undefined)?.arn ?? record.eventSource), value: JSON.stringify(record) })
    if (batch.length < 2000) continue
    await producer.send({ topic, messages: batch, acks: -1 })
    batch = []
  }
  if (batch.length > 0) await producer.send({ topic, messages: batch, acks: -1 })
  await producer.disconnect()
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1] ?? Number.NaN)
}

interface PhaseResult {
  perSecond: number
  peakRssMb: number
  answers: Record<string, number>
  stored: number
  expected: number
}

async function phase(name: string, topic: string, seed: number, withQueries: boolean): Promise<PhaseResult> {
  const dataDir = path.join(work, name)
  const inbox = path.join(dataDir, 'inbox')
  mkdirSync(inbox, { recursive: true })
  const run: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'run'], {
    env: { ...process.env, TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_DEMO: 'false', TRAILWATCH_HTTP_PORT: '0', KAFKA_BROKERS: brokers.join(','), TRAILWATCH_KAFKA_TOPICS: topic, TRAILWATCH_KAFKA_GROUP: `bench-${name}`, TRAILWATCH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const runFile = path.join(dataDir, 'run.json')
  while (!existsSync(runFile)) await sleep(200)
  const holder = JSON.parse(readFileSync(runFile, 'utf8')) as StoreHolder
  const { url } = holder
  while ((await fetch(`${url}/readyz`)).status !== 200) await sleep(200)

  const answers: Record<string, number> = {}
  let peakRss = 0
  const deadline = Date.now() + seconds * 1000
  const started = await metric(url, 'trailwatch_events_stored_total')
  const startedAt = performance.now()
  // The inbox gets a file every so often while Kafka drains its backlog.
  const dropping = (async () => {
    for (let i = 0; i < inboxFiles; i++) {
      const records = [...syntheticRecords({ count: RECORDS_PER_FILE, seed: seed * 1000 + i, startMs: Date.UTC(2026, 9, 1) + i * 3_600_000, stepMs: 10 })]
      writeFileSync(path.join(inbox, `file-${String(i)}.json`), JSON.stringify({ Records: records }))
      await sleep((seconds * 1000) / inboxFiles)
    }
  })()
  const sampling = (async () => {
    while (Date.now() < deadline) {
      peakRss = Math.max(peakRss, await metric(url, 'trailwatch_process_process_resident_memory_bytes'))
      await sleep(500)
    }
  })()
  const asking = Array.from({ length: withQueries ? clients : 0 }, async () => {
    while (Date.now() < deadline) {
      // What one `trailwatch query` does: its own sessions on the store run holds, a read-only query, gone.
      const key = await askAsACommand(holder, dataDir)
      answers[key] = (answers[key] ?? 0) + 1
      // A command turned away is tried again a moment later.
      if (key === 'busy') await sleep(1000)
    }
  })
  await Promise.all([...asking, sampling])
  const stored = (await metric(url, 'trailwatch_events_stored_total')) - started
  const perSecond = stored / ((performance.now() - startedAt) / 1000)
  await dropping

  // Then let it finish everything, and count what it kept.
  const expected = backlog + inboxFiles * RECORDS_PER_FILE
  for (let waited = 0; (await metric(url, 'trailwatch_events_stored_total')) < expected && waited < 300; waited++) await sleep(1000)
  const total = await metric(url, 'trailwatch_events_stored_total')
  run.kill('SIGTERM')
  await once(run, 'exit')
  return { perSecond, peakRssMb: peakRss / 1024 / 1024, answers, stored: total, expected }
}

async function askAsACommand(holder: StoreHolder, dataDir: string): Promise<'ok' | 'busy' | 'error'> {
  const store = await openSharedStore(holder, dataDir).catch((err: unknown) => err as Error)
  if (store instanceof Error) return store.message.includes('sessions are open') ? 'busy' : 'error'
  const queries = new ReadOnlyQueries(store, config.queries)
  try {
    await queries.run({ sql: QUERY, json: true, color: false })
    return 'ok'
  } catch (err) {
    return (err as Error).message.includes('sessions are open') ? 'busy' : 'error'
  } finally {
    await queries.close()
    await store.close()
  }
}

const main = async () => {
  const suffix = Date.now().toString(36)
  const [quiet, loaded] = [`bench-queries-quiet-${suffix}`, `bench-queries-loaded-${suffix}`]
  process.stdout.write(`producing ${String(backlog)} records to each of two topics… `)
  await produceBacklog(quiet, 1)
  await produceBacklog(loaded, 2)
  console.log('done')
  const alone = await phase('alone', quiet, 1, false)
  const underLoad = await phase('queries', loaded, 2, true)
  const line = (label: string, r: PhaseResult) =>
    `${label.padEnd(34)} ${Math.round(r.perSecond).toLocaleString('en').padStart(8)} events/s stored   peak RSS ${Math.round(r.peakRssMb).toString().padStart(5)} MB   ${String(r.stored)} of ${String(r.expected)} stored`
  console.log(`\ntrailwatch run, a Kafka backlog of ${backlog.toLocaleString('en')} records and ${String(inboxFiles)} inbox files of ${String(RECORDS_PER_FILE)}, ${String(seconds)} s each\n`)
  console.log(line('(a) ingest alone', alone))
  console.log(line(`(b) ingest + ${String(clients)} query commands`, underLoad))
  console.log(`\n(b) / (a): ${((underLoad.perSecond / alone.perSecond) * 100).toFixed(0)}%`)
  console.log(`query answers in (b): ${Object.entries(underLoad.answers).map(([answer, n]) => `${String(n)} × ${answer}`).join(', ')}`)
  rmSync(work, { recursive: true, force: true })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
