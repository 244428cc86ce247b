/**
 * Finds the JSON values that may be CloudTrail records in a byte stream, without parsing them.
 *
 * What counts as one value: a top-level object; each element of a top-level array; each element
 * of the `Records` array of a top-level object (the S3 log file shape, streamed element by element
 * so a file of any size needs memory for one record only). Values are handed out as their original
 * bytes, so the stored raw JSON is exactly what CloudTrail wrote.
 *
 * Bad input never stops the stream: a value that is too large or too deeply nested is skipped
 * (keeping a prefix for the dead-letter store), and text that is not JSON is skipped to the end of
 * its line. In line-delimited mode (NDJSON, one Kafka message) a line that ends inside a value is
 * rejected on its own and the next line starts afresh.
 */

export interface Location {
  /** 1-based line on which the value starts. */
  line: number
  /** 0-based position of the value among all values (records and rejects) of this stream. */
  index: number
  /** 0-based position of the top-level document it belongs to (a line, a message, a file's value). */
  document: number
}

export type Framed =
  | { kind: 'value'; bytes: Buffer; location: Location }
  | { kind: 'reject'; reason: string; location: Location; prefix: Buffer; size: number }

export interface FramerOptions {
  maxValueBytes: number
  /** NDJSON: a newline outside a string always ends the current document. */
  lineDelimited: boolean
  maxDepth?: number
  /** Values one document may hand out; past them, one reject and the rest of the document is skipped. */
  maxDocumentValues?: number
  /** How much of a rejected value is kept. */
  prefixBytes?: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const NEWLINE = 0x0a
const RECORDS = 'Records'

type DocumentMode =
  | 'idle'
  /** A top-level object: one value, unless it turns out to hold `Records`. */
  | 'object'
  /** Inside a top-level array or the `Records` array: every element is a value. */
  | 'elements'
  /** The rest of a `Records` wrapper after its array: nothing more to hand out. */
  | 'wrapper-tail'
  /** Text that is not JSON, skipped to the end of the line. */
  | 'garbage'

interface Capture {
  location: Location
  pieces: Buffer[]
  size: number
  /** Offset in the current chunk where the not-yet-collected part begins. */
  from: number
  baseDepth: number
  tooDeep: boolean
  tooLarge: boolean
}

export class JsonFramer {
  private readonly maxValueBytes: number
  private readonly lineDelimited: boolean
  private readonly maxDepth: number
  private readonly maxDocumentValues: number
  private readonly prefixBytes: number

  private mode: DocumentMode = 'idle'
  private depth = 0
  /** Depth of the array whose elements are values; only meaningful in 'elements' mode. */
  private elementDepth = 0
  private inString = false
  private escaped = false
  private line = 1
  private index = 0
  private capture: Capture | null = null
  private garbageReason = ''
  /** The document under way, how many values it handed out, and whether the rest of it is skipped. */
  private document = -1
  private documentValues = 0
  private skipping = false

  // Key tracking at depth 1 of a top-level object, to recognise `"Records": [`.
  private expectKey = false
  private keyPieces: string | null = null
  private lastKey = ''
  private valueStarts = false

  private out: Framed[] = []
  private chunk: Buffer = Buffer.alloc(0)

  constructor(options: FramerOptions) {
    this.maxValueBytes = options.maxValueBytes
    this.lineDelimited = options.lineDelimited
    this.maxDepth = options.maxDepth ?? 64
    this.maxDocumentValues = options.maxDocumentValues ?? Number.POSITIVE_INFINITY
    this.prefixBytes = options.prefixBytes ?? 64 * 1024
  }

  /**
   * Hands out nothing more of a document that is still open: its structure is still followed, so
   * the next document starts where it should, but no value is captured. A document already over
   * is left alone.
   */
  skipDocument(document: number): void {
    if (document !== this.document || this.mode === 'idle') return
    this.skipping = true
    this.capture = null
  }

