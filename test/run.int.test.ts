import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { runCli, startCli, type RunningCli } from './helpers/cli.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { INVICTUS, STRATUS } from './helpers/datasets.js'
import { createTopic, produce, TEST_BROKERS, testKafka } from './helpers/kafka.js'

let running: RunningCli | undefined
afterEach(async () => {
  if (running?.exitCode === null) {
    running.kill('SIGTERM')
    await once(running, 'exit')
  }
  running = undefined
})

/** Starts `trailwatch run` and waits until it says where its endpoints are. */
async function startRun(env: Record<string, string>): Promise<string> {
  running = startCli(['run'], { env })
  const file = path.join(env.TRAILWATCH_DATA_DIR ?? '', 'run.json')
  await expect.poll(() => existsSync(file), { timeout: 60_000, interval: 200 }).toBe(true)
  return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url
}

async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

it('serves health and metrics while it runs, counts inbox events as they flow, and lets every command use the store it holds', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-run-'))
  const env = { TRAILWATCH_DATA_DIR: path.join(dir, 'data'), TRAILWATCH_DEMO: 'false' }
  const url = await startRun(env)
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
  expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', checks: { store: true, disk: true, inbox: true } })
  expect(await counter(url, 'trailwatch_events_stored_total')).toBe(0)

  // Two files of the real datasets, dropped one after the other.
  const inbox = path.join(dir, 'data', 'inbox')
  const [first, second] = readdirSync(STRATUS).filter((f) => f.endsWith('.json'))
  copyFileSync(path.join(STRATUS, first ?? ''), path.join(inbox, 'one.json'))
  await expect.poll(() => counter(url, 'trailwatch_inbox_files_total'), { timeout: 30_000, interval: 250 }).toBe(1)
  const afterOne = await counter(url, 'trailwatch_events_stored_total')
  expect(afterOne).toBeGreaterThan(0)
  copyFileSync(path.join(STRATUS, second ?? ''), path.join(inbox, 'two.json'))
  await expect.poll(() => counter(url, 'trailwatch_inbox_files_total'), { timeout: 30_000, interval: 250 }).toBe(2)
  expect(await counter(url, 'trailwatch_events_stored_total')).toBeGreaterThan(afterOne)
  expect(await counter(url, 'trailwatch_insert_duration_seconds_count')).toBeGreaterThanOrEqual(2)

  // The embedded store is held by `run`: status asks the running process instead.
  const status = await runCli(['status', '--json'], { env })
  expect(status.code).toBe(0)
  const reported = (JSON.parse(status.stdout) as { sources: { account: string; last_event: string | null }[] }).sources
  expect(reported.length).toBeGreaterThan(0)
  expect(reported.every((s) => /^\d{12}$/.test(s.account) && s.last_event !== null)).toBe(true)

  // So does a query, with the engine's own error for bad SQL.
  const query = await runCli(['query', 'SELECT uniqExact(event_id) AS events FROM events', '--json'], { env })
  expect(query.stdout.trim()).toBe(JSON.stringify({ events: await counter(url, 'trailwatch_events_stored_total') }))
  const bad = await runCli(['query', 'SELECT nonsense FROM events'], { env })
  expect([bad.code, bad.stderr]).toEqual([1, expect.stringMatching(/^trailwatch: .*nonsense/) as unknown])

  // A command that writes works through it too: the file the inbox took is stored already.
  const backfill = await runCli(['backfill', path.join(STRATUS, first ?? ''), '--json'], { env, cwd: dir })
  expect([backfill.code, backfill.stderr]).toEqual([0, ''])
  expect(JSON.parse(backfill.stdout)).toMatchObject({ stored: 0, duplicate: afterOne })
  // A service that would do run's own work says so, and what to do instead.
  const ingest = await runCli(['ingest'], { env: { ...env, KAFKA_BROKERS: '127.0.0.1:1' }, cwd: dir })
  expect([ingest.code, ingest.stderr]).toEqual([
    1,
    `trailwatch: the data directory data is in use by trailwatch run (pid ${String(running?.pid)}), which already ingests, detects and serves the console. Stop it (Ctrl-C) before running this command, or give this command a store of its own (--data-dir or TRAILWATCH_DATA_DIR).\n`,
  ])

  running?.kill('SIGTERM')
  const [code] = (await once(running as ChildProcess, 'exit')) as [number | null]
  expect(code).toBe(0)
  expect(existsSync(path.join(dir, 'data', 'run.json'))).toBe(false)
  expect(running?.output().stdout).toMatch(/\nstopped the detector schedules, the alerter and reports, the inbox and the endpoints\n$/)
})

