import { gunzipSync } from 'node:zlib'
import type { AddressListFile } from '../src/cloudtrail/address-lists.js'
import { eventRow } from '../src/clickhouse/events.js'
import { decodeEvent, logGroupRecords } from '../src/cloudtrail/decode.js'
import { guardDutyFinding, type GuardDutyRow } from '../src/cloudtrail/guardduty.js'
import type { SourceEnricher } from '../src/cloudtrail/enrich.js'
import { JsonFramer, type Framed, type Location } from '../src/cloudtrail/framing.js'
import { errorMessage } from '../src/errors.js'

/** Work for the decoder: raw input in, store rows and rejections out. */
export type DecodeJob =
  /** Kafka messages back to back, each ending where `ends` says: each is a document of its own. */
  | { kind: 'messages'; bytes: Uint8Array<ArrayBuffer>; ends: Uint32Array }
  /** The next piece of a file; its framing goes on from the previous piece of the same `stream`. */
  | { kind: 'chunk'; stream: number; bytes: Uint8Array<ArrayBuffer>; lineDelimited: boolean }
  /** The end of a file: what is left open in it is rejected, unless the rest of the file is `discard`ed as unreadable. */
  | { kind: 'end'; stream: number; discard: boolean }

export interface DecodedRejection {
  /** The message it came from (messages), else 0. */
  input: number
  location: string
  reason: string
  /** The value's bytes (the whole message's, when it was one value), or their first part when `size` is larger. */
  bytes: Uint8Array<ArrayBuffer>
  size: number
}

/** The events and rejections of one job, in the order of the input. */
export interface Decoded {
  /** The events' rows (`eventRow`) back to back, UTF-8. */
  rows: Uint8Array<ArrayBuffer>
  /** Where each event's row ends in `rows`. */
  ends: Uint32Array<ArrayBuffer>
  /** The events' ids back to back, each ending where `idEnds` says: one string crosses threads faster than many. */
  ids: string
  idEnds: Uint32Array<ArrayBuffer>
  timesMs: Float64Array<ArrayBuffer>
  rejections: DecodedRejection[]
  /** GuardDuty findings: few, so they travel as objects. */
  findings: GuardDutyRow[]
  /** Values found: events, findings and rejections. */
  values: number
}

/** What decoding spends on one input at most: past a bound, one rejection names it and the rest is skipped. */
export interface DecodeLimits {
  maxRecordBytes: number
  /** Values one document (a message, a line, a file's top-level value) may hold. */
  maxDocumentValues?: number
  /** Values of one document rejected before the rest of it is skipped: one bad document costs little. */
  maxDocumentRejects?: number
  /** Milliseconds one Kafka message may take to decode; the partition never waits on it longer. */
  maxMessageMs?: number
  /** The operator's named address lists, matched beside Tor's exits (TRAILWATCH_ADDRESS_LISTS). */
  addressLists?: AddressListFile[]
}

/** The most a gzipped message may inflate to: far above a log group's subscription message (1 MB of log events). */
export const MAX_INFLATED_MESSAGE_BYTES = 64 * 1024 * 1024

function isGzip(bytes: Buffer): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b
}

/** The message inflated, or why it cannot be. */
function inflated(message: Buffer): Buffer | string {
  try {
    return gunzipSync(message, { maxOutputLength: MAX_INFLATED_MESSAGE_BYTES })
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return `gzip that inflates past ${String(MAX_INFLATED_MESSAGE_BYTES >> 20)} MiB: not read`
    return `gzip that cannot be read: ${errorMessage(err)}`
  }
}

/** How much of a message cut short is kept beside the reason: enough to see what it was. */
const EVIDENCE_BYTES = 64 * 1024

export const DECODE_DEFAULTS = { maxDocumentValues: 200_000, maxDocumentRejects: 100, maxMessageMs: 5_000 }

/** Only the limits of a larger set of options, the defaults where none is given: what a decoding thread is started with. */
export function decodeLimits(options: DecodeLimits): Required<DecodeLimits> {
  return {
    maxRecordBytes: options.maxRecordBytes,
    maxDocumentValues: options.maxDocumentValues ?? DECODE_DEFAULTS.maxDocumentValues,
    maxDocumentRejects: options.maxDocumentRejects ?? DECODE_DEFAULTS.maxDocumentRejects,
    maxMessageMs: options.maxMessageMs ?? DECODE_DEFAULTS.maxMessageMs,
    addressLists: options.addressLists ?? [],
  }
}

