import { setTimeout as sleep } from 'node:timers/promises'
import type { Store } from '../src/clickhouse/client.js'
import { eventLine, findStoredEventIds, insertEventLines, insertGuardDutyFindings, insertRejected, unstoredFindings, lineIdentity, sameEvent, type EventLine, type RejectedInput } from '../src/clickhouse/events.js'
import type { GuardDutyRow } from '../src/cloudtrail/guardduty.js'
import type { NormalisedEvent } from '../src/cloudtrail/normalise.js'
import { metrics } from '../src/metrics.js'
import { StorageError, errorMessage } from '../src/errors.js'
import type { Logger } from '../src/logger.js'

export interface WriterTotals {
  /** Events new to the store, and GuardDuty findings stored. */
  stored: number
  /** Events the store already had, or that came twice. */
  duplicate: number
  rejected: number
}

export interface WriterOptions<Mark> {
  maxBatch: number
  /**
   * A batch is written once its rows reach this many bytes, whatever their number: the engine takes
   * a batch as one string, and large records would otherwise pass V8's limit on string length.
   */
  maxBatchBytes?: number
  logger: Logger
  /** Attempts per write when the store fails in a way that may pass; Infinity waits it out. */
  maxAttempts?: number
  retryDelayMs?: number
  now?: () => number
  /**
   * Look up which events of a batch are stored already and skip them (default). Without it, only
   * repeats within a batch are dropped and the store's merges collapse the rest: a stream re-delivers
   * rarely, and the look-up costs about as much as the insert when batches overlap in time.
   */
  skipStored?: boolean
  /**
   * Where stored events are looked up (default: the store). A session of its own lets the embedded
   * engine run the next batch's look-up during the current insert instead of after it.
   */
  lookups?: Pick<Store, 'client'>
  /** Called, in order, once the batch that carried these marks is in the store. */
  onWritten?: (marks: Mark[]) => Promise<void>
  /** Called with the span of event times of each batch once it is stored: detections need not wait for their schedule. */
  onStored?: (span: { from: Date; to: Date }) => void
  /** Ends the waiting between attempts: a shutdown does not wait for a store that is down. */
  signal?: AbortSignal
}

/** Insert latency since the last look. */
export interface InsertStats {
  inserts: number
  totalMs: number
  maxMs: number
}

// Errors that mean the data itself is unacceptable: trying again cannot help, splitting the batch can.
const DATA_ERRORS = /CANNOT_PARSE|INCORRECT_DATA|TYPE_MISMATCH|TOO_LARGE|ILLEGAL|OUT_OF_RANGE|CANNOT_READ|TOO_DEEP/
/** Below the engine's max_partitions_per_insert_block (100), with room to spare. */
const MAX_PARTITIONS_PER_INSERT = 50
/** Well under V8's longest string (about 512 MiB): the engine receives each batch as one. */
const DEFAULT_BATCH_BYTES = 64 * 1024 * 1024

/**
 * Collects events into batches and writes them, one batch in flight while the next one
 * fills. Every write first drops events the store already has, so re-reading input stores nothing
 * twice, and resolves only once the store has acknowledged it. Input the store refuses is found by
 * splitting the batch and goes to rejected input; it never blocks the rest.
 */
export class EventWriter<Mark = never> {
  readonly totals: WriterTotals = { stored: 0, duplicate: 0, rejected: 0 }
  /** Since when the store has refused every attempt (epoch ms); undefined while writes pass. */
  failingSince: number | undefined
  /** The earliest and latest event time of what this writer stored (epoch ms); undefined until it stored something. */
  storedSpan: { from: number; to: number } | undefined

  private events: EventLine[] = []
  private eventBytes = 0
  private rejected: RejectedInput[] = []
  private findings: GuardDutyRow[] = []
  private marks: Mark[] = []
  private insertStats: InsertStats = { inserts: 0, totalMs: 0, maxMs: 0 }
  private inFlight: Promise<void> = Promise.resolve()
  /** The event ids of batches handed over for writing and not yet stored. */
  private readonly unstored = new Set<Set<string>>()
  private readonly maxAttempts: number
  private readonly retryDelayMs: number
  private readonly now: () => number

  constructor(
    private readonly store: Store,
    private readonly options: WriterOptions<Mark>,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5
    this.retryDelayMs = options.retryDelayMs ?? 500
    this.now = options.now ?? Date.now
  }

  /** Returns a promise only when the caller must wait for room; most calls return at once. */
  add(event: NormalisedEvent): Promise<void> | undefined {
    return this.addLine(eventLine(event))
  }

  /** An event whose row is built already (by the decoder). */
  addLine(line: EventLine): Promise<void> | undefined {
    this.events.push(line)
    this.eventBytes += line.line.length
    return this.events.length >= this.options.maxBatch || this.eventBytes >= (this.options.maxBatchBytes ?? DEFAULT_BATCH_BYTES) ? this.rotate() : undefined
  }

