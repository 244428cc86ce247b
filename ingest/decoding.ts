import { eventRow } from '../src/clickhouse/events.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import type { SourceEnricher } from '../src/cloudtrail/enrich.js'
import { JsonFramer, type Framed } from '../src/cloudtrail/framing.js'

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
  /** Values found: events and rejections. */
  values: number
}

/**
 * Frames, validates and normalises input into rows for the store: everything ingest does to an
 * event before the insert, in one place, so it can run beside the thread that talks to the store.
 */
export class InputDecoder {
  /** The framing of each file under way, by stream. */
  private readonly files = new Map<number, { framer: JsonFramer; lineDelimited: boolean }>()

  constructor(
    private readonly options: { maxRecordBytes: number; enricher?: SourceEnricher },
  ) {}

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
        file = { framer: new JsonFramer({ maxValueBytes: this.options.maxRecordBytes, lineDelimited: job.lineDelimited }), lineDelimited: job.lineDelimited }
        this.files.set(job.stream, file)
      }
      for (const item of file.framer.push(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength))) this.fileValue(item, file.lineDelimited, out)
    } else {
      const file = this.files.get(job.stream)
      this.files.delete(job.stream)
      if (file && !job.discard) for (const item of file.framer.end()) this.fileValue(item, file.lineDelimited, out)
    }
    return out.build()
  }

  /** A message of one value is rejected whole; a file of many, value by value. */
  private message(message: Buffer, input: number, out: DecodedBuilder): void {
    if (message.length === 0) {
      out.reject(input, 'message', 'empty message', message, 0)
      return
    }
    const framer = new JsonFramer({ maxValueBytes: this.options.maxRecordBytes, lineDelimited: false })
    const items = [...framer.push(message), ...framer.end()]
    for (const item of items) {
      const location = items.length === 1 ? 'message' : `record ${String(item.location.index + 1)}`
      if (item.kind === 'reject') {
        if (items.length === 1) out.reject(input, location, item.reason, message, message.length)
        else out.reject(input, location, item.reason, item.prefix, item.size)
        continue
      }
      const decoded = decodeEvent(item.bytes, this.options.enricher)
      if (decoded.ok) out.event(decoded.event.eventId, decoded.event.eventTimeMs, eventRow(decoded.event))
      else if (items.length === 1) out.reject(input, location, decoded.reason, message, message.length)
      else out.reject(input, location, decoded.reason, item.bytes, item.bytes.length)
    }
  }

  private fileValue(item: Framed, lineDelimited: boolean, out: DecodedBuilder): void {
    const location = lineDelimited ? `line ${String(item.location.line)}` : `record ${String(item.location.index + 1)}, line ${String(item.location.line)}`
    if (item.kind === 'reject') {
      out.reject(0, location, item.reason, item.prefix, item.size)
      return
    }
    const decoded = decodeEvent(item.bytes, this.options.enricher)
    if (decoded.ok) out.event(decoded.event.eventId, decoded.event.eventTimeMs, eventRow(decoded.event))
    else out.reject(0, location, decoded.reason, item.bytes, item.bytes.length)
  }
}

class DecodedBuilder {
  private readonly rows: string[] = []
  private readonly ids: string[] = []
  private readonly times: number[] = []
  private readonly rejections: DecodedRejection[] = []

  event(id: string, timeMs: number, row: string): void {
    this.rows.push(row)
    this.ids.push(id)
    this.times.push(timeMs)
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
      values: this.rows.length + this.rejections.length,
    }
  }
}
