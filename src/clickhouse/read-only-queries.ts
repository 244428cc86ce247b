import type { DataFormat } from '@clickhouse/client'
import { AppError, errorMessage } from '../errors.js'
import type { Store, StoreSession } from './client.js'
import { checkSyntaxTree, checkText } from './sql-guard.js'

export interface QueryRequest {
  sql: string
  json: boolean
  color: boolean
}

export interface QueryLimits {
  seconds: number
  memoryBytes: number
  resultBytes: number
  /** Queries run at once; more wait their turn, up to `waiting`, and the rest are turned away. */
  concurrent: number
  waiting: number
}

/** The store was asked more than it will take at once: try again shortly. */
export class BusyError extends AppError {
  constructor(message: string) {
    super('BUSY', message, { retriable: true })
  }
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/**
 * A person's SQL against the store, able only to read it: one statement that reads (checked by the
 * engine's own parser), never a file on the machine, on a session of its own that is read-only and
 * limited in time, memory and result size, so that no query can change what ingestion and the
 * detectors run with. Bounded in how many run at once.
 */
export class ReadOnlyQueries {
  /**
   * Idle sessions by colour setting (a read-only session cannot change it per query). The engine runs
   * one query at a time per session, so each query running at once holds a session of its own.
   */
  private readonly idle = new Map<boolean, StoreSession[]>()
  private readonly open = new Set<StoreSession>()
  private running = 0
  private readonly queue: (() => void)[] = []

  constructor(
    private readonly store: Store,
    private readonly limits: QueryLimits,
  ) {}

  /** The result as the engine formats it: a table for people, or one JSON object per row per line. */
  async run(request: QueryRequest, signal?: AbortSignal): Promise<Buffer> {
    checkText(request.sql)
    const release = await this.turn()
    let session: StoreSession | undefined
    try {
      session = await this.session(request.color)
      const { client } = session
      const tree = await readAll((await client.exec({ query: `EXPLAIN AST ${request.sql}`, clickhouse_settings: { default_format: 'TabSeparatedRaw' as DataFormat }, abort_signal: signal })).stream)
      checkSyntaxTree(tree.toString('utf8').split('\n').filter(Boolean))
      const result = await client.exec({
        query: request.sql,
        // Used only when the SQL has no FORMAT clause of its own. The client's type lists only the
        // formats it can parse itself; the server and the engine accept every output format.
        clickhouse_settings: { default_format: (request.json ? 'JSONEachRow' : 'PrettyCompactMonoBlock') as DataFormat },
        abort_signal: signal,
      })
      return await readAll(result.stream)
    } catch (err) {
      if (err instanceof AppError) throw err
      throw new AppError('QUERY', errorMessage(err), { cause: err })
    } finally {
      if (session) this.idle.set(request.color, [...(this.idle.get(request.color) ?? []), session])
      release()
    }
  }

  async close(): Promise<void> {
    const sessions = [...this.open]
    this.open.clear()
    this.idle.clear()
    for (const session of sessions) await session.close()
  }

  private async session(color: boolean): Promise<StoreSession> {
    const idle = this.idle.get(color)?.pop()
    if (idle) return idle
    const session = await this.store.openSession({
      output_format_pretty_color: color ? 1 : 0,
      // ARNs read better as arn:aws:iam::1:user/alice than with every slash escaped.
      output_format_json_escape_forward_slashes: 0,
      max_execution_time: this.limits.seconds,
      max_memory_usage: this.limits.memoryBytes,
      max_result_bytes: this.limits.resultBytes,
      result_overflow_mode: 'throw',
      // Last: after it, nothing on the session can change a setting (1), or, over HTTP where each
      // request carries its settings, only settings (2), and SETTINGS clauses are refused above.
      readonly: this.store.embedded ? 1 : 2,
    })
    this.open.add(session)
    return session
  }

  private async turn(): Promise<() => void> {
    if (this.running >= this.limits.concurrent) {
      if (this.queue.length >= this.limits.waiting) throw new BusyError(`${String(this.running)} queries are running and ${String(this.queue.length)} waiting; try again shortly`)
      await new Promise<void>((resolve) => this.queue.push(resolve))
    } else {
      this.running++
    }
    return () => {
      const next = this.queue.shift()
      if (next) next()
      else this.running--
    }
  }
}