/** Rejections of the document under way, so a document of nothing but bad values is cut short. */
class DocumentRejects {
  private document = -1
  private count = 0
  /** The document whose rest is skipped. */
  skipped = -1

  constructor(private readonly max: number) {}

  /** Counts one rejection; true once the document has had its fill. */
  add(document: number): boolean {
    if (document !== this.document) {
      this.document = document
      this.count = 0
    }
    return ++this.count > this.max
  }
}

/** The framing of one file under way. */
interface FileFraming {
  framer: JsonFramer
  lineDelimited: boolean
  rejects: DocumentRejects
  /** The line's document and the index of its first value: a line may hold several. */
  line: { document: number; firstIndex: number }
}

/** `line 7`, or `line 7, value 2` for the second value of a line that holds several: each rejection keeps its own place. */
function lineLocation(location: Location, line: FileFraming['line']): string {
  if (location.document !== line.document) {
    line.document = location.document
    line.firstIndex = location.index
  }
  const nth = location.index - line.firstIndex
  return nth === 0 ? `line ${String(location.line)}` : `line ${String(location.line)}, value ${String(nth + 1)}`
}

/**
 * Frames, validates and normalises input into rows for the store: everything ingest does to an
 * event before the insert, in one place, so it can run beside the thread that talks to the store.
 */
export class InputDecoder {
  /** The framing of each file under way, by stream. */
  private readonly files = new Map<number, FileFraming>()
  private readonly limits: Required<DecodeLimits>

  constructor(
    limits: DecodeLimits,
    private readonly enricher?: SourceEnricher,
    /** Milliseconds since some fixed point: the clock message budgets are measured on. */
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.limits = decodeLimits(limits)
  }

  private framer(lineDelimited: boolean): JsonFramer {
    return new JsonFramer({ maxValueBytes: this.limits.maxRecordBytes, lineDelimited, maxDocumentValues: this.limits.maxDocumentValues })
  }