  /** Scans one chunk and returns the values completed in it. */
  push(chunk: Buffer): Framed[] {
    this.out = []
    this.chunk = chunk
    const length = chunk.length
    let i = 0
    while (i < length) {
      if (this.inString) {
        i = this.scanString(i)
        continue
      }
      const byte = chunk[i] as number
      if (this.mode === 'garbage') {
        const newline = chunk.indexOf(NEWLINE, i)
        if (newline === -1) {
          i = length
        } else {
          this.finishGarbage(newline)
          i = newline
        }
        continue
      }
      this.scanStructural(byte, i)
      i++
    }
    if (this.capture) {
      this.collect(this.capture, length)
      this.capture.from = 0
    }
    return this.out
  }

  /** Call at the end of the stream: anything left open is rejected. */
  end(): Framed[] {
    this.out = []
    this.chunk = Buffer.alloc(0)
    if (this.mode === 'garbage') this.finishGarbage(0)
    else if (this.capture) this.reject(this.capture, 'input ended inside a JSON value (truncated?)')
    else if (this.depth > 0 && this.mode !== 'idle' && !this.skipping) {
      this.out.push({ kind: 'reject', reason: 'input ended inside a JSON document (truncated?)', location: this.location(), prefix: Buffer.alloc(0), size: 0 })
    }
    this.reset()
    return this.out
  }

  private scanStructural(byte: number, i: number): void {
    switch (byte) {
      case NEWLINE:
        this.line++
        if (this.lineDelimited && this.depth > 0) this.breakLine(i)
        return
      case 0x20:
      case 0x09:
      case 0x0d:
        return
      case 0x7b: // {
      case 0x5b: // [
        this.open(byte, i)
        return
      case 0x7d: // }
      case 0x5d: // ]
        this.close(i)
        return
      case 0x2c: // ,
        if (this.mode === 'elements' && this.depth === this.elementDepth && this.capture) this.finish(this.capture, i)
        if (this.mode === 'object' && this.depth === 1) this.expectKey = true
        this.valueStarts = false
        return
      case 0x3a: // :
        if (this.depth === 1 && this.mode === 'object') this.valueStarts = true
        return
      case QUOTE:
        if (this.depth === 0) {
          this.startGarbage(i, 'a top-level JSON value must be an object or an array')
          return
        }
        this.startScalarElement(i)
        if (this.depth === 1 && this.mode === 'object' && this.expectKey) this.keyPieces = ''
        this.valueStarts = false
        this.inString = true
        this.escaped = false
        return
      default:
        if (this.depth === 0) {
          this.startGarbage(i, 'not JSON')
          return
        }
        this.startScalarElement(i)
        this.valueStarts = false
    }
  }

  private open(byte: number, i: number): void {
    if (this.depth === 0) {
      this.startDocument()
      if (byte === 0x7b) {
        this.mode = 'object'
        this.expectKey = true
        this.lastKey = ''
        this.startCapture(i)
      } else {
        this.mode = 'elements'
        this.elementDepth = 1
      }
    } else if (this.mode === 'object' && this.depth === 1 && this.valueStarts && byte === 0x5b && this.lastKey === RECORDS) {
      // The S3 log file shape: drop the wrapper and hand out each record on its own. The wrapper is
      // not a value: its records are counted from where it was.
      if (this.capture) this.index = this.capture.location.index
      this.capture = null
      this.documentValues = 0
      this.mode = 'elements'
      this.elementDepth = 2
    } else if (this.mode === 'elements' && this.depth === this.elementDepth && !this.capture) {
      this.startCapture(i)
    }
    this.valueStarts = false
    this.depth++
    const capture = this.capture
    if (capture && this.depth - capture.baseDepth > this.maxDepth) capture.tooDeep = true
  }

  private close(i: number): void {
    if (this.depth === 0) {
      this.startGarbage(i, 'unexpected closing bracket')
      return
    }
    this.depth--
    const capture = this.capture
    if (this.mode === 'object') {
      if (this.depth === 0 && capture) {
        this.finish(capture, i + 1)
        this.mode = 'idle'
      }
      return
    }
    if (this.mode === 'elements') {
      if (this.depth === this.elementDepth && capture) {
        // An object or array element just closed.
        this.finish(capture, i + 1)
      } else if (this.depth === this.elementDepth - 1) {
        // The container itself closed; a scalar element may end here.
        if (capture) this.finish(capture, i)
        this.mode = this.depth === 0 ? 'idle' : 'wrapper-tail'
      }
      return
    }
    if (this.depth === 0) this.mode = 'idle'
  }

