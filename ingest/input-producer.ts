import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs'
import type { Store } from '../src/clickhouse/client.js'
import { insertRejected, type RejectedInput } from '../src/clickhouse/events.js'
import { JsonFramer, type Framed } from '../src/cloudtrail/framing.js'
import { errorMessage } from '../src/errors.js'
import { REJECTIONS_PER_FILE } from './backfill.js'
import { DECODE_DEFAULTS } from './decoding.js'
import type { InputFile } from './files.js'
import { connectTo } from './kafka.js'
import { recordKeyOf } from './produce.js'

/** Messages sent in one request. */
const BATCH = 500
const OPEN_BRACE = 0x7b


/**
 * Puts the values of inputs (S3 objects a queue announced, messages that are input themselves) on
 * the CloudTrail topic, one message each, so the ingest workers store them as they store every
 * other message: one pipeline, one writer. `produce` returns once every in-sync replica has them.
 * The workers judge each value (and dead-letter what is not a record); what cannot even be read
 * into values (an object that is gone, a value too large) is recorded here, in rejected input.
 */
export class InputProducer {
  private readonly producer: Producer
  private connected: Promise<void> | undefined

  constructor(
    kafka: Kafka,
    private readonly store: Store,
    private readonly options: { topic: string; maxRecordBytes: number; maxDocumentValues?: number; brokers?: string[] },
  ) {
    // The Java client's partitioner, as `produce` uses: the same key lands on the same partition whoever sends it.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  }

  async produce(inputs: InputFile[]): Promise<void> {
    this.connected ??= connectTo(this.producer, this.options.brokers)
    await this.connected
    for (const input of inputs) await this.produceInput(input)
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect()
  }

  /**
   * One input's values onto the topic, within the decoder's bounds: a document of more values than a
   * decoder takes is cut there, a value that is not an object (never a record) is not sent, and past
   * a thousand rejections they are counted, not listed. A small gzip of a million numbers must not
   * become a million messages.
   */
  private async produceInput(input: InputFile): Promise<void> {
    const rejected: RejectedInput[] = []
    let more = 0
    const reject = (location: string, reason: string, bytes: Buffer = Buffer.alloc(0), size = 0) => {
      if (rejected.length < REJECTIONS_PER_FILE) rejected.push({ source: input.path, location, reason, bytes, size })
      else more++
    }
    let messages: Message[] = []
    const take = async (items: Iterable<Framed>) => {
      for (const item of items) {
        const location = `record ${String(item.location.index + 1)}, line ${String(item.location.line)}`
        if (item.kind === 'reject') reject(location, item.reason, item.prefix, item.size)
        else if (item.bytes[0] !== OPEN_BRACE) reject(location, 'not a JSON object', item.bytes, item.bytes.length)
        else messages.push({ key: recordKeyOf(item.bytes), value: item.bytes })
        if (messages.length >= BATCH) {
          await this.send(messages)
          messages = []
        }
      }
    }
    const opened = input.open ? await input.open().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))) : new Error('not a remote input')
    if (opened instanceof Error) reject('whole file', `cannot read it: ${errorMessage(opened)}`)
    else {
      const framer = new JsonFramer({ maxValueBytes: this.options.maxRecordBytes, lineDelimited: input.lineDelimited, maxDocumentValues: this.options.maxDocumentValues ?? DECODE_DEFAULTS.maxDocumentValues })
      try {
        for await (const chunk of opened.chunks) await take(framer.push(chunk))
        await take(framer.end())
      } catch (err) {
        // What was read is sent; the rest is named, as a backfill names it.
        reject('rest of file', `cannot read the file: ${errorMessage(err)}`)
      }
    }
    await this.send(messages)
    if (more > 0) rejected.push({ source: input.path, location: 'whole file', reason: `${String(more)} more rejected values, counted but not recorded one by one; the first ${String(REJECTIONS_PER_FILE)} show why`, bytes: Buffer.alloc(0), size: 0 })
    await insertRejected(this.store, rejected, Date.now())
  }

  private async send(messages: Message[]): Promise<void> {
    if (messages.length > 0) await this.producer.send({ topic: this.options.topic, messages, acks: -1 })
  }
}
