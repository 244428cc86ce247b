import { lstat, mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { storeReachable, type Store } from '../src/clickhouse/client.js'
import { insertRejected } from '../src/clickhouse/events.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { errorMessage } from '../src/errors.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { metrics } from '../src/metrics.js'
import { backfill, type BackfillSummary } from './backfill.js'
import { Decoder } from './decoder.js'
import { decodeLimits, type DecodeLimits } from './decoding.js'
import { listInputFiles } from './files.js'
import { clickHouseTime } from '../src/time.js'

export interface InboxOptions extends DecodeLimits {
  maxBatch: number
  logger: Logger
  pollMs?: number
  /** A file must keep its size and mtime this long before it is read: it may still be being written. */
  settleMs?: number
  /** Passes that may fail on one file, while the store answers, before it is moved to quarantine. */
  maxAttempts?: number
  /** First delay between attempts to store a batch (see backfill). */
  retryDelayMs?: number
  /** A file read for longer than this makes the inbox not ready: the files after it wait. */
  stuckMs?: number
}

interface Seen {
  size: number
  modifiedMs: number
}

/**
 * A directory people and tools drop CloudTrail files into (the same files backfill reads). Each
 * file is ingested once, once it has stopped changing; a file replaced with new content (another
 * size or mtime) is read again, and its events already stored are skipped as duplicates.
 */
export class InboxWatcher {
  private readonly logger: Logger
  private timer: NodeJS.Timeout | undefined
  private pass: Promise<unknown> = Promise.resolve()
  private stopped = false
  /** Failed passes per file, while the store answered. */
  private readonly failures = new Map<string, number>()
  private readonly storedListeners: ((span: { from: Date; to: Date }) => void)[] = []
  /** Started with the first file and kept: starting a decoding thread per file would cost more than small files do. */
  private decoder: Promise<Decoder> | undefined
  /** The file being read, and since when. */
  private reading: { file: string; sinceMs: number } | undefined

  constructor(
    private readonly store: Store,
    readonly directory: string,
    private readonly options: InboxOptions,
  ) {
    this.logger = moduleLogger(options.logger, 'ingest.inbox')
  }

  async start(): Promise<void> {
    await mkdir(this.directory, { recursive: true })
    const tick = (): void => {
      this.pass = this.ingestPending()
        .catch((err: unknown) => {
          this.logger.error({ err: errorMessage(err) }, 'inbox pass failed; trying again')
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs ?? 2000)
        })
    }
    tick()
  }

  /** Tells `listener` the span of event times each file stored, so history that arrives late is looked at. */
  onStored(listener: (span: { from: Date; to: Date }) => void): void {
    this.storedListeners.push(listener)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.pass
    await (await this.decoder?.catch(() => undefined))?.close()
  }

  /** Ready unless one file has held the inbox up for longer than `stuckMs`. */
  readiness(nowMs = Date.now()): true | string {
    const reading = this.reading
    if (!reading) return true
    const seconds = Math.floor((nowMs - reading.sinceMs) / 1000)
    if (nowMs - reading.sinceMs <= (this.options.stuckMs ?? 120_000)) return true
    return `the inbox has been reading ${path.basename(reading.file)} for ${String(seconds)} s; the files after it wait`
  }

  /** Ingests every settled file not in the ledger; returns what each one gave. */
  async ingestPending(now = Date.now()): Promise<{ path: string; summary: BackfillSummary }[]> {
    await mkdir(this.directory, { recursive: true })
    const files = await listInputFiles([this.directory])
    if (files.length === 0) return []
    const known = await this.ledger(files.map((f) => f.path))
    const done = []
    for (const file of files) {
      if (this.stopped) break
      // The entry itself: a link is judged (and refused) as a link, not as what it points to.
      const info = await lstat(file.path).catch(() => undefined)
      if (!info) continue
      const seen: Seen = { size: info.size, modifiedMs: Math.floor(info.mtimeMs) }
      if (known.has(key(file.path, seen))) continue
      if (now - seen.modifiedMs < (this.options.settleMs ?? 1000)) continue
      this.reading = { file: file.path, sinceMs: Date.now() }
      try {
        // Read before with other content (still being written then): what it was rejected for then is stale.
        if (known.has(file.path)) await this.store.client.command({ query: 'DELETE FROM rejected_input WHERE source = {source:String}', query_params: { source: file.path } })
        done.push({ path: file.path, summary: await this.ingestFile(file.path, seen) })
        this.failures.delete(file.path)
      } catch (err) {
        // A store that is down is no file's fault: the whole pass waits for it.
        if ((await storeReachable(this.store)) !== true) throw err
        const attempts = (this.failures.get(file.path) ?? 0) + 1
        this.failures.set(file.path, attempts)
        if (attempts < (this.options.maxAttempts ?? 3)) {
          this.logger.warn({ file: file.path, attempts, err: errorMessage(err) }, 'inbox file failed; trying it again next pass')
        } else {
          await this.quarantine(file.path, `stored nothing in ${String(attempts)} attempts while the store answered: ${errorMessage(err)}`)
          this.failures.delete(file.path)
        }
      } finally {
        this.reading = undefined
      }
    }
    return done
  }

  /** Where files that keep failing go, with their reason beside them; hidden, so the inbox skips it. */
  get quarantineDirectory(): string {
    return path.join(this.directory, '.quarantine')
  }

  private async quarantine(file: string, reason: string): Promise<void> {
    await mkdir(this.quarantineDirectory, { recursive: true })
    const target = path.join(this.quarantineDirectory, `${new Date().toISOString().replace(/[:.]/g, '-')}-${path.basename(file)}`)
    await rename(file, target)
    await writeFile(`${target}.reason.txt`, `${reason}\n`)
    await insertRejected(this.store, [{ source: file, location: 'whole file', reason: `moved to ${target}: ${reason}`, bytes: Buffer.alloc(0), size: 0 }], Date.now())
    this.logger.error({ file, quarantined: target, reason }, 'inbox file moved to quarantine')
  }

  /** Ingests one file and records it in the ledger, so it is not read again. */
  async ingestFile(file: string, seen?: Seen): Promise<BackfillSummary> {
    let info = seen
    if (!info) {
      const stats = await lstat(file)
      info = { size: stats.size, modifiedMs: Math.floor(stats.mtimeMs) }
    }
    const decoder = await this.sharedDecoder()
    const summary = await backfill(this.store, [file], {
      maxBatch: this.options.maxBatch,
      ...decodeLimits(this.options),
      logger: this.logger,
      followNamedLinks: false,
      retryDelayMs: this.options.retryDelayMs,
      decoder,
    })
    await this.store.client.insert({
      table: 'inbox_files',
      values: [{ path: path.resolve(file), size: info.size, modified_at: clickHouseTime(info.modifiedMs), ingested_at: clickHouseTime(Date.now()), records: summary.read, stored: summary.stored, rejected: summary.rejected }],
      format: 'JSONEachRow',
      clickhouse_settings: { async_insert: 0 },
    })
    metrics.inboxFiles.inc()
    this.logger.info({ file, read: summary.read, stored: summary.stored, rejected: summary.rejected }, 'inbox file ingested')
    if (summary.stored_from && summary.stored_to) {
      const span = { from: new Date(summary.stored_from), to: new Date(summary.stored_to) }
      for (const listener of this.storedListeners) listener(span)
    }
    return summary
  }

  /** The decoder kept for the inbox's life, started again if its thread failed. */
  private async sharedDecoder(): Promise<Decoder> {
    const current = await this.decoder?.catch(() => undefined)
    if (current?.working) return current
    this.decoder = Decoder.start(this.options)
    return this.decoder
  }

  private async ledger(paths: string[]): Promise<Set<string>> {
    const rows = await selectRows(
      this.store,
      'SELECT path, size, toUnixTimestamp64Milli(modified_at) AS modified_ms FROM inbox_files WHERE path IN {paths:Array(String)}',
      { paths },
      z.object({ path: z.string(), size: z.coerce.number(), modified_ms: z.coerce.number() }),
    )
    // Each file as read (its path, size and time), and each path read at all.
    return new Set(rows.flatMap((row) => [key(row.path, { size: row.size, modifiedMs: row.modified_ms }), row.path]))
  }
}

function key(file: string, seen: Seen): string {
  return `${file}\0${String(seen.size)}\0${String(seen.modifiedMs)}`
}