it('keeps working without Kafka when its brokers cannot be reached, says so in readiness and its log once, and stops at once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-run-no-kafka-'))
  const env = { TRAILWATCH_DATA_DIR: path.join(dir, 'data'), TRAILWATCH_DEMO: 'false', KAFKA_BROKERS: '127.0.0.1:9', TRAILWATCH_LOG_FORMAT: 'json' }
  const url = await startRun(env)
  const unreachable = 'cannot reach the Kafka brokers 127.0.0.1:9 (KAFKA_BROKERS): Connection error: connect ECONNREFUSED 127.0.0.1:9'
  expect((await fetch(`${url}/readyz`)).status).toBe(503)
  // The client retries for a few seconds before it gives the cause.
  await expect.poll(async () => (await fetch(`${url}/readyz`)).json(), { timeout: 30_000, interval: 250 }).toEqual({ status: 'not ready', checks: { store: true, disk: true, kafka: unreachable, inbox: true } })

  // The inbox goes on working meanwhile.
  copyFileSync(path.join(STRATUS, readdirSync(STRATUS).find((f) => f.endsWith('.json')) ?? ''), path.join(dir, 'data', 'inbox', 'one.json'))
  await expect.poll(() => counter(url, 'trailwatch_inbox_files_total'), { timeout: 30_000, interval: 250 }).toBe(1)

  // While it is between two attempts to connect: a hang would end in the test's timeout.
  running?.kill('SIGINT')
  const [code] = (await once(running as ChildProcess, 'exit')) as [number | null]
  expect(code).toBe(0)
  const logged = (running?.output().stderr ?? '').split('\n').filter((line) => line.includes('Kafka ingest cannot start'))
  expect(logged).toHaveLength(1)
  expect(JSON.parse(logged[0] ?? '')).toMatchObject({ level: 50, err: unreachable })
  expect(running?.output().stdout).toMatch(/\nstopped the detector schedules, the alerter and reports, the inbox, Kafka ingest and the endpoints\n$/)
})

it('reads Kafka too when KAFKA_BROKERS is set, and counts what it consumed', async () => {
  const kafka = testKafka()
  const topic = await createTopic(kafka, 2)
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-run-kafka-'))
  const env = {
    TRAILWATCH_DATA_DIR: path.join(dir, 'data'),
    TRAILWATCH_DEMO: 'false',
    KAFKA_BROKERS: TEST_BROKERS.join(','),
    TRAILWATCH_KAFKA_TOPICS: topic,
    TRAILWATCH_KAFKA_GROUP: `run-${topic}`,
  }
  const url = await startRun(env)
  await produce(kafka, topic, [...syntheticRecords({ count: 500, seed: 5, startMs: Date.parse('2026-11-20T00:00:00Z'), stepMs: 1000 })].map((r) => ({ value: JSON.stringify(r) })))

  await expect.poll(() => counter(url, 'trailwatch_events_stored_total'), { timeout: 60_000, interval: 250 }).toBe(500)
  const text = await (await fetch(`${url}/metrics`)).text()
  expect(text).toContain(`trailwatch_kafka_messages_total{topic="${topic}"} 500`)
  // Lag is measured from the committed offsets every few seconds.
  const lags = async () => (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((line) => line.startsWith(`trailwatch_kafka_consumer_lag{topic="${topic}"`)).sort()
  await expect.poll(lags, { timeout: 20_000, interval: 250 }).toEqual([`trailwatch_kafka_consumer_lag{topic="${topic}",partition="0"} 0`, `trailwatch_kafka_consumer_lag{topic="${topic}",partition="1"} 0`])
  expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', checks: { store: true, disk: true, kafka: true, inbox: true } })
})

it('looks at a file of old events dropped in its inbox as detect --from would, though its schedule is long past them', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-run-history-'))
  const env = { TRAILWATCH_DATA_DIR: path.join(dir, 'data'), TRAILWATCH_DEMO: 'false' }
  await startRun(env)
  // The invictus logs of July 2023: three years before any window the schedule runs now.
  for (const file of readdirSync(INVICTUS).filter((f) => f.endsWith('.json'))) copyFileSync(path.join(INVICTUS, file), path.join(dir, 'data', 'inbox', file))
  const alerts = async () => {
    const result = await runCli(['query', "SELECT detector, severity, title FROM alerts FINAL WHERE detector = 'cloudtrail-tampering' AND severity = 'critical'", '--json'], { env })
    return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { title: string })
  }
  // Both trails of 12:08:04 arrive in two files: the windows that saw one without the other are judged again once both are stored.
  await expect.poll(async () => (await alerts()).map((a) => a.title), { timeout: 180_000, interval: 1000 }).toEqual([
    'arn:aws:iam::123837392027:user/bert-jan called DeleteTrail on stratus-red-team-ctes-trail-qyxyekjbtk, stratus-red-team-ctlr-trail-zqfsvooxqj 2 times',
  ])
}, 240_000)


it('is not ready while its disk is short of room, and says how much is left', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-run-disk-'))
  // More free space than any disk has: the disk counts as full.
  const url = await startRun({ TRAILWATCH_DATA_DIR: path.join(dir, 'data'), TRAILWATCH_DEMO: 'false', TRAILWATCH_MIN_FREE_DISK_BYTES: String(2 ** 52) })
  const ready = await fetch(`${url}/readyz`)
  expect(ready.status).toBe(503)
  const { checks } = (await ready.json()) as { checks: Record<string, unknown> }
  expect(checks.disk).toMatch(/^the disk of .* has \d+ MiB free, under the \d+ MiB of TRAILWATCH_MIN_FREE_DISK_BYTES$/)
})
