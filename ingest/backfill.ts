import type { Store } from '../src/clickhouse/client.js'
import type { RejectedInput } from '../src/clickhouse/events.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher, type SourceEnricher } from '../src/cloudtrail/enrich.js'
import { JsonFramer, type Framed } from '../src/cloudtrail/framing.js'
import { errorMessage } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { EventWriter } from './event-writer.js'
import { listInputFiles, openInput, type InputFile } from './files.js'

/** Bad records of one file recorded one by one; past this, the rest are counted in one row. */
export const REJECTIONS_PER_FILE = 1000

export interface BackfillOptions {
  maxBatch: number
  /** Bytes of rows per insert, at most (default: the writer's). */
  maxBatchBytes?: number
  maxRecordBytes: number
  logger: Logger
  onProgress?: (progress: BackfillProgress) => void
  /** First delay between attempts when the store fails (it doubles, five attempts in all). */
  retryDelayMs?: number
  /** Follow a named path that is a symbolic link (a person's command line; not the inbox). */
  followNamedLinks?: boolean
}

export interface BackfillProgress {
  bytesDone: number
  bytesTotal: number
  read: number
}

export interface BackfillSummary {
  files: number
  /** Every value found in the input: stored + duplicate + rejected. */
  read: number
  stored: number
  duplicate: number
  rejected: number
  seconds: number
  /** The earliest and latest event time stored (ISO 8601); null when nothing new was stored. */
  stored_from: string | null
  stored_to: string | null
}

/**
 * Reads CloudTrail files into the store. Files are streamed, so their size does not matter; what
 * cannot be stored goes to rejected input with its reason and location, and the run goes on.
 * Running it again over the same files stores nothing new.
 */
export async function backfill(store: Store, paths: string[], options: BackfillOptions): Promise<BackfillSummary> {
  const started = performance.now()
  const logger = options.logger.child({ module: 'ingest.backfill' })
  const files = await listInputFiles(paths, { followNamedLinks: options.followNamedLinks })
  const enricher = await loadSourceEnricher()
  const writer = new EventWriter(store, { maxBatch: options.maxBatch, maxBatchBytes: options.maxBatchBytes, logger, retryDelayMs: options.retryDelayMs })
  const bytesTotal = files.reduce((sum, file) => sum + file.size, 0)
  let bytesBefore = 0
  let read = 0

  let summarised = 0
  for (const file of files) {
    // A small file can hold millions of bad lines (a gzip of repeats): past a limit, they are counted, not listed.
    let fileRejections = 0
    const reject = (input: RejectedInput) => (++fileRejections <= REJECTIONS_PER_FILE ? writer.reject(input) : undefined)
    if (file.refused) {
      read++
      await reject({ source: file.path, location: 'whole file', reason: file.refused, bytes: Buffer.alloc(0), size: 0 })
      continue
    }
    const input = await openInput(file)
    const progress = () => options.onProgress?.({ bytesDone: bytesBefore + input.bytesRead(), bytesTotal, read })
    const framer = new JsonFramer({ maxValueBytes: options.maxRecordBytes, lineDelimited: file.lineDelimited })
    const handle = async (items: Framed[]) => {
      for (const item of items) {
        read++
        const wait = route(writer, reject, enricher, file, item)
        if (wait) {
          await wait
          progress()
        }
      }
    }
    let unreadable: unknown
    for await (const chunk of readable(input.chunks, (err) => (unreadable = err))) await handle(framer.push(chunk))
    if (unreadable === undefined) {
      await handle(framer.end())
    } else {
      // A corrupt gzip or an I/O error: what was read stays, the rest of the file is rejected.
      read++
      await writer.reject({ source: file.path, location: 'rest of file', reason: `cannot read the file: ${errorMessage(unreadable)}`, bytes: Buffer.alloc(0), size: 0 })
    }
    if (fileRejections > REJECTIONS_PER_FILE) {
      const more = fileRejections - REJECTIONS_PER_FILE
      await writer.reject({ source: file.path, location: 'whole file', reason: `${String(more)} more rejected records, counted but not recorded one by one; the first ${String(REJECTIONS_PER_FILE)} show why`, bytes: Buffer.alloc(0), size: 0 })
      summarised += more - 1
    }
    bytesBefore += file.size
    progress()
    logger.debug({ file: file.path, read }, 'file done')
  }
  await writer.flush()
  const { stored, duplicate, rejected } = writer.totals
  const span = writer.storedSpan
  return {
    files: files.length,
    read,
    stored,
    duplicate,
    rejected: rejected + summarised,
    seconds: (performance.now() - started) / 1000,
    stored_from: span ? new Date(span.from).toISOString() : null,
    stored_to: span ? new Date(span.to).toISOString() : null,
  }
}

/**
 * The file's chunks, ending early on a read error, which goes to `onError`. Errors of the loop that
 * consumes the chunks (the store failing) are not caught here: they end the backfill.
 */
async function* readable(chunks: AsyncIterable<Buffer>, onError: (err: unknown) => void): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of chunks) yield chunk
  } catch (err) {
    onError(err)
  }
}

function route(writer: EventWriter, reject: (input: RejectedInput) => Promise<void> | undefined, enricher: SourceEnricher, file: InputFile, item: Framed) {
  const source = file.path
  const location = file.lineDelimited ? `line ${item.location.line}` : `record ${item.location.index}, line ${item.location.line}`
  if (item.kind === 'reject') {
    return reject({ source, location, reason: item.reason, bytes: item.prefix, size: item.size })
  }
  const decoded = decodeEvent(item.bytes, enricher)
  if (decoded.ok) return writer.add(decoded.event)
  return reject({ source, location, reason: decoded.reason, bytes: item.bytes, size: item.bytes.length })
}
