// Time to alert: a steady stream through Kafka into `trailwatch run`, attacks injected at known
// times, and for each attack when it was produced, stored, alerted and delivered (SMTP accepted).
//   bash kafka/broker.sh start && npm run bench:latency [-- --rate 2000 --seconds 420 --every 20]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs'
import type { Store } from '../src/clickhouse/client.js'
import { openSharedStore, type StoreHolder } from '../src/clickhouse/shared-store.js'
import { loadConfig } from '../src/config.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { clickHouseTime } from '../src/time.js'
import { startSmtpServer } from '../test/helpers/smtp.js'
import { percentile } from './percentile.js'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '420' }, every: { type: 'string', default: '20' } } })
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const every = Number(values.every)
const brokers = loadConfig().kafka.brokers ?? ['127.0.0.1:19092']
const kafka = new Kafka({ clientId: 'trailwatch-bench', brokers, logLevel: logLevel.NOTHING })
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-latency-'))
const ENTRY = path.resolve(import.meta.dirname, '../test/helpers/trailwatch.ts')
const ACCOUNT = '111122223333'

interface Attack {
  kind: AttackKind
  /** The trail or user the alert and the email name. */
  name: string
  eventIds: string[]
  produced: number
  /** When the last of its events was stored. */
  stored?: number
  alerted?: number
  delivered?: number
}

type AttackKind = 'stop-logging' | 'brute-force' | 'listed-then-read' | 'federation-token'

const KINDS: { kind: AttackKind; label: string; detector: string; namePrefix: string }[] = [
  { kind: 'stop-logging', label: 'a trail stopped (one event, critical)', detector: 'cloudtrail-tampering', namePrefix: 'latency-trail-' },
  { kind: 'brute-force', label: 'five failed console sign-ins (a threshold over a window)', detector: 'console-brute-force', namePrefix: 'latency-guessed-' },
  { kind: 'listed-then-read', label: 'secrets listed, then one read (a sequence rule)', detector: 'rule:trailwatch-secrets-listed-then-read', namePrefix: 'latency-reader-' },
  { kind: 'federation-token', label: "a user's first federation token (a first-seen rule)", detector: 'rule:trailwatch-federation-token-new-principal', namePrefix: 'latency-federated-' },
]

function record(n: number, at: number, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    eventTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    awsRegion: 'us-east-1',
    userAgent: 'aws-cli/2.15.30',
    requestID: `latency-request-${String(n)}`,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    ...fields,
  }
}

/** A user of the account calling with a key: who the attacks that are not sign-ins act as. */
function userCall(n: number, at: number, user: string, step: number, fields: Record<string, unknown>): Record<string, unknown> {
  return record(n, at, {
    userIdentity: { type: 'IAMUser', principalId: `AIDALATENCY${String(n).padStart(9, '0')}`, arn: `arn:aws:iam::${ACCOUNT}:user/${user}`, accountId: ACCOUNT, accessKeyId: `AKIALATENCY${String(n).padStart(9, '0')}`, userName: user },
    sourceIPAddress: '198.51.100.77',
    responseElements: null,
    eventID: `latency-event-${String(n)}-${String(step)}-${String(at)}`,
    ...fields,
  })
}

/**
 * Attack `n`, each by someone new so that each is a new alert and a new incident, the kinds in turn:
 * a user stopping a trail; five wrong passwords for a user from one address within seconds; a user
 * listing the secrets and reading one; a user asking for a federation token.
 */
