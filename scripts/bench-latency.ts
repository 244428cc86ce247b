// Time to alert: a steady stream through Kafka into `trailwatch run`, attacks injected at known
// times, and for each attack when it was produced, stored, alerted and delivered (SMTP accepted).
//   bash kafka/broker.sh start && npm run bench:latency [-- --rate 2000 --seconds 420 --every 40]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs'
import { loadConfig } from '../src/config.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { startSmtpServer } from '../test/helpers/smtp.js'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '420' }, every: { type: 'string', default: '40' } } })
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const every = Number(values.every)
const brokers = loadConfig().kafka.brokers ?? ['127.0.0.1:19092']
const kafka = new Kafka({ clientId: 'trailwatch-bench', brokers, logLevel: logLevel.NOTHING })
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-latency-'))
const ENTRY = path.resolve(import.meta.dirname, '../test/helpers/trailwatch.ts')
const ACCOUNT = '111122223333'

interface Attack {
  trail: string
  eventId: string
  produced: number
  stored?: number
  alerted?: number
  delivered?: number
}

/** A user stopping a trail: one call, a critical alert, a new incident (each attack is someone new). */
function attack(n: number, at: number): { trail: string; eventId: string; message: Message } {
  const user = `latency-attacker-${String(n)}`
  const trail = `latency-trail-${String(n)}`
  const eventId = `latency-event-${String(n)}-${String(at)}`
  const record = {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', principalId: `AIDALATENCY${String(n).padStart(9, '0')}`, arn: `arn:aws:iam::${ACCOUNT}:user/${user}`, accountId: ACCOUNT, accessKeyId: `AKIALATENCY${String(n).padStart(9, '0')}`, userName: user },
    eventTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'cloudtrail.amazonaws.com',
    eventName: 'StopLogging',
    awsRegion: 'us-east-1',
    sourceIPAddress: '198.51.100.77',
    userAgent: 'aws-cli/2.15.30',
    requestParameters: { name: trail },
    responseElements: null,
    requestID: `latency-request-${String(n)}`,
    eventID: eventId,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
  }
  return { trail, eventId, message: { key: record.userIdentity.arn, value: JSON.stringify(record) } }
}

async function query(url: string, token: string, sql: string): Promise<Record<string, string>[]> {
  const response = await fetch(`${url}/query`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql, json: true }) })
  if (!response.ok) return []
  return (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, string>)
}

/** Whether `text` names this trail and not another whose name it starts (latency-trail-1 is not latency-trail-10). */
function named(text: string, trail: string): boolean {
  return new RegExp(`\\b${trail}\\b`).test(text)
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

const main = async (): Promise<void> => {
  const smtp = await startSmtpServer()
  const topic = `bench-latency-${Date.now().toString(36)}`
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()

  const dataDir = path.join(work, 'data')
  const run = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'run'], {
    env: {
      ...process.env,
      TRAILWATCH_DATA_DIR: dataDir,
      TRAILWATCH_DEMO: 'false',
      TRAILWATCH_HTTP_PORT: '0',
      KAFKA_BROKERS: brokers.join(','),
      TRAILWATCH_KAFKA_TOPICS: topic,
      TRAILWATCH_KAFKA_GROUP: topic,
      SMTP_URL: smtp.url,
      TRAILWATCH_ALERT_TO: 'secops@example.com',
      TRAILWATCH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const runFile = path.join(dataDir, 'run.json')
  while (!existsSync(runFile)) await sleep(200)
  const { url, token } = JSON.parse(readFileSync(runFile, 'utf8')) as { url: string; token: string }
  while ((await fetch(`${url}/readyz`)).status !== 200) await sleep(200)

  const attacks: Attack[] = []
  smtp.onAccepted = (received) => {
    const text = received.mail.text ?? ''
    for (const a of attacks) if (a.delivered === undefined && named(text, a.trail)) a.delivered = Date.now()
  }

  // The store, watched while the stream runs and after, until every attack is delivered.
  const stream = { producing: true }
  const watching = (async () => {
    let deadline = Infinity
    while (Date.now() < deadline && (stream.producing || attacks.some((a) => a.delivered === undefined || a.alerted === undefined || a.stored === undefined))) {
      if (!stream.producing && deadline === Infinity) deadline = Date.now() + 360_000
      const ids = attacks.filter((a) => a.stored === undefined).map((a) => `'${a.eventId}'`)
      if (ids.length) {
        for (const row of await query(url, token, `SELECT event_id, toUnixTimestamp64Milli(min(ingested_at)) AS at FROM events WHERE event_id IN (${ids.join(',')}) GROUP BY event_id`)) {
          const found = attacks.find((a) => a.eventId === row.event_id)
          if (found) found.stored = Number(row.at)
        }
      }
      // When an alert first shows, to the poll (a quarter of a second): a later run stores the alert again, and merges keep that row.
      for (const row of await query(url, token, "SELECT DISTINCT title FROM alerts WHERE detector = 'cloudtrail-tampering' AND title LIKE '%latency-trail-%'")) {
        for (const a of attacks) if (a.alerted === undefined && named(row.title ?? '', a.trail)) a.alerted = Date.now()
      }
      await sleep(250)
    }
  })()

  // The stream: `rate` events a second of the synthetic mix, timed now, in 20 sends a second.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const started = Date.now()
  const perSend = Math.max(1, Math.round(rate / 20))
  let sent = 0
  let nextAttack = started + every * 1000
  const background = syntheticRecords({ count: rate * seconds, seed: 7, startMs: started, stepMs: 1000 / rate })
  for (let tick = 0; Date.now() < started + seconds * 1000; tick++) {
    const messages: Message[] = []
    for (let i = 0; i < perSend; i++) {
      const next = background.next()
      if (next.done) break
      messages.push({ key: (next.value.userIdentity as { arn?: string } | undefined)?.arn ?? '', value: JSON.stringify(next.value) })
    }
    let injected: Attack | undefined
    if (Date.now() >= nextAttack) {
      const { trail, eventId, message } = attack(attacks.length, Date.now())
      injected = { trail, eventId, produced: 0 }
      messages.push(message)
      nextAttack += every * 1000
    }
    await producer.send({ topic, messages, acks: -1 })
    if (injected) attacks.push({ ...injected, produced: Date.now() })
    sent += messages.length
    await sleep(Math.max(0, started + ((tick + 1) * 1000) / 20 - Date.now()))
  }
  await producer.disconnect()
  const producedFor = (Date.now() - started) / 1000

  // Then wait for every attack to be delivered (at most 6 minutes more).
  stream.producing = false
  await watching
  run.kill('SIGTERM')
  await once(run, 'exit')
  await smtp.close()

  const stage = (label: string, pick: (a: Attack) => number | undefined): string => {
    const seconds = attacks.flatMap((a) => {
      const at = pick(a)
      return at === undefined ? [] : [(at - a.produced) / 1000]
    })
    return `  ${label.padEnd(26)} p50 ${percentile(seconds, 50).toFixed(1).padStart(6)} s   p99 ${percentile(seconds, 99).toFixed(1).padStart(6)} s   ${String(seconds.length)} of ${String(attacks.length)}`
  }
  console.log(`trailwatch run, ${String(Math.round(sent / producedFor))} events/s through Kafka for ${producedFor.toFixed(0)} s, an attack every ${String(every)} s`)
  console.log(stage('produced → stored', (a) => a.stored))
  console.log(stage('produced → alerted', (a) => a.alerted))
  console.log(stage('produced → delivered', (a) => a.delivered))
  rmSync(work, { recursive: true, force: true })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
