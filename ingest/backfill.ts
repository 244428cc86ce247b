import type { Store, StoreSession } from '../src/clickhouse/client.js'
import type { RejectedInput } from '../src/clickhouse/events.js'
import { errorMessage } from '../src/errors.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { Decoder, decodedLines } from './decoder.js'
import type { Decoded, DecodeLimits } from './decoding.js'
import { EventWriter } from './event-writer.js'
import type { S3Client } from '@aws-sdk/client-s3'
import { s3Client } from '../src/aws/clients.js'
import { listInputFiles, openInput, type InputFile, type OpenedInput } from './files.js'
import { listTrailObjects, type TrailFilter } from './s3.js'

/** Bad records of one file recorded one by one; past this, the rest are counted in one row. */
export const REJECTIONS_PER_FILE = 1000

export interface BackfillOptions extends DecodeLimits {
  maxBatch: number
  /** Bytes of rows per insert, at most (default: the writer's). */
  maxBatchBytes?: number
  logger: Logger
  onProgress?: (progress: BackfillProgress) => void
  /** First delay between attempts when the store fails (it doubles, five attempts in all). */
  retryDelayMs?: number
  /** Follow a named path that is a symbolic link (a person's command line; not the inbox). */
  followNamedLinks?: boolean
  /** A decoder to share (a long-lived caller's); otherwise one is started for this call. */
  decoder?: Decoder
  /** Told the span of event times of each batch stored: detections need not wait for their schedule. */
  onStored?: (span: { from: Date; to: Date }) => void
  /** For `s3://` paths: which of the trail's objects to read, and the client (the SDK's defaults otherwise). */
  s3?: { filter?: TrailFilter; client?: S3Client }
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
  /** S3 objects an earlier run read whole, not read again. */
  skipped: number
}

/** An S3 object whose records are all stored: remembered so that a run again skips it. */
interface ObjectRead {
  source: string
  etag: string
  size: number
}

/**
 * Reads CloudTrail files into the store. Files are streamed, so their size does not matter; what
 * cannot be stored goes to rejected input with its reason and location, and the run goes on.
 * Running it again over the same files stores nothing new.
 */
export async function backfill(store: Store, paths: string[], options: BackfillOptions): Promise<BackfillSummary> {
  const started = performance.now()
  const local = paths.filter((p) => !p.startsWith('s3://'))
  const files = local.length ? await listInputFiles(local, { followNamedLinks: options.followNamedLinks }) : []
  let skipped = 0
  const remote = paths.filter((p) => p.startsWith('s3://'))
  let client = options.s3?.client
  for (const url of remote) {
    client ??= s3Client()
    const trail = await listTrailObjects(client, store, url, options.s3?.filter ?? {})
    files.push(...trail.inputs)
    skipped += trail.skipped
  }
  return { ...(await readInputs(store, files, options, started)), skipped }
}

/** Reads inputs already found (files, S3 objects) into the store, as backfill does. */
export async function readInputs(store: Store, inputs: InputFile[], options: BackfillOptions, started = performance.now()): Promise<Omit<BackfillSummary, 'skipped'>> {
  const [decoder, lookups] = await Promise.all([options.decoder ?? Decoder.start(options), store.openSession({})])
  try {
    return await readFiles(store, inputs, { decoder, lookups, started }, options)
  } finally {
    if (!options.decoder) await decoder.close()
    await lookups.close()
  }
}

/** Pieces of input given to the decoder and not yet handled: enough to keep it busy, few enough to bound memory. */
const PIECES_IN_FLIGHT = 48