function attack(n: number, at: number): { attack: Omit<Attack, 'produced'>; messages: Message[] } {
  const kind = KINDS[n % KINDS.length] as (typeof KINDS)[number]
  const name = `${kind.namePrefix}${String(n)}`
  const records = ((): Record<string, unknown>[] => {
    switch (kind.kind) {
      case 'stop-logging':
        return [userCall(n, at, `latency-attacker-${String(n)}`, 0, { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name } })]
      case 'listed-then-read':
        return [
          userCall(n, at, name, 0, { eventSource: 'secretsmanager.amazonaws.com', eventName: 'ListSecrets', readOnly: true, requestParameters: null }),
          userCall(n, at + 1000, name, 1, { eventSource: 'secretsmanager.amazonaws.com', eventName: 'GetSecretValue', readOnly: true, requestParameters: { secretId: 'prod/payments' } }),
        ]
      case 'federation-token':
        return [userCall(n, at, name, 0, { eventSource: 'sts.amazonaws.com', eventName: 'GetFederationToken', requestParameters: { name: 'weekend', durationSeconds: 129600 } })]
      case 'brute-force':
        return Array.from({ length: 5 }, (_, i) =>
          record(n, at + i * 1000, {
            userIdentity: { type: 'IAMUser', principalId: `AIDAGUESSED${String(n).padStart(9, '0')}`, accountId: ACCOUNT, accessKeyId: '', userName: name },
            eventSource: 'signin.amazonaws.com',
            eventName: 'ConsoleLogin',
            eventType: 'AwsConsoleSignIn',
            userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
            sourceIPAddress: `203.0.113.${String(n % 250)}`,
            responseElements: { ConsoleLogin: 'Failure' },
            additionalEventData: { MFAUsed: 'No' },
            errorMessage: 'Failed authentication',
            eventID: `latency-guess-${String(n)}-${String(i)}-${String(at)}`,
          }),
        )
    }
  })()
  return { attack: { kind: kind.kind, name, eventIds: records.map((r) => r.eventID as string) }, messages: records.map((r) => ({ key: name, value: JSON.stringify(r) })) }
}

