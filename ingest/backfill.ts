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
  const writer = new EventWriter(store, { maxBatch: options.maxBatch, logger })
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
    try {
      for await (const chunk of input.chunks) await handle(framer.push(chunk))
      await handle(framer.end())
    } catch (err) {
      // An unreadable file (corrupt gzip, I/O error): what was read stays; the rest of the file is rejected.
      read++
      const wait = writer.reject({ source: file.path, location: 'rest of file', reason: `cannot read the file: ${errorMessage(err)}`, bytes: Buffer.alloc(0), size: 0 })
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
