import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, type S3Client } from '@aws-sdk/client-s3'
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { afterAll, beforeAll } from 'vitest'
import { s3Client, sqsClient } from '../../src/aws/clients.js'
import { ACCOUNT, apiCall, iamUser, type RawEvent } from './events.js'
import { startMoto, type Moto } from './moto.js'

/** `count` calls by dana, with event ids `TAG-N`. */
export function calls(count: number, tag: string): RawEvent[] {
  return Array.from({ length: count }, (_, i) => apiCall(Date.parse('2026-11-20T10:00:00Z') + i * 1000, iamUser('dana'), '198.51.100.7', { eventID: `${tag}-${String(i)}`, recipientAccountId: ACCOUNT }))
}

/** Where CloudTrail puts a log file of the account's trail on 2026-11-20. */
export const logKey = (serial: string) => `AWSLogs/${ACCOUNT}/CloudTrail/us-east-1/2026/11/20/${ACCOUNT}_CloudTrail_us-east-1_20261120T1005Z_${serial}.json.gz`

/** A bucket that tells a queue of every object created, as an organisation trail's bucket is set up; the queue's URL. */
export async function notifyingBucket(s3: S3Client, sqs: SQSClient, bucket: string): Promise<string> {
  const { QueueUrl: queue = '' } = await sqs.send(new CreateQueueCommand({ QueueName: `${bucket}-events` }))
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['QueueArn'] }))
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ QueueArn: Attributes?.QueueArn, Events: ['s3:ObjectCreated:*'] }] } }))
  return queue
}

/** Messages in the queue, visible or being handled. */
export async function waiting(sqs: SQSClient, queue: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
}

export async function until(what: string, done: () => Promise<boolean>, ms = 60_000): Promise<void> {
  for (const started = Date.now(); !(await done()); ) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A moto server for the test file and the SDK's S3 and SQS clients aimed at it, each ready once the file's tests start. */
export function trailBucketEmulator(): { moto: Moto; s3: S3Client; sqs: SQSClient } {
  const emulator = {} as { moto: Moto; s3: S3Client; sqs: SQSClient }
  beforeAll(async () => {
    emulator.moto = await startMoto()
    Object.assign(process.env, emulator.moto.env)
    emulator.s3 = s3Client()
    emulator.sqs = sqsClient()
  }, 120_000)
  afterAll(async () => {
    emulator.s3.destroy()
    emulator.sqs.destroy()
    await emulator.moto.stop()
  })
  return emulator
}
