import { setTimeout as sleep } from 'node:timers/promises'
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage, type Message, type Producer } from 'kafkajs'
import type { Store } from '../src/clickhouse/client.js'
import type { RejectedInput } from '../src/clickhouse/events.js'
import { errorMessage } from '../src/errors.js'
import { metrics } from '../src/metrics.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { Decoder, decodedLines } from './decoder.js'
import type { Decoded, DecodeLimits } from './decoding.js'
import { EventWriter } from './event-writer.js'
import { connectTo } from './kafka.js'

export interface IngestOptions extends DecodeLimits {
  topics: string[]
  group: string
  deadLetterTopic: string
  maxBatch: number
  flushMs: number
  logger: Logger
  /** For messages: the brokers the client was given. */
  brokers?: string[]
  /** How often a line with rates, lag and latency is logged. */
  statsIntervalMs?: number
  /** How long a shutdown waits for the last batch to be stored before giving up on it. */
  shutdownTimeoutMs?: number
  /** Retry delay of the store's writes; they are retried until they pass. */
  retryDelayMs?: number
  /** Told the span of event times of each batch once it is stored. */
  onStored?: (span: { from: Date; to: Date }) => void
  /** Not ready once inserts have failed, or nothing was committed while behind, for this long. */
  stallMs?: number
  /** How often the lag behind each partition's end is measured from the committed offsets. */
  lagIntervalMs?: number
}

/** Fetched batches being decoded or handed to the writer at once: enough to overlap fetching with decoding. */
const BATCHES_UNDER_WAY = 4

/** The next offset of a partition, committed once everything before it is stored. */
interface Checkpoint {
  topic: string
  partition: number
  offset: string
}

export interface IngestStats {
  messages: number
  events: number
  deadLetters: number
  /** `topic/partition` this worker has been assigned, ever. */
  partitionsSeen: Set<string>
  /** Messages behind the end of each partition at the last fetch. */
  lag: Map<string, number>
}

/**
 * One ingest worker: a member of the consumer group that reads CloudTrail messages (a record, an
 * EventBridge envelope or a whole S3 log file each) and writes them to the store.
 *
 * At least once, nothing lost: offsets are committed only after every event before them is in the
 * store. Fetching goes on while a batch is being inserted; a store that fails is retried until it
 * passes, while the worker keeps its place in the group. A message that cannot become an event goes
 * to the dead-letter topic (original bytes; reason and origin in headers) and to rejected input,
 * both acknowledged before its offset is committed.
 */
export class IngestWorker {
  readonly stats: IngestStats = { messages: 0, events: 0, deadLetters: 0, partitionsSeen: new Set(), lag: new Map() }

  private readonly consumer: Consumer
  private readonly producer: Producer
  private readonly admin: Admin
  /** Ends the writer's waiting for a store that is down, when a shutdown cannot wait any longer. */
  private readonly stopWriting = new AbortController()
  /** When offsets were last committed, or the worker was last found with nothing to do. */
  private lastProgressAt = Date.now()
  private lagProblem: string | undefined
  /** `topic/partition` this worker holds now: its readiness judges only their lag. */
  private readonly assigned = new Set<string>()
  private readonly writer: EventWriter<Checkpoint>
  private readonly logger: Logger
  private stopping = false
  private consuming = false
  /** Whether the worker has joined its consumer group (with or without partitions): ready to consume. */
  joined = false
  /** The last fetched batch's way to the writer; each waits for the one fetched before it. */
  private handling: Promise<void> = Promise.resolve()
  /** Batches fetched and not yet handed over to the writer. */
  private underWay: Promise<void>[] = []
  private timers: NodeJS.Timeout[] = []
  private failure: ((err: Error) => void) | undefined
  private decoder: Decoder | undefined
  /** Settles when the worker fails for good; `stop()` ends the worker without it settling. */
  readonly failed: Promise<never>

  constructor(
    kafka: Kafka,
    store: Store,
    private readonly options: IngestOptions,
  ) {
    this.logger = moduleLogger(options.logger, 'ingest.consumer')
    this.consumer = kafka.consumer({
      groupId: options.group,
      // Large fetches make large inserts: about 10k CloudTrail records per partition.
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
    })
    this.producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
    this.admin = kafka.admin()
    this.writer = new EventWriter<Checkpoint>(store, {
      maxBatch: options.maxBatch,
      logger: this.logger,
      maxAttempts: Infinity,
      retryDelayMs: options.retryDelayMs,
      skipStored: false,
      onWritten: (checkpoints) => this.commit(checkpoints),
      onStored: options.onStored,
      signal: this.stopWriting.signal,
    })
    this.failed = new Promise<never>((_, reject) => {
      this.failure = reject
    })
    this.failed.catch(() => undefined)
  }

  get totals() {
    return this.writer.totals
  }

