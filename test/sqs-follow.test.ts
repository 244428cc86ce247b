import { PutObjectCommand } from '@aws-sdk/client-s3'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { once } from 'node:events'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { messageContents, SqsFollower } from '../ingest/sqs.js'
import { metrics } from '../src/metrics.js'
import { runCli, startCli } from './helpers/cli.js'
import { guardDutyEvent } from './helpers/events.js'
import { openTestStore, queryRows, testDataDir, testLogger, type TestStore } from './helpers/store.js'
import { calls, logKey, notifyingBucket, trailBucketEmulator, until, waiting } from './helpers/trail-bucket.js'

const aws = trailBucketEmulator()

const counts = async (store: TestStore) => (await queryRows<{ rows: string; ids: string }>(store, 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events'))[0]

describe('the messages a queue holds', () => {
  it('name the objects created, sent directly, through SNS or by EventBridge, and nothing for a test event', () => {
    const direct = JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'trail' }, object: { key: 'AWSLogs/a+b%3Dc.json.gz', size: 10, eTag: 'e1' } } }, { eventSource: 'aws:s3', eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'trail' }, object: { key: 'gone' } } }] })
    expect(messageContents(direct)).toEqual({ objects: [{ bucket: 'trail', key: 'AWSLogs/a b=c.json.gz', size: 10, etag: 'e1' }] })
    expect(messageContents(JSON.stringify({ Type: 'Notification', Message: direct }))).toEqual(messageContents(direct))
    const bridged = JSON.stringify({ 'detail-type': 'Object Created', source: 'aws.s3', detail: { bucket: { name: 'trail' }, object: { key: 'AWSLogs/x.json.gz', size: 5, etag: 'e2' } } })
    expect(messageContents(bridged)).toEqual({ objects: [{ bucket: 'trail', key: 'AWSLogs/x.json.gz', size: 5, etag: 'e2' }] })
    expect(messageContents(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'trail' }))).toEqual({ objects: [] })
  })

  it('are values of their own otherwise: a finding an EventBridge rule sends, through SNS or not, records, or what is not JSON', () => {
    const finding = JSON.stringify(guardDutyEvent({ id: 'f1', type: 'Recon:IAMUser/MaliciousIPCaller', severity: 5, updatedAt: '2026-11-20T10:00:00.000Z' }))
    expect(messageContents(finding)).toEqual({ value: finding })
    expect(messageContents(JSON.stringify({ Type: 'Notification', Message: finding }))).toEqual({ value: finding })
    const records = JSON.stringify({ Records: calls(2, 'direct') })
    expect(messageContents(records)).toEqual({ value: records })
    expect(messageContents('not json')).toEqual({ value: 'not json' })
  })
})