async function query(store: Store, sql: string): Promise<Record<string, string>[]> {
  return (await store.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, string>>()
}

/** Whether `text` names this trail or user and not another whose name it starts (latency-trail-1 is not latency-trail-10). */
function named(text: string, name: string): boolean {
  return new RegExp(`\\b${name}\\b`).test(text)
}

/** For each attack alerted but not emailed: what routing decided for its alert, so a miss reads as a decision or a delay. */
async function undeliveredReasons(store: Store, attacks: Attack[]): Promise<string[]> {
  const missing = attacks.filter((a) => a.alerted !== undefined && a.delivered === undefined)
  if (missing.length === 0) return []
  const detectors = KINDS.map((k) => `'${k.detector}'`).join(',')
  const rows = await query(
    store,
    `SELECT a.title AS title, r.disposition AS disposition, r.reason AS reason FROM (SELECT alert_id, title FROM alerts FINAL WHERE detector IN (${detectors})) AS a
     LEFT JOIN (SELECT alert_id, toString(disposition) AS disposition, reason FROM alert_routes FINAL) AS r ON r.alert_id = a.alert_id`,
  )
  return missing.map((a) => {
    const row = rows.find((r) => named(r.title ?? '', a.name))
    return `${a.name}: ${row?.disposition ? `${row.disposition} (${row.reason ?? ''})` : 'not routed'}`
  })
}

const main = async (): Promise<void> => {
  const smtp = await startSmtpServer()
  const topic = `bench-latency-${Date.now().toString(36)}`
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()

  const dataDir = path.join(work, 'data')
  // Latency, not the hourly cap: every attack's email goes at once, as the first of an hour's would.
  const alertingFile = path.join(work, 'alerting.json')
  writeFileSync(alertingFile, JSON.stringify({ maxPerHour: 10_000 }))
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
      TRAILWATCH_ALERTING_FILE: alertingFile,
      // TRAILWATCH_LOG_LEVEL=debug shows each pass on stored events and its slowest detector.
      TRAILWATCH_LOG_LEVEL: process.env.TRAILWATCH_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const runFile = path.join(dataDir, 'run.json')
  while (!existsSync(runFile)) await sleep(200)
  const holder = JSON.parse(readFileSync(runFile, 'utf8')) as StoreHolder
  const { url } = holder
  while ((await fetch(`${url}/readyz`)).status !== 200) await sleep(200)
  // Read as any command reads the store run holds.
  const shared = await openSharedStore(holder, dataDir)

  const attacks: Attack[] = []
  smtp.onAccepted = (received) => {
    const text = received.mail.text ?? ''
    for (const a of attacks) if (a.delivered === undefined && named(text, a.name)) a.delivered = Date.now()
  }

  // The store, watched while the stream runs and after, until every attack is delivered.
  const stream = { producing: true }
  const watching = (async () => {
    let deadline = Infinity
    while (Date.now() < deadline && (stream.producing || attacks.some((a) => a.delivered === undefined || a.alerted === undefined || a.stored === undefined))) {
      if (!stream.producing && deadline === Infinity) deadline = Date.now() + 360_000
      const waiting = attacks.filter((a) => a.stored === undefined)
      const ids = waiting.flatMap((a) => a.eventIds.map((id) => `'${id}'`))
      if (ids.length) {
        const stored = new Map<string, number>()
        // Bounded in time, so the watching reads the last minutes of events, not all of them four times a second.
        const since = clickHouseTime(Math.min(...waiting.map((a) => a.produced)) - 60_000)
        for (const row of await query(shared, `SELECT event_id, toUnixTimestamp64Milli(min(ingested_at)) AS at FROM events WHERE event_time >= '${since}' AND event_id IN (${ids.join(',')}) GROUP BY event_id`)) stored.set(row.event_id ?? '', Number(row.at))
        for (const a of waiting) if (a.eventIds.every((id) => stored.has(id))) a.stored = Math.max(...a.eventIds.map((id) => stored.get(id) ?? 0))
      }
      // When an alert first shows, to the poll (a quarter of a second): a later run stores the alert again, and merges keep that row.
      const detectors = KINDS.map((k) => `'${k.detector}'`).join(',')
      for (const row of await query(shared, `SELECT DISTINCT title FROM alerts WHERE detector IN (${detectors}) AND title LIKE '%latency-%'`)) {
        for (const a of attacks) if (a.alerted === undefined && named(row.title ?? '', a.name)) a.alerted = Date.now()
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
    let injected: Omit<Attack, 'produced'> | undefined
    if (Date.now() >= nextAttack) {
      const next = attack(attacks.length, Date.now())
      injected = next.attack
      messages.push(...next.messages)
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
  const unexplained = await undeliveredReasons(shared, attacks)
  await shared.close()
  run.kill('SIGTERM')
  await once(run, 'exit')
  await smtp.close()

  const stage = (kind: AttackKind, label: string, pick: (a: Attack) => number | undefined): string => {
    const ofKind = attacks.filter((a) => a.kind === kind)
    const seconds = ofKind.flatMap((a) => {
      const at = pick(a)
      return at === undefined ? [] : [(at - a.produced) / 1000]
    })
    return `  ${label.padEnd(26)} p50 ${percentile(seconds, 50).toFixed(1).padStart(6)} s   p99 ${percentile(seconds, 99).toFixed(1).padStart(6)} s   ${String(seconds.length)} of ${String(ofKind.length)}`
  }
  console.log(`trailwatch run, ${String(Math.round(sent / producedFor))} events/s through Kafka for ${producedFor.toFixed(0)} s, an attack every ${String(every)} s`)
  for (const { kind, label } of KINDS) {
    console.log(`\n${label}:`)
    console.log(stage(kind, 'produced → stored', (a) => a.stored))
    console.log(stage(kind, 'produced → alerted', (a) => a.alerted))
    console.log(stage(kind, 'produced → delivered', (a) => a.delivered))
  }
  if (unexplained.length) console.log(`\nalerted, never emailed:\n${unexplained.map((line) => `  ${line}`).join('\n')}`)
  rmSync(work, { recursive: true, force: true })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