  /** GuardDuty findings decoded beside the events: written with the batch they came in. */
  addFindings(findings: GuardDutyRow[]): Promise<void> | undefined {
    this.findings.push(...findings)
    return this.findings.length >= this.options.maxBatch ? this.rotate() : undefined
  }

  reject(input: RejectedInput): Promise<void> | undefined {
    this.rejected.push(input)
    return this.rejected.length >= this.options.maxBatch ? this.rotate() : undefined
  }

  /** Attaches a mark to the batch being collected, handed to `onWritten` once it is stored. */
  mark(mark: Mark): void {
    this.marks.push(mark)
  }

  takeInsertStats(): InsertStats {
    const stats = this.insertStats
    this.insertStats = { inserts: 0, totalMs: 0, maxMs: 0 }
    return stats
  }

  /** Writes everything collected so far and waits until the store has it. */
  async flush(): Promise<void> {
    await this.rotate()
    await this.inFlight
  }

  /**
   * Starts writing the current batch once the previous one is done, and waits only for the previous
   * one: at most one batch is being written while the next is collected. The next batch's look-up
   * of stored events runs during the previous insert; what it cannot see yet, it is told.
   */
  private async rotate(): Promise<void> {
    const { events, rejected, findings, marks } = this
    if (events.length === 0 && rejected.length === 0 && findings.length === 0 && marks.length === 0) return
    this.events = []
    this.eventBytes = 0
    this.rejected = []
    this.findings = []
    this.marks = []
    const batch = distinctEvents(events)
    const notYetStored = [...this.unstored]
    this.unstored.add(batch.ids)
    const fresh = this.freshEvents(batch, notYetStored)
    fresh.catch(() => undefined)
    const previous = this.inFlight
    const current = previous.then(async () => {
      await this.writeFindings(findings)
      await this.write(batch, await fresh, events.length, rejected, marks)
      this.unstored.delete(batch.ids)
    })
    // A failure surfaces to whoever waits next; until then it must not count as unhandled.
    current.catch(() => undefined)
    this.inFlight = current
    await previous
  }

  /** The batch's events that are neither in the store nor in a batch still being written. */
  private async freshEvents(batch: DistinctEvents, notYetStored: Set<string>[]): Promise<EventLine[]> {
    const fresh = batch.events.filter((event) => !notYetStored.some((ids) => ids.has(event.eventId)))
    if (fresh.length === 0 || this.options.skipStored === false) return fresh
    const known = await this.retrying('looking up stored events', () => findStoredEventIds(this.options.lookups ?? this.store, fresh.map((event) => event.eventId), batch.from, batch.to))
    if (known.size === 0) return fresh
    for (const event of fresh) {
      const stored = known.get(event.eventId)
      // The same id with another time, name or source is not a re-delivery: the stored event is kept, and this one is kept in sight.
      if (stored && !sameEvent(lineIdentity(event), stored)) batch.conflicts.push(conflictingEvent(event))
    }
    return fresh.filter((event) => !known.has(event.eventId))
  }

  private async write(batch: DistinctEvents, fresh: EventLine[], received: number, rejected: RejectedInput[], marks: Mark[]): Promise<void> {
    const refused = await this.insert(fresh)
    if (fresh.length > refused.length) {
      this.widenStoredSpan(fresh.map((event) => event.eventTimeMs))
      this.options.onStored?.({ from: new Date(batch.from), to: new Date(batch.to) })
    }
    const allRejected = rejected.concat(refused, batch.conflicts)
    await this.retrying('storing rejected input', () => insertRejected(this.store, allRejected, this.now()))

    this.totals.stored += fresh.length - refused.length
    this.totals.duplicate += received - fresh.length - batch.conflicts.length
    this.totals.rejected += allRejected.length
    metrics.eventsStored.inc(fresh.length - refused.length)
    metrics.eventsDuplicate.inc(received - fresh.length - batch.conflicts.length)
    metrics.eventsRejected.inc(allRejected.length)
    if (marks.length > 0) await this.options.onWritten?.(marks)
  }

  /** Before the batch's marks are handed on: a mark means all it carried is stored. */
  private async writeFindings(findings: GuardDutyRow[]): Promise<void> {
    if (findings.length === 0) return
    const fresh = await this.retrying('looking up stored GuardDuty findings', () => unstoredFindings(this.store, findings))
    this.totals.duplicate += findings.length - fresh.length
    if (fresh.length === 0) return
    await this.retrying('storing GuardDuty findings', () => insertGuardDutyFindings(this.store, fresh))
    const times = fresh.map((finding) => finding.updated_at)
    this.widenStoredSpan(times)
    this.options.onStored?.({ from: new Date(Math.min(...times)), to: new Date(Math.max(...times)) })
    this.totals.stored += fresh.length
    metrics.guardDutyFindings.inc(fresh.length)
  }

  private widenStoredSpan(timesMs: number[]): void {
    let { from, to } = this.storedSpan ?? { from: Infinity, to: -Infinity }
    for (const time of timesMs) {
      if (time < from) from = time
      if (time > to) to = time
    }
    this.storedSpan = { from, to }
  }

