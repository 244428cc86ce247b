import type { Store } from '../src/clickhouse/client.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher, type SourceEnricher } from '../src/cloudtrail/enrich.js'
import { JsonFramer, type Framed } from '../src/cloudtrail/framing.js'
import { errorMessage } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { EventWriter } from './event-writer.js'
import { listInputFiles, openInput, type InputFile } from './files.js'

export interface BackfillOptions {
  maxBatch: number
  maxRecordBytes: number
  logger: Logger
  onProgress?: (progress: BackfillProgress) => void
  /** First delay between attempts when the store fails (it doubles, five attempts in all). */
  retryDelayMs?: number
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
}

/**
 * Reads CloudTrail files into the store. Files are streamed, so their size does not matter; what
 * cannot be stored goes to rejected input with its reason and location, and the run goes on.
 * Running it again over the same files stores nothing new.
 */
export async function backfill(store: Store, paths: string[], options: BackfillOptions): Promise<BackfillSummary> {
  const started = performance.now()
  const logger = options.logger.child({ module: 'ingest.backfill' })
  const files = await listInputFiles(paths)
  const enricher = await loadSourceEnricher()
  const writer = new EventWriter(store, { maxBatch: options.maxBatch, logger, retryDelayMs: options.retryDelayMs })
  const bytesTotal = files.reduce((sum, file) => sum + file.size, 0)
  let bytesBefore = 0
  let read = 0

  for (const file of files) {
    const input = await openInput(file)
    const progress = () => options.onProgress?.({ bytesDone: bytesBefore + input.bytesRead(), bytesTotal, read })
    const framer = new JsonFramer({ maxValueBytes: options.maxRecordBytes, lineDelimited: file.lineDelimited })
    const handle = async (items: Framed[]) => {
      for (const item of items) {
        read++
        const wait = route(writer, enricher, file, item)
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
      const wait = writer.reject({ source: file.path, location: 'rest of file', reason: `cannot read the file: ${errorMessage(unreadable)}`, bytes: Buffer.alloc(0), size: 0 })
      if (wait) await wait
    }
    bytesBefore += file.size
    progress()
    logger.debug({ file: file.path, read }, 'file done')
  }
  await writer.flush()
  const { stored, duplicate, rejected } = writer.totals
  return { files: files.length, read, stored, duplicate, rejected, seconds: (performance.now() - started) / 1000 }
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

function route(writer: EventWriter, enricher: SourceEnricher, file: InputFile, item: Framed) {
  const source = file.path
  const location = file.lineDelimited ? `line ${item.location.line}` : `record ${item.location.index}, line ${item.location.line}`
  if (item.kind === 'reject') {
    return writer.reject({ source, location, reason: item.reason, bytes: item.prefix, size: item.size })
  }
  const decoded = decodeEvent(item.bytes, enricher)
  if (decoded.ok) return writer.add(decoded.event)
  return writer.reject({ source, location, reason: decoded.reason, bytes: item.bytes, size: item.bytes.length })
}