describe('following a queue of S3 notifications', () => {
  it('stores every announced object once, records what cannot be read, and empties the queue', async () => {
    const queue = await notifyingBucket(aws.s3, aws.sqs, 'trail-follow')
    const store = await openTestStore()
    for (const n of [1, 2, 3]) await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-follow', Key: logKey(`good000${String(n)}`), Body: gzipSync(JSON.stringify({ Records: calls(20, `good-${String(n)}`) })) }))
    // The same object written again sends a second notification: nothing is stored twice.
    await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-follow', Key: logKey('good0001'), Body: gzipSync(JSON.stringify({ Records: calls(20, 'good-1') })) }))
    await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-follow', Key: logKey('poison01'), Body: Buffer.from('<html>not a log file</html>') }))
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'trail-follow' }, object: { key: logKey('vanished'), size: 10 } } }] }) }))
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: 'not json at all' }))
    // The queue an EventBridge rule feeds GuardDuty's findings into can be the same one.
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify(guardDutyEvent({ id: 'f-dana', type: 'UnauthorizedAccess:IAMUser/MaliciousIPCaller', severity: 8, updatedAt: '2026-11-20T10:30:00.000Z' })) }))
    const follower = new SqsFollower(store, [queue], { sqs: aws.sqs, objects: aws.s3, visibilitySeconds: 30, maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger })
    follower.start()
    try {
      await until('the queue to empty', async () => (await waiting(aws.sqs, queue)) === 0)
    } finally {
      await follower.stop()
    }
    expect(await counts(store)).toEqual({ rows: 60, ids: 60 })
    expect(await queryRows(store, 'SELECT finding_id FROM guardduty_findings')).toEqual([{ finding_id: 'f-dana' }])
    // Five notifications of objects (one written twice) and the made-up one; the finding and the message that is not JSON; moto's test event announces nothing.
    const handled: Record<string, number> = Object.fromEntries((await metrics.sqsMessages.get()).values.map((v) => [String(v.labels.outcome), v.value]))
    expect(handled).toEqual({ objects: 6, value: 2, nothing: 1 })
    const rejected = await queryRows<{ source: string; reason: string }>(store, 'SELECT source, reason FROM rejected_input ORDER BY source')
    expect(rejected.map((r) => [r.source.replace(/^.*\//, ''), r.reason.slice(0, 30)])).toEqual([
      // The queue's URL and the message's id name the message that is not JSON; the objects are named by their keys.
      [expect.stringMatching(/^trail-follow-events message [\w-]+$/) as unknown, 'not JSON'],
      [expect.stringContaining('_poison01.json.gz') as unknown, 'not JSON'],
      [expect.stringContaining('_vanished.json.gz') as unknown, 'cannot read it: The specified '],
    ])
    await store.close()
  }, 120_000)

  it('loses and duplicates nothing when the reader is killed while it reads, and restarted', async () => {
    const queue = await notifyingBucket(aws.s3, aws.sqs, 'trail-kill')
    const objects = 30
    for (let n = 0; n < objects; n++) await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-kill', Key: logKey(`kill${String(n).padStart(4, '0')}`), Body: gzipSync(JSON.stringify({ Records: calls(500, `kill-${String(n)}`) })) }))
    const dataDir = testDataDir()
    const env = { ...aws.moto.env, TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_SQS_VISIBILITY_SECONDS: '3', INGEST_MAX_BATCH: '200' }
    const first = startCli(['ingest', '--sqs', queue], { env })
    await until('some objects to be read', async () => (await waiting(aws.sqs, queue)) <= objects - 5 || first.exitCode !== null)
    first.kill('SIGKILL')
    await once(first, 'exit')
    const second = startCli(['ingest', '--sqs', queue], { env })
    await until('the queue to empty', async () => (await waiting(aws.sqs, queue)) === 0, 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; the restarted reader said:\n${second.output().stderr.slice(-2000)}`)
    })
    second.kill('SIGTERM')
    await once(second, 'exit')
    expect(second.exitCode).toBe(0)
    const { stdout } = await runCli(['query', 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events', '--json'], { env })
    expect(JSON.parse(stdout)).toEqual({ rows: objects * 500, ids: objects * 500 })
  }, 180_000)
})

describe('a queue that cannot be followed', () => {
  const noCredentials = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'no-such-profile', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' }

  it('stops the reader with one line naming the queue and what is wrong', async () => {
    const queue = await notifyingBucket(aws.s3, aws.sqs, 'trail-refused')
    const missing = `${aws.moto.url}/123456789012/no-such-queue`
    const gone = await runCli(['ingest', '--sqs', missing, '--data-dir', testDataDir()], { env: aws.moto.env })
    // The service's log lines come first; the error is the last line, alone.
    const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1)
    expect([gone.code, lastLine(gone.stderr)]).toEqual([1, `trailwatch: ${missing}: no such queue`])
    const anonymous = await runCli(['ingest', '--sqs', queue, '--data-dir', testDataDir()], { env: { ...aws.moto.env, ...noCredentials } })
    expect([anonymous.code, lastLine(anonymous.stderr)]).toEqual([1, `trailwatch: ${queue}: no AWS credentials found (environment, profile, SSO, container or instance role)`])
  }, 60_000)
})
