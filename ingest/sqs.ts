import type { S3Client } from '@aws-sdk/client-s3'
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { awsRefusal, s3Client, sqsClient } from '../src/aws/clients.js'
import type { Store } from '../src/clickhouse/client.js'
import type { Config } from '../src/config.js'
import { AppError, errorMessage } from '../src/errors.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { metrics } from '../src/metrics.js'
import { readInputs, type BackfillOptions } from './backfill.js'
import { Decoder } from './decoder.js'
import { InputProducer } from './input-producer.js'
import { createKafka } from './kafka.js'
import type { InputFile } from './files.js'
import { openS3Object } from './s3.js'

/** An object S3 says was created: where, and its size and ETag when the notification gives them. */
export interface CreatedObject {
  bucket: string
  key: string
  size: number
  etag: string
}

const S3Record = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  s3: z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string(), size: z.number().optional(), eTag: z.string().optional() }) }),
})
const S3Notification = z.object({ Records: z.array(z.unknown()) })
const S3TestEvent = z.object({ Event: z.literal('s3:TestEvent') })
const EventBridgeObjectCreated = z.object({
  'detail-type': z.literal('Object Created'),
  detail: z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string(), size: z.number().optional(), etag: z.string().optional() }) }),
})
const SnsEnvelope = z.object({ Type: z.literal('Notification'), Message: z.string() })

/** S3 event notifications write keys URL-encoded, with a space as `+`. */
function notifiedKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '))
}

/** What a queue message holds: objects S3 announces (none for a test event or a removal), or a value to decode as input itself. */
export type MessageContents = { objects: CreatedObject[] } | { value: string }

/**
 * What a queue message holds: the objects an S3 event notification announces, sent directly or
 * through SNS (raw or wrapped), or an EventBridge `Object Created` event; anything else (a GuardDuty
 * finding or a CloudTrail call an EventBridge rule sends, or what is not JSON) is a value of its own,
 * unwrapped from SNS.
 */
export function messageContents(body: string): MessageContents {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { value: body }
  }
  const wrapped = SnsEnvelope.safeParse(parsed)
  if (wrapped.success) return messageContents(wrapped.data.Message)
  const bridged = EventBridgeObjectCreated.safeParse(parsed)
  if (bridged.success) {
    const { bucket, object } = bridged.data.detail
    return { objects: [{ bucket: bucket.name, key: object.key, size: object.size ?? 0, etag: object.etag ?? '' }] }
  }
  if (S3TestEvent.safeParse(parsed).success) return { objects: [] }
  const records = S3Notification.safeParse(parsed).data?.Records.map((record) => S3Record.safeParse(record).data) ?? []
  if (records.length === 0 || records.some((record) => record === undefined)) return { value: body }
  return {
    objects: records.flatMap((record) => {
      if (!record?.eventName.startsWith('ObjectCreated')) return []
      const { bucket, object } = record.s3
      return [{ bucket: bucket.name, key: notifiedKey(object.key), size: object.size ?? 0, etag: object.eTag ?? '' }]
    }),
  }
}

export interface SqsFollowerOptions extends Omit<BackfillOptions, 's3'> {
  sqs: SQSClient
  /** Where the announced objects are read. */
  objects: S3Client
  /** Where Kafka is configured: what messages hold goes on the CloudTrail topic for the ingest workers, instead of into the store. */
  producer?: InputProducer
  /** Seconds a received message stays hidden from other readers; extended while its objects are read. */
  visibilitySeconds?: number
}

/**
 * Follows queues fed by S3 notifications: each message's objects are read into the store (or onto
 * the CloudTrail topic, with a producer), and only then is the message deleted, so a crash loses
 * nothing (the message comes back) and duplicates nothing (events already stored are skipped). An
 * object that cannot be read goes to rejected input with its name and reason, and the queue moves on.
 */
export class SqsFollower {
  private readonly logger: Logger
  private readonly stopping = new AbortController()
  private readonly loops: Promise<void>[] = []
  /** One decoder for every message, started with the first: its worker threads are not started per object. */
  private decoder: Promise<Decoder> | undefined
  private fail: (err: Error) => void = () => undefined
  /** Rejects when a queue refuses in a way waiting cannot mend: it does not exist, or the credentials may not read it. */
  readonly failed = new Promise<never>((_, reject) => {
    this.fail = reject
  })