  async start(): Promise<void> {
    await connectTo(this.producer, this.options.brokers)
    await connectTo(this.consumer, this.options.brokers)
    await connectTo(this.admin, this.options.brokers)
    this.decoder = await Decoder.start(this.options)
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true
      this.assigned.clear()
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          this.stats.partitionsSeen.add(`${topic}/${partition}`)
          this.assigned.add(`${topic}/${partition}`)
        }
      }
      this.logger.info({ assignment: payload.memberAssignment }, 'joined the consumer group')
    })
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fail(payload.error)
    })
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: true })
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consumeBatch(payload),
    })
    this.consuming = true
    this.timers.push(
      setInterval(() => {
        this.writer.flush().catch((err: unknown) => {
          this.fail(err)
        })
      }, this.options.flushMs),
    )
    this.timers.push(
      setInterval(() => {
        void this.measureLag()
      }, this.options.lagIntervalMs ?? 5_000),
    )
    if (this.options.statsIntervalMs) {
      this.timers.push(
        setInterval(() => {
          this.logStats()
        }, this.options.statsIntervalMs),
      )
    }
  }

  /** Stop fetching, store and commit what was read, leave the group. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    try {
      for (const timer of this.timers) clearInterval(timer)
      // A worker that never got as far as consuming has nothing to pause.
      if (this.consuming) this.consumer.pause(this.options.topics.map((topic) => ({ topic })))
      // Bounded: a store that is down must not hold the shutdown; what was not committed is read again.
      const timeout = this.options.shutdownTimeoutMs ?? 30_000
      const stored = (async () => {
        await this.handling.catch(() => undefined)
        await this.writer.flush()
        return true
      })()
      const flushed = await Promise.race([stored, sleep(timeout, undefined, { ref: false }).then(() => false)]).catch((err: unknown) => {
        this.logger.error({ err: errorMessage(err) }, 'the last batch could not be stored; it will be read again')
        return true
      })
      if (!flushed) {
        this.logger.warn({ timeoutMs: timeout }, 'the last batch was not stored in time; it will be read again')
        this.stopWriting.abort()
        await stored.catch(() => undefined)
      }
      await this.consumer.disconnect()
      await this.producer.disconnect()
      await this.admin.disconnect()
    } finally {
      // Even when the worker never got as far as running: a live thread would keep the process up.
      await this.decoder?.close()
    }
    this.logger.info({ ...this.writer.totals, deadLetters: this.stats.deadLetters }, 'ingest stopped')
  }

  /**
   * Hands a fetched batch to the decoder and returns, so the next fetch overlaps its decoding;
   * decoded batches reach the writer in the order they were fetched. Waits once too many are
   * under way, which bounds the memory they hold.
   */
  private async consumeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    const { topic, partition, messages } = batch
    const last = messages.at(-1)
    const running = () => !this.stopping && payload.isRunning() && !payload.isStale()
    if (!last || !running() || !this.decoder) return
    const heartbeat = () => payload.heartbeat()
    const decoded = this.decoder.decodeMessages(messages.map((message) => message.value))
    // Where the next fetch starts; the group's committed offsets follow the store (`mark`), not this.
    payload.resolveOffset(last.offset)
    // A batch whose hand-over failed stops every later one: marking them would commit past it.
    const handled = this.handling.then(async () => {
      const ready = await decoded
      // What is not marked is read again: a batch left now costs a second decoding, never an event.
      if (!this.stopping) await this.handOver(topic, partition, messages, ready, heartbeat)
    })
    handled.catch((err: unknown) => {
      this.fail(err)
    })
    this.handling = handled
    this.underWay.push(handled)
    while (this.underWay.length > BATCHES_UNDER_WAY) await this.whileHeartbeating(this.underWay.shift() as Promise<void>, heartbeat)
  }

  /** A decoded batch to the writer and the dead-letter topic, then its mark: committed once stored. */
  private async handOver(topic: string, partition: number, messages: KafkaMessage[], decoded: Decoded, heartbeat: () => Promise<void>): Promise<void> {
    for (const line of decodedLines(decoded)) {
      const wait = this.writer.addLine(line)
      if (wait) await this.whileHeartbeating(wait, heartbeat)
    }
    const findingsWait = this.writer.addFindings(decoded.findings)
    if (findingsWait) await this.whileHeartbeating(findingsWait, heartbeat)
    this.stats.events += decoded.ends.length
    const deadLetters: Message[] = []
    for (const rejection of decoded.rejections) {
      const message = messages[rejection.input] as KafkaMessage
      const bytes = Buffer.from(rejection.bytes.buffer, rejection.bytes.byteOffset, rejection.bytes.byteLength)
      const wait = this.deadLetter({ topic, partition, offset: message.offset }, message, bytes, rejection.reason, rejection.location, deadLetters)
      if (wait) await this.whileHeartbeating(wait, heartbeat)
    }
    this.stats.messages += messages.length
    metrics.kafkaMessages.inc({ topic }, messages.length)
    if (deadLetters.length > 0) {
      await this.producer.send({ topic: this.options.deadLetterTopic, messages: deadLetters, acks: -1 })
      this.stats.deadLetters += deadLetters.length
    }
    this.writer.mark({ topic, partition, offset: (BigInt((messages.at(-1) as KafkaMessage).offset) + 1n).toString() })
  }

  private deadLetter(
    origin: { topic: string; partition: number; offset: string },
    message: KafkaMessage,
    bytes: Buffer,
    reason: string,
    location: string,
    deadLetters: Message[],
  ): Promise<void> | undefined {
    const headers: IHeaders = {
      'trailwatch-reason': reason,
      'trailwatch-location': location,
      'trailwatch-source-topic': origin.topic,
      'trailwatch-source-partition': String(origin.partition),
      'trailwatch-source-offset': origin.offset,
    }
    deadLetters.push({ key: message.key, value: bytes, headers })
    const rejected: RejectedInput = {
      source: `kafka:${origin.topic}/${origin.partition}@${origin.offset}`,
      location,
      reason,
      bytes: bytes.subarray(0, 64 * 1024),
      size: bytes.length,
    }
    return this.writer.reject(rejected)
  }

  /** Waits for the decoder or for room in the writer while telling the group this member is alive. */
  private async whileHeartbeating<T>(wait: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
    const done = wait.then(() => true)
    while (!(await Promise.race([done, sleep(2_000, undefined, { ref: false }).then(() => false)]))) await heartbeat()
    return wait
  }

  private async commit(checkpoints: Checkpoint[]): Promise<void> {
    const latest = new Map<string, Checkpoint>()
    for (const checkpoint of checkpoints) latest.set(`${checkpoint.topic}/${checkpoint.partition}`, checkpoint)
    try {
      await this.consumer.commitOffsets([...latest.values()])
      this.lastProgressAt = Date.now()
    } catch (err) {
      // The partition moved to another member: it reads from the last commit, and stored events are skipped.
      this.logger.warn({ err: errorMessage(err) }, 'committing offsets failed; those messages will be read again')
    }
  }

  /** Ready: in the group, inserts passing, and commits moving whenever there is something to read. */
  readiness(now = Date.now()): true | string {
    if (!this.joined) return 'not yet in the consumer group'
    const stall = this.options.stallMs ?? 60_000
    const failingSince = this.writer.failingSince
    if (failingSince !== undefined && now - failingSince >= stall) return `inserts into the store have failed for ${String(Math.round((now - failingSince) / 1000))} s`
    if (this.lagProblem) return this.lagProblem
    const behind = [...this.stats.lag].filter(([partition]) => this.assigned.has(partition)).reduce((sum, [, lag]) => sum + lag, 0)
    if (behind > 0 && now - this.lastProgressAt >= stall) return `${String(behind)} messages behind, and nothing committed for ${String(Math.round((now - this.lastProgressAt) / 1000))} s`
    return true
  }

  /** Lag from the group's committed offsets to each partition's end, as the brokers report them. */
  private async measureLag(): Promise<void> {
    try {
      for (const topic of this.options.topics) {
        const ends = await this.admin.fetchTopicOffsets(topic)
        const [committed] = await this.admin.fetchOffsets({ groupId: this.options.group, topics: [topic] })
        for (const end of ends) {
          const offset = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1)
          const lag = Number(end.high) - (offset >= 0 ? offset : Number(end.low))
          this.stats.lag.set(`${topic}/${String(end.partition)}`, lag)
          metrics.kafkaLag.set({ topic, partition: String(end.partition) }, lag)
        }
      }
      this.lagProblem = undefined
      // Nothing to read is not a stall.
      if ([...this.stats.lag].every(([partition, lag]) => lag === 0 || !this.assigned.has(partition))) this.lastProgressAt = Date.now()
    } catch (err) {
      this.lagProblem = `cannot measure the lag: ${errorMessage(err)}`
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    this.logger.error({ err: error.message }, 'ingest failed')
    this.failure?.(error)
  }

  private lastStatsAt = performance.now()
  private lastStatsEvents = 0

  private logStats(): void {
    const now = performance.now()
    const seconds = (now - this.lastStatsAt) / 1000
    const inserts = this.writer.takeInsertStats()
    this.logger.info(
      {
        eventsPerSecond: Math.round((this.stats.events - this.lastStatsEvents) / seconds),
        stored: this.writer.totals.stored,
        duplicate: this.writer.totals.duplicate,
        rejected: this.writer.totals.rejected,
        deadLetters: this.stats.deadLetters,
        lag: Object.fromEntries(this.stats.lag),
        insertMsAvg: inserts.inserts ? Math.round(inserts.totalMs / inserts.inserts) : null,
        insertMsMax: Math.round(inserts.maxMs),
      },
      'ingest progress',
    )
    this.lastStatsAt = now
    this.lastStatsEvents = this.stats.events
  }
}
