import { Partitioners, type Kafka, type Message } from 'kafkajs'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import type { NormalisedEvent } from '../src/cloudtrail/normalise.js'
import { JsonFramer } from '../src/cloudtrail/framing.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { listInputFiles, openInput } from './files.js'
import { connectTo } from './kafka.js'

/** The key a record is produced with: one principal's events stay in order on one partition. */
function recordKey(event: NormalisedEvent): string {
  return `${event.accountId}/${event.principalArn}`
}

/** The key of a value that is a record; none for one that is not (the workers judge and dead-letter it). */
export function recordKeyOf(bytes: Buffer): string | null {
  const decoded = decodeEvent(bytes)
  return decoded.ok ? recordKey(decoded.event) : null
}

export interface ProduceSummary {
  files: number
  sent: number
  /** Values that are not CloudTrail records: not sent. */
  skipped: number
  seconds: number
}

/**
 * Publishes the records of CloudTrail files, one record per message, keyed by account and principal
 * so that one principal's events stay in order on one partition. Each message is the record's
 * original bytes (or its EventBridge envelope).
 */
export async function produceFiles(
  kafka: Kafka,
  paths: string[],
  options: { topic: string; maxRecordBytes: number; logger: Logger; batchSize?: number; brokers?: string[]; onProgress?: (bytesDone: number, bytesTotal: number, sent: number) => void },
): Promise<ProduceSummary> {
  const started = performance.now()
  const logger = moduleLogger(options.logger, 'ingest.produce')
  // The Java client's partitioner: one principal's events land on the same partition whichever client sent them.
  const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await connectTo(producer, options.brokers)
  const summary = { files: 0, sent: 0, skipped: 0 }
  let messages: Message[] = []
  const send = async () => {
    if (messages.length === 0) return
    await producer.send({ topic: options.topic, messages, acks: -1 })
    summary.sent += messages.length
    messages = []
  }
  try {
    const files = await listInputFiles(paths)
    const bytesTotal = files.reduce((sum, file) => sum + file.size, 0)
    let bytesBefore = 0
    for (const file of files) {
      summary.files++
      if (file.refused) {
        summary.skipped++
        logger.warn({ file: file.path, reason: file.refused }, 'not sent')
        continue
      }
      const framer = new JsonFramer({ maxValueBytes: options.maxRecordBytes, lineDelimited: file.lineDelimited })
      const input = await openInput(file)
      for await (const chunk of input.chunks) {
        for (const item of framer.push(chunk)) {
          const decoded = item.kind === 'value' ? decodeEvent(item.bytes) : undefined
          if (item.kind !== 'value' || !decoded?.ok) {
            summary.skipped++
            logger.warn({ file: file.path, line: item.location.line, reason: item.kind === 'reject' ? item.reason : decoded?.ok === false ? decoded.reason : '' }, 'not a CloudTrail record; not sent')
            continue
          }
          messages.push({ key: recordKey(decoded.event), value: item.bytes })
          if (messages.length >= (options.batchSize ?? 1000)) await send()
        }
        options.onProgress?.(bytesBefore + input.bytesRead(), bytesTotal, summary.sent + messages.length)
      }
      summary.skipped += framer.end().length
      bytesBefore += file.size
    }
    await send()
  } finally {
    await producer.disconnect()
  }
  return { ...summary, seconds: (performance.now() - started) / 1000 }
}