async function readFiles(store: Store, files: InputFile[], { decoder, lookups, started }: { decoder: Decoder; lookups: StoreSession; started: number }, options: BackfillOptions): Promise<Omit<BackfillSummary, 'skipped'>> {
  const logger = moduleLogger(options.logger, 'ingest.backfill')
  const writer = new EventWriter<ObjectRead>(store, { maxBatch: options.maxBatch, maxBatchBytes: options.maxBatchBytes, logger, retryDelayMs: options.retryDelayMs, lookups, onStored: options.onStored, onWritten: (read) => rememberObjects(store, read) })
  const bytesTotal = files.reduce((sum, file) => sum + file.size, 0)
  let bytesBefore = 0
  let reading: OpenedInput | undefined
  let read = 0
  let summarised = 0
  const progress = () => options.onProgress?.({ bytesDone: bytesBefore + (reading?.bytesRead() ?? 0), bytesTotal, read })

  // Handled in the order given, while the decoder works ahead on the pieces after them.
  const steps: (() => Promise<void>)[] = []
  const step = async (handle: () => Promise<void>) => {
    steps.push(handle)
    if (steps.length >= PIECES_IN_FLIGHT) await steps.shift()?.()
  }

  for (const file of files) {
    // A small file can hold millions of bad lines (a gzip of repeats): past a limit, they are counted, not listed.
    let fileRejections = 0
    const reject = (input: RejectedInput) => (++fileRejections <= REJECTIONS_PER_FILE ? writer.reject(input) : undefined)
    const decoded = (pending: Promise<Decoded>) => async () => {
      const piece = await pending
      read += piece.values
      for (const line of decodedLines(piece)) {
        const wait = writer.addLine(line)
        if (wait) {
          await wait
          progress()
        }
      }
      await writer.addFindings(piece.findings)
      for (const rejection of piece.rejections) {
        const bytes = Buffer.from(rejection.bytes.buffer, rejection.bytes.byteOffset, rejection.bytes.byteLength)
        await reject({ source: file.path, location: rejection.location, reason: rejection.reason, bytes, size: rejection.size })
      }
    }
    if (file.refused) {
      const refused = file.refused
      await step(async () => {
        read++
        await reject({ source: file.path, location: 'whole file', reason: refused, bytes: Buffer.alloc(0), size: 0 })
      })
      continue
    }
    // An S3 object that cannot be read (access denied, vanished) is a rejection of its own; the run goes on.
    const opened = file.open ? await file.open().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))) : await openInput(file)
    if (opened instanceof Error) {
      await step(async () => {
        read++
        await reject({ source: file.path, location: 'whole file', reason: `cannot read it: ${errorMessage(opened)}`, bytes: Buffer.alloc(0), size: 0 })
      })
      continue
    }
    reading = opened
    const stream = decoder.newStream()
    let unreadable: unknown
    try {
      for await (const chunk of readable(reading.chunks, (err) => (unreadable = err))) await step(decoded(decoder.decodeChunk(stream, chunk, file.lineDelimited)))
    } catch (err) {
      // A shared decoder must not keep the half-framed file.
      void decoder.decode({ kind: 'end', stream, discard: true })
      throw err
    }
    reading = undefined
    bytesBefore += file.size
    // After a corrupt gzip or an I/O error, what was read stays and the rest of the file is rejected.
    await step(decoded(decoder.decode({ kind: 'end', stream, discard: unreadable !== undefined })))
    await step(async () => {
      if (unreadable !== undefined) {
        read++
        await writer.reject({ source: file.path, location: 'rest of file', reason: `cannot read the file: ${errorMessage(unreadable)}`, bytes: Buffer.alloc(0), size: 0 })
      }
      if (fileRejections > REJECTIONS_PER_FILE) {
        const more = fileRejections - REJECTIONS_PER_FILE
        await writer.reject({ source: file.path, location: 'whole file', reason: `${String(more)} more rejected records, counted but not recorded one by one; the first ${String(REJECTIONS_PER_FILE)} show why`, bytes: Buffer.alloc(0), size: 0 })
        summarised += more - 1
      }
      if (file.version !== undefined && unreadable === undefined) writer.mark({ source: file.path, etag: file.version, size: file.size })
      progress()
      logger.debug({ file: file.path, read }, 'file done')
    })
  }
  for (const handle of steps.splice(0)) await handle()
  await writer.flush()
  return summaryOf(writer, { files: files.length, read, summarised, started })
}

async function rememberObjects(store: Store, read: ObjectRead[]): Promise<void> {
  await store.client.insert({ table: 'objects_read', values: read, format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
}

/** What a backfill did, from its writer's totals; `summarised` rejections were counted, not recorded one by one. */
function summaryOf(writer: EventWriter<ObjectRead>, { files, read, summarised, started }: { files: number; read: number; summarised: number; started: number }): Omit<BackfillSummary, 'skipped'> {
  const { stored, duplicate, rejected } = writer.totals
  const span = writer.storedSpan
  return {
    files,
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
