import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { syntheticRecords } from '../src/simulate/records.js'
import { runCli, startCli } from './helpers/cli.js'
import { CompressionTypes } from 'kafkajs'
import { TEST_BROKERS, createTopic, produce, progress, testKafka, waitUntil } from './helpers/kafka.js'

const kafka = testKafka()

it('a worker killed with SIGKILL mid-stream and started again loses nothing; deduplicated, each event is stored once', async () => {
  const topic = await createTopic(kafka, 4)
  const total = 50_000
  await produce(
    kafka,
    topic,
    [...syntheticRecords({ count: total, seed: 21, startMs: Date.UTC(2026, 10, 1), stepMs: 50 })].map((record) => ({ value: JSON.stringify(record) })),
  )
  const group = `group-${randomBytes(4).toString('hex')}`
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-kill-'))
  // Small batches: many commits, so the kill lands between two of them.
  const env = { KAFKA_BROKERS: TEST_BROKERS.join(','), INGEST_MAX_BATCH: '2000' }
  const args = ['ingest', '--topic', topic, '--group', group, '--data-dir', dataDir]

  const first = startCli(args, { env })
  await waitUntil('the first worker has committed part of the stream', async () => {
    const { committed } = await progress(kafka, group, topic)
    return committed > 0
  })
  first.kill('SIGKILL')
  await once(first, 'exit')
  const atKill = await progress(kafka, group, topic)
  expect(atKill.committed).toBeLessThan(total)

  const second = startCli(args, { env })
  let stderr = ''
  second.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  await waitUntil('the second worker has committed the whole stream', async () => {
    const { committed, end } = await progress(kafka, group, topic)
    return committed === end
  })
  const stopped = Date.now()
  second.kill('SIGTERM')
  const [code] = (await once(second, 'exit')) as [number | null]
  expect(code, stderr).toBe(0)
  expect(Date.now() - stopped).toBeLessThan(30_000)

  const { stdout } = await runCli(['query', 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events FINAL', '--json', '--data-dir', dataDir])
  const counts = JSON.parse(stdout) as { rows: number | string; ids: number | string }
  expect([Number(counts.rows), Number(counts.ids)]).toEqual([total, total])
  // Each stored batch is journalled for a detector service in another process, the last one before exit.
  const journal = await runCli(['query', 'SELECT count() AS batches, toString(max(events_to)) AS until, (SELECT toString(max(event_time)) FROM events) AS last FROM stored_batches', '--json', '--data-dir', dataDir])
  const { batches, until, last } = JSON.parse(journal.stdout) as { batches: number | string; until: string; last: string }
  expect(Number(batches)).toBeGreaterThan(0)
  expect(until).toBe(last)
}, 180_000)

it('an ingest whose HTTP port is taken stops whole: one line, a non-zero status, and no member left in its group', async () => {
  const topic = await createTopic(kafka, 2)
  await produce(kafka, topic, [...syntheticRecords({ count: 100, seed: 31, startMs: Date.UTC(2026, 10, 1), stepMs: 50 })].map((record) => ({ value: JSON.stringify(record) })))
  const group = `group-${randomBytes(4).toString('hex')}`
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  const port = (taken.address() as AddressInfo).port
  try {
    const result = await runCli(['ingest', '--topic', topic, '--group', group, '--data-dir', mkdtempSync(path.join(tmpdir(), 'trailwatch-port-'))], {
      env: { KAFKA_BROKERS: TEST_BROKERS.join(','), TRAILWATCH_HTTP_PORT: String(port), TRAILWATCH_LOG_LEVEL: 'warn' },
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(new RegExp(`^trailwatch: cannot serve on 127\\.0\\.0\\.1:${String(port)} \\(EADDRINUSE\\)`))
    const admin = kafka.admin()
    await admin.connect()
    try {
      const { groups } = await admin.describeGroups([group])
      expect(groups[0]?.members ?? []).toEqual([])
    } finally {
      await admin.disconnect()
    }
  } finally {
    taken.close()
  }
})

it('honours SIGTERM while a partition holds a message of millions of values, and a second worker moves past it', async () => {
  const topic = await createTopic(kafka, 1)
  await produce(kafka, topic, [{ value: `[${'0,'.repeat(5_000_000)}0]` }], CompressionTypes.GZIP)
  await produce(kafka, topic, [...syntheticRecords({ count: 200, seed: 41, startMs: Date.UTC(2026, 10, 1), stepMs: 50 })].map((record) => ({ value: JSON.stringify(record) })))
  const group = `group-${randomBytes(4).toString('hex')}`
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-bomb-'))
  const args = ['ingest', '--topic', topic, '--group', group, '--data-dir', dataDir]
  const env = { KAFKA_BROKERS: TEST_BROKERS.join(','), TRAILWATCH_LOG_LEVEL: 'warn' }

  const first = startCli(args, { env })
  await waitUntil('the worker has read the message', async () => (await progress(kafka, group, topic)).committed > 0 || first.output().stderr.length > 0)
  first.kill('SIGTERM')
  const [code] = (await once(first, 'exit')) as [number | null]
  expect(code, first.output().stderr).toBe(0)

  const second = startCli(args, { env })
  await waitUntil('every offset is committed', async () => {
    const { committed, end } = await progress(kafka, group, topic)
    return committed === end
  })
  second.kill('SIGTERM')
  await once(second, 'exit')
  const { stdout } = await runCli(['query', 'SELECT uniqExact(event_id) AS ids FROM events', '--json', '--data-dir', dataDir])
  expect(Number((JSON.parse(stdout) as { ids: string }).ids)).toBe(200)
}, 180_000)