  /**
   * Inserts the events, a few months at a time: the table is partitioned by month, and the engine
   * refuses an insert that spans too many partitions (a record dated in each of 150 months would
   * otherwise stop ingestion). Those the store refuses as data are returned as rejected input.
   */
  private async insert(events: EventLine[]): Promise<RejectedInput[]> {
    const refused: RejectedInput[] = []
    for (const group of byPartitions(events, MAX_PARTITIONS_PER_INSERT)) refused.push(...(await this.insertSplitting(group)))
    return refused
  }

  private async insertSplitting(events: EventLine[]): Promise<RejectedInput[]> {
    if (events.length === 0) return []
    try {
      const started = performance.now()
      await this.retrying('inserting events', () => insertEventLines(this.store, events.map((event) => event.line)))
      const ms = performance.now() - started
      this.insertStats.inserts++
      this.insertStats.totalMs += ms
      this.insertStats.maxMs = Math.max(this.insertStats.maxMs, ms)
      metrics.insertSeconds.observe(ms / 1000)
      return []
    } catch (err) {
      if (!isDataError(err)) throw err
      if (events.length === 1) {
        const [event] = events as [EventLine]
        return [{ source: 'store', location: `event ${event.eventId}`, reason: `the store refused this event: ${errorMessage(err)}`, bytes: event.line, size: event.line.length }]
      }
      const half = Math.ceil(events.length / 2)
      return [...(await this.insertSplitting(events.slice(0, half))), ...(await this.insertSplitting(events.slice(half)))]
    }
  }

  private async retrying<T>(what: string, operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await operation()
        this.failingSince = undefined
        return result
      } catch (err) {
        const retriable = !isDataError(err) && (!(err instanceof StorageError) || err.retriable)
        if (!retriable || attempt >= this.maxAttempts || this.options.signal?.aborted) throw err
        const delay = Math.min(this.retryDelayMs * 2 ** (attempt - 1), 30_000)
        this.failingSince ??= this.now()
        this.options.logger.warn({ attempt, delayMs: delay, err: errorMessage(err) }, `${what} failed; retrying`)
        await sleep(delay, undefined, { signal: this.options.signal }).catch(() => {
          throw err
        })
      }
    }
  }
}

interface DistinctEvents {
  /** The first of each event id, in order. */
  events: EventLine[]
  ids: Set<string>
  /** The earliest and latest event time (epoch ms). */
  from: number
  to: number
  /** Events kept out because their id is taken by another event, in the batch or in the store. */
  conflicts: RejectedInput[]
}

/** The batch without repeats; an id repeated with other content is a conflict, kept in sight. */
function distinctEvents(events: EventLine[]): DistinctEvents {
  const conflicts: RejectedInput[] = []
  const first = new Map<string, EventLine>()
  const distinct: EventLine[] = []
  let from = Infinity
  let to = -Infinity
  for (const event of events) {
    const earlier = first.get(event.eventId)
    if (earlier) {
      if (!sameEvent(lineIdentity(earlier), lineIdentity(event))) conflicts.push(conflictingEvent(event))
      continue
    }
    first.set(event.eventId, event)
    distinct.push(event)
    if (event.eventTimeMs < from) from = event.eventTimeMs
    if (event.eventTimeMs > to) to = event.eventTimeMs
  }
  return { events: distinct, ids: new Set(first.keys()), from, to, conflicts }
}

/** The events in groups that each span at most `max` months (the events table's partitions), in order of month. */
function byPartitions(events: EventLine[], max: number): EventLine[][] {
  const months = new Map<number, EventLine[]>()
  for (const event of events) {
    const date = new Date(event.eventTimeMs)
    const month = date.getUTCFullYear() * 100 + date.getUTCMonth()
    const list = months.get(month)
    if (list) list.push(event)
    else months.set(month, [event])
  }
  if (months.size <= max) return [events]
  const groups: EventLine[][] = []
  const sorted = [...months.entries()].sort(([a], [b]) => a - b)
  for (let i = 0; i < sorted.length; i += max) groups.push(sorted.slice(i, i + max).flatMap(([, list]) => list))
  return groups
}

function isDataError(err: unknown): boolean {
  // The embedded engine raises the same error shape from its own copy of the client library: match by shape.
  const cause: unknown = err instanceof StorageError ? err.cause : err
  return typeof cause === 'object' && cause !== null && 'type' in cause && typeof cause.type === 'string' && DATA_ERRORS.test(cause.type)
}

/** An event kept out because its id is taken by another event: where to find it, and its row as it came. */
function conflictingEvent(event: EventLine): RejectedInput {
  return {
    source: 'events',
    location: `event ${event.eventId}`,
    reason: 'an event with this id is already stored with another time, name or source; the stored one is kept',
    bytes: event.line.subarray(0, 64 * 1024),
    size: event.line.length,
  }
}