  private startScalarElement(i: number): void {
    if (this.mode === 'elements' && this.depth === this.elementDepth && !this.capture) this.startCapture(i)
  }

  /** Inside a string: jump to its closing quote with a native search. */
  private scanString(start: number): number {
    const chunk = this.chunk
    let j = start
    if (this.escaped) {
      this.escaped = false
      j++
    }
    for (;;) {
      const quote = chunk.indexOf(QUOTE, j)
      if (this.lineDelimited) {
        const newline = chunk.indexOf(NEWLINE, j)
        if (newline !== -1 && (quote === -1 || newline < quote)) {
          this.collectKey(start, newline)
          this.inString = false
          return newline // the newline itself is handled as structure and ends the line
        }
      }
      if (quote === -1) {
        this.collectKey(start, chunk.length)
        this.escaped = trailingBackslashes(chunk, j, chunk.length) % 2 === 1
        return chunk.length
      }
      if (trailingBackslashes(chunk, j, quote) % 2 === 0) {
        this.collectKey(start, quote)
        if (this.keyPieces !== null) {
          this.lastKey = this.keyPieces
          this.keyPieces = null
          this.expectKey = false
        }
        this.inString = false
        return quote + 1
      }
      j = quote + 1
    }
  }

  private collectKey(from: number, to: number): void {
    if (this.keyPieces === null) return
    this.keyPieces += this.chunk.toString('latin1', from, to)
    // Keys that could not be `Records` need no more bytes.
    if (this.keyPieces.length > RECORDS.length) this.keyPieces = this.keyPieces.slice(0, RECORDS.length + 1)
  }

  private startDocument(): void {
    this.document++
    this.documentValues = 0
    this.skipping = false
  }

  private startCapture(i: number): void {
    if (this.skipping) return
    if (++this.documentValues > this.maxDocumentValues) {
      this.skipping = true
      const reason = `the document holds more than ${String(this.maxDocumentValues)} values; the rest of it is skipped`
      this.out.push({ kind: 'reject', reason, location: this.location(), prefix: Buffer.alloc(0), size: 0 })
      return
    }
    this.capture = {
      location: this.location(),
      pieces: [],
      size: 0,
      from: i,
      baseDepth: this.depth,
      tooDeep: false,
      tooLarge: false,
    }
  }

  /** Moves the bytes of the current chunk up to `to` into the capture, or only their count once too large. */
  private collect(capture: Capture, to: number): void {
    const piece = this.chunk.subarray(capture.from, to)
    capture.size += piece.length
    if (!capture.tooLarge && capture.size > this.maxValueBytes) capture.tooLarge = true
    const kept = capture.pieces.reduce((sum, p) => sum + p.length, 0)
    if (!capture.tooLarge) capture.pieces.push(piece)
    else if (kept < this.prefixBytes) capture.pieces.push(Buffer.from(piece.subarray(0, this.prefixBytes - kept)))
    capture.from = to
  }

  private finish(capture: Capture, end: number): void {
    this.collect(capture, end)
    this.capture = null
    if (capture.tooLarge) {
      this.reject(capture, `value is larger than ${this.maxValueBytes} bytes (${capture.size} bytes)`)
      return
    }
    if (capture.tooDeep) {
      this.reject(capture, `value is nested deeper than ${this.maxDepth} levels`)
      return
    }
    const bytes = capture.pieces.length === 1 ? (capture.pieces[0] as Buffer) : Buffer.concat(capture.pieces)
    this.out.push({ kind: 'value', bytes, location: capture.location })
  }

  private reject(capture: Capture, reason: string): void {
    this.capture = null
    const prefix = Buffer.concat(capture.pieces).subarray(0, this.prefixBytes)
    this.out.push({ kind: 'reject', reason, location: capture.location, prefix, size: capture.size })
  }

