import { PutObjectCommand } from '@aws-sdk/client-s3'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { once } from 'node:events'
import { gzipSync } from 'node:zlib'
import { expect, it } from 'vitest'
import { runCli, startCli } from './helpers/cli.js'
import { createTopic, TEST_BROKERS, testKafka } from './helpers/kafka.js'
import { testDataDir } from './helpers/store.js'
import { calls, logKey, notifyingBucket, trailBucketEmulator, until, waiting } from './helpers/trail-bucket.js'

const aws = trailBucketEmulator()

it('with Kafka configured, puts what a queue announces on the CloudTrail topic, and the ingest workers store it', async () => {
  const queue = await notifyingBucket(aws.s3, aws.sqs, 'trail-kafka')
  for (const n of [1, 2, 3]) await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-kafka', Key: logKey(`good000${String(n)}`), Body: gzipSync(JSON.stringify({ Records: calls(20, `kafka-${String(n)}`) })) }))
  await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-kafka', Key: logKey('poison01'), Body: Buffer.from('<html>not a log file</html>') }))
  // 1 KB of gzip holding half a million numbers: not half a million messages.
  await aws.s3.send(new PutObjectCommand({ Bucket: 'trail-kafka', Key: logKey('numbers1'), Body: gzipSync(`[${'0,'.repeat(500_000)}0]`) }))
  await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'trail-kafka' }, object: { key: logKey('vanished'), size: 10 } } }] }) }))
  const kafka = testKafka()
  const topic = await createTopic(kafka, 2)
  const env = { ...aws.moto.env, TRAILWATCH_DATA_DIR: testDataDir(), TRAILWATCH_DEMO: 'false', KAFKA_BROKERS: TEST_BROKERS.join(','), TRAILWATCH_KAFKA_TOPICS: topic, TRAILWATCH_KAFKA_GROUP: `group-${topic}`, TRAILWATCH_SQS_QUEUE_URLS: queue }
  const running = startCli(['run'], { env })
  try {
    await until('the queue to empty', async () => (await waiting(aws.sqs, queue)) === 0, 90_000)
    const stored = async () => JSON.parse((await runCli(['query', 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events', '--json'], { env })).stdout || '{}') as unknown
    await until('the workers to store the records', async () => JSON.stringify(await stored()) === JSON.stringify({ rows: 60, ids: 60 }), 60_000)
    // They went by the topic: one message a record.
    const admin = kafka.admin()
    await admin.connect()
    const offsets = await admin.fetchTopicOffsets(topic)
    await admin.disconnect()
    expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(60)
    const rejected = await runCli(['query', "SELECT replaceRegexpOne(source, '^.*_', '') AS object, count() AS n, any(substring(reason, 1, 15)) AS why FROM rejected_input WHERE reason NOT LIKE '%more rejected%' GROUP BY object ORDER BY object", '--json'], { env })
    expect(rejected.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      // The first thousand of the numbers' rejections are kept; the rest are counted in one more line.
      { object: 'numbers1.json.gz', n: 1000, why: 'not a JSON obje' },
      { object: 'poison01.json.gz', n: 1, why: 'not JSON' },
      { object: 'vanished.json.gz', n: 1, why: 'cannot read it:' },
    ])
  } finally {
    running.kill('SIGTERM')
    await once(running, 'exit')
  }
  expect(running.exitCode).toBe(0)
}, 240_000)