  run(job: DecodeJob): Decoded {
    const out = new DecodedBuilder()
    if (job.kind === 'messages') {
      let start = 0
      for (let input = 0; input < job.ends.length; input++) {
        const end = job.ends[input] as number
        const message = Buffer.from(job.bytes.buffer, job.bytes.byteOffset + start, end - start)
        this.message(message, input, out)
        start = end
      }
    } else if (job.kind === 'chunk') {
      let file = this.files.get(job.stream)
      if (!file) {
        file = { framer: this.framer(job.lineDelimited), lineDelimited: job.lineDelimited, rejects: new DocumentRejects(this.limits.maxDocumentRejects), line: { document: -1, firstIndex: 0 } }
        this.files.set(job.stream, file)
      }
      for (const item of file.framer.push(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength))) this.fileValue(item, file, out)
    } else {
      const file = this.files.get(job.stream)
      this.files.delete(job.stream)
      if (file && !job.discard) for (const item of file.framer.end()) this.fileValue(item, file, out)
    }
    return out.build()
  }

  /**
   * A message of one value is rejected whole; a message of many, value by value, within its budget.
   * A gzipped message (a log group's subscription data, as Kinesis carries it) is read inflated, up
   * to a bound: a small message must not become gigabytes.
   */
  private message(received: Buffer, input: number, out: DecodedBuilder): void {
    if (received.length === 0) {
      out.reject(input, 'message', 'empty message', received, 0)
      return
    }
    const message = isGzip(received) ? inflated(received) : received
    if (typeof message === 'string') {
      out.reject(input, 'message', message, received.subarray(0, EVIDENCE_BYTES), received.length)
      return
    }
    const started = this.clock()
    const framer = this.framer(false)
    const items = [...framer.push(message), ...framer.end()]
    const rejects = new DocumentRejects(this.limits.maxDocumentRejects)
    for (const item of items) {
      const location = items.length === 1 ? 'message' : `record ${String(item.location.index + 1)}`
      if (this.clock() - started > this.limits.maxMessageMs) {
        out.reject(input, location, `decoding the message took longer than ${String(this.limits.maxMessageMs)} ms; the rest of it is skipped`, message.subarray(0, EVIDENCE_BYTES), message.length)
        return
      }
      if (item.location.document === rejects.skipped) continue
      const whole = items.length === 1
      const reason = item.kind === 'reject' ? item.reason : this.decode(item.bytes, out)
      if (reason === undefined) continue
      if (rejects.add(item.location.document)) {
        rejects.skipped = item.location.document
        out.reject(input, location, `more than ${String(this.limits.maxDocumentRejects)} values of the message were rejected; the rest of it is skipped`, message.subarray(0, EVIDENCE_BYTES), message.length)
      } else if (whole) out.reject(input, location, reason, received, received.length)
      else if (item.kind === 'reject') out.reject(input, location, reason, item.prefix, item.size)
      else out.reject(input, location, reason, item.bytes, item.bytes.length)
    }
  }

  private fileValue(item: Framed, file: FileFraming, out: DecodedBuilder): void {
    if (item.location.document === file.rejects.skipped) return
    const location = file.lineDelimited ? lineLocation(item.location, file.line) : `record ${String(item.location.index + 1)}, line ${String(item.location.line)}`
    const reason = item.kind === 'reject' ? item.reason : this.decode(item.bytes, out)
    if (reason === undefined) return
    if (file.rejects.add(item.location.document)) {
      file.rejects.skipped = item.location.document
      file.framer.skipDocument(item.location.document)
      out.reject(0, location, `more than ${String(this.limits.maxDocumentRejects)} values of this document were rejected; the rest of it is skipped`, Buffer.alloc(0), 0)
    } else if (item.kind === 'reject') out.reject(0, location, reason, item.prefix, item.size)
    else out.reject(0, location, reason, item.bytes, item.bytes.length)
  }

  /**
   * One value into event rows (a record, or the records of a log group's subscription message) or a
   * GuardDuty finding; the reason when none. A value is tried as a record first: only one that is
   * not looks for the others, so records pay nothing for them.
   */
  private decode(bytes: Buffer, out: DecodedBuilder): string | undefined {
    const reason = this.decodeRecord(bytes, out)
    if (reason === undefined) return undefined
    const finding = guardDutyFinding(bytes)
    if (finding?.ok) out.finding(finding.row)
    if (finding) return finding.ok ? undefined : finding.reason
    const carried = logGroupRecords(bytes)
    if (carried === undefined) return reason
    const reasons = carried.map((record) => this.decodeRecord(record, out)).filter((reason) => reason !== undefined)
    return reasons.length ? `${String(reasons.length)} of ${String(carried.length)} log events are not CloudTrail records (the first: ${reasons[0] ?? ''})` : undefined
  }

  private decodeRecord(bytes: Buffer, out: DecodedBuilder): string | undefined {
    const decoded = decodeEvent(bytes, this.enricher)
    if (!decoded.ok) return decoded.reason
    out.event(decoded.event.eventId, decoded.event.eventTimeMs, eventRow(decoded.event))
    return undefined
  }
}

class DecodedBuilder {
  private readonly rows: string[] = []
  private readonly ids: string[] = []
  private readonly times: number[] = []
  private readonly rejections: DecodedRejection[] = []
  private readonly findings: GuardDutyRow[] = []

  event(id: string, timeMs: number, row: string): void {
    this.rows.push(row)
    this.ids.push(id)
    this.times.push(timeMs)
  }

  finding(row: GuardDutyRow): void {
    this.findings.push(row)
  }

  reject(input: number, location: string, reason: string, bytes: Buffer, size: number): void {
    // A copy in a buffer of its own: the value is a view into the whole input, which must not travel with it.
    this.rejections.push({ input, location, reason, bytes: new Uint8Array(bytes), size })
  }

  build(): Decoded {
    const ends = new Uint32Array(this.rows.length)
    let size = 0
    for (let i = 0; i < this.rows.length; i++) {
      size += Buffer.byteLength(this.rows[i] as string)
      ends[i] = size
    }
    // Allocated on its own, not from the shared pool, so it can be handed over rather than copied.
    const rows = Buffer.allocUnsafeSlow(size)
    let at = 0
    for (const row of this.rows) at += rows.write(row, at)
    const idEnds = new Uint32Array(this.ids.length)
    let length = 0
    this.ids.forEach((id, i) => (idEnds[i] = length += id.length))
    return {
      rows,
      ends,
      ids: this.ids.join(''),
      idEnds,
      timesMs: Float64Array.from(this.times),
      rejections: this.rejections,
      findings: this.findings,
      values: this.rows.length + this.findings.length + this.rejections.length,
    }
  }
}