  /** Line-delimited input: a line that ended inside a document is rejected alone. */
  private breakLine(newline: number): void {
    const capture = this.capture
    if (capture) {
      this.collect(capture, newline)
      this.reject(capture, 'line ends inside a JSON value (incomplete or malformed JSON)')
    } else if (!this.skipping) {
      this.out.push({ kind: 'reject', reason: 'line ends inside a JSON document (incomplete or malformed JSON)', location: { line: this.line - 1, index: this.index++, document: this.document }, prefix: Buffer.alloc(0), size: 0 })
    }
    this.reset()
  }

  private startGarbage(i: number, reason: string): void {
    this.startDocument()
    this.mode = 'garbage'
    this.garbageReason = reason
    this.startCapture(i)
  }

  private finishGarbage(newline: number): void {
    const capture = this.capture
    if (capture) {
      this.collect(capture, newline)
      this.reject(capture, this.garbageReason)
    }
    this.reset()
  }

  private reset(): void {
    this.mode = 'idle'
    this.depth = 0
    this.inString = false
    this.escaped = false
    this.capture = null
    this.expectKey = false
    this.keyPieces = null
    this.valueStarts = false
    this.skipping = false
  }

  private location(): Location {
    return { line: this.line, index: this.index++, document: this.document }
  }
}

/** Number of consecutive backslashes just before `end`, not looking before `start`. */
function trailingBackslashes(chunk: Buffer, start: number, end: number): number {
  let count = 0
  for (let k = end - 1; k >= start && chunk[k] === BACKSLASH; k--) count++
  return count
}

/**
 * The bytes of one member's value in a complete JSON object, such as an EventBridge envelope's
 * `detail`, found by structure alone: the record is stored as it was written, not re-serialised.
 */
export function memberValue(object: Buffer, key: string): Buffer | undefined {
  const wanted = Buffer.from(JSON.stringify(key))
  let depth = 0
  let expectKey = false
  let valueStart = -1
  for (let i = 0; i < object.length; i++) {
    const byte = object[i] as number
    if (byte === QUOTE) {
      const end = stringEnd(object, i)
      if (depth === 1 && expectKey && object.subarray(i, end).equals(wanted)) {
        valueStart = object.indexOf(0x3a, end) + 1
      }
      expectKey = false
      i = end - 1
      continue
    }
    if (byte === 0x7b || byte === 0x5b) {
      if (depth === 0) expectKey = true
      depth++
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--
      if (valueStart >= 0 && depth === 1) return trimmed(object, valueStart, i + 1)
    } else if (byte === 0x2c && depth === 1) {
      if (valueStart >= 0) return trimmed(object, valueStart, i)
      expectKey = true
    }
  }
  return undefined
}

/** Index just past the closing quote of the string that opens at `start`. */
function stringEnd(bytes: Buffer, start: number): number {
  let j = start + 1
  for (;;) {
    const quote = bytes.indexOf(QUOTE, j)
    if (quote === -1) return bytes.length
    if (trailingBackslashes(bytes, j, quote) % 2 === 0) return quote + 1
    j = quote + 1
  }
}

function trimmed(bytes: Buffer, start: number, end: number): Buffer {
  let from = start
  let to = end
  while (from < to && (bytes[from] === 0x20 || bytes[from] === 0x0a || bytes[from] === 0x0d || bytes[from] === 0x09)) from++
  while (to > from && (bytes[to - 1] === 0x20 || bytes[to - 1] === 0x0a || bytes[to - 1] === 0x0d || bytes[to - 1] === 0x09)) to--
  return bytes.subarray(from, to)
}

/**
 * The value parsed, when its bytes hold `marker` (a quoted key or value that a kind of document always
 * has) and are JSON; undefined otherwise. A value of another kind pays one byte search, not a parse.
 */
export function parsedWhenMarked(bytes: Buffer, marker: Buffer): unknown {
  if (bytes.indexOf(marker) === -1) return undefined
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}