  constructor(
    private readonly store: Store,
    private readonly queues: string[],
    private readonly options: SqsFollowerOptions,
  ) {
    this.logger = moduleLogger(options.logger, 'ingest.sqs')
    this.failed.catch(() => undefined)
  }

  start(): void {
    for (const queue of this.queues) this.loops.push(this.follow(queue))
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await Promise.all(this.loops)
    await (await this.decoder)?.close()
    await this.options.producer?.close()
  }

  private stopped(): boolean {
    return this.stopping.signal.aborted
  }

  private async follow(queue: string): Promise<void> {
    const visibility = this.options.visibilitySeconds ?? 120
    while (!this.stopped()) {
      let messages: Message[]
      try {
        const received = await this.options.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: visibility }), { abortSignal: this.stopping.signal })
        messages = received.Messages ?? []
      } catch (err) {
        if (this.stopped()) return
        const refused = awsRefusal(err, 'sqs:ReceiveMessage')
        if (refused) {
          this.fail(new AppError('AWS', `${queue}: ${refused}`))
          return
        }
        this.logger.error({ queue, err: errorMessage(err) }, 'receiving from the queue failed; trying again')
        await sleep(5_000, undefined, { signal: this.stopping.signal }).catch(() => undefined)
        continue
      }
      for (const message of messages) {
        if (this.stopped()) return
        await this.handle(queue, message, visibility)
      }
    }
  }

  /** One message: its objects read and stored, then the message deleted; on failure it comes back later. */
  private async handle(queue: string, message: Message, visibility: number): Promise<void> {
    const { sqs } = this.options
    // Hidden for as long as its objects take to read, however large.
    const extend = setInterval(() => {
      void sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: visibility })).catch((err: unknown) => {
        this.logger.warn({ queue, err: errorMessage(err) }, 'extending a message’s visibility failed')
      })
    }, (visibility * 1000) / 2)
    try {
      const contents = messageContents(message.Body ?? '')
      const inputs = 'value' in contents ? [messageInput(queue, message, contents.value)] : contents.objects.map((object) => this.objectInput(object))
      if (inputs.length > 0) await this.take(inputs)
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: message.ReceiptHandle }))
      metrics.sqsMessages.inc({ outcome: 'value' in contents ? 'value' : inputs.length ? 'objects' : 'nothing' })
    } catch (err) {
      metrics.sqsMessages.inc({ outcome: 'failed' })
      this.logger.error({ queue, message: message.MessageId, err: errorMessage(err) }, 'a message’s objects were not stored; it comes back after its visibility timeout')
    } finally {
      clearInterval(extend)
    }
  }

  /** Stored, or produced and acknowledged: either way, safe to delete the message after. */
  private async take(inputs: InputFile[]): Promise<void> {
    if (this.options.producer) return this.options.producer.produce(inputs)
    this.decoder ??= Decoder.start(this.options)
    await readInputs(this.store, inputs, { ...this.options, decoder: await this.decoder })
  }

  private objectInput(object: CreatedObject): InputFile {
    return { path: `s3://${object.bucket}/${object.key}`, size: object.size, lineDelimited: false, version: object.etag, open: () => openS3Object(this.options.objects, object.bucket, object.key) }
  }
}

/** A message that is input itself: what it holds is stored, or rejected under the queue's name and the message's id. */
function messageInput(queue: string, message: Message, value: string): InputFile {
  const bytes = Buffer.from(value)
  return { path: `${queue} message ${message.MessageId ?? ''}`, size: bytes.length, lineDelimited: false, open: () => Promise.resolve({ chunks: Readable.from([bytes]), bytesRead: () => bytes.length }) }
}

/**
 * A follower of `queues` as configured: the SDK's clients, the ingest limits, the visibility
 * timeout; with Kafka configured, producing to the first CloudTrail topic.
 */
export function configuredFollower(config: Config, store: Store, logger: Logger, queues: string[], onStored?: (span: { from: Date; to: Date }) => void): SqsFollower {
  const { brokers, topics } = config.kafka
  const producer = brokers && topics[0] ? new InputProducer(createKafka(config.kafka, logger), store, { topic: topics[0], ...config.ingest.decode, brokers }) : undefined
  return new SqsFollower(store, queues, { sqs: sqsClient(), objects: s3Client(), visibilitySeconds: config.ingest.sqs.visibilitySeconds, maxBatch: config.ingest.maxBatch, ...config.ingest.decode, logger, onStored, producer })
}
