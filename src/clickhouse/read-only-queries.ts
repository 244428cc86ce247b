import type { ClickHouseClient, DataFormat } from '@clickhouse/client'
import { AppError, errorMessage } from '../errors.js'
import type { Store, StoreSession } from './client.js'
import { RefusedQueryError, checkStatementClass, checkSyntaxTree } from './sql-guard.js'

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
 * A person's SQL against the store, able only to read it. The engine is the judge: its own parser
 * says the text is one statement that reads (the embedded engine's classifier, then `EXPLAIN AST` for
 * what a read-only session still allows), and the statement runs on a session of its own that the
 * engine holds read-only and limited in time, memory and result size. The session is fresh for each
 * query and closed after it, so nothing a query does outlives it. Bounded in how many run at once.
 */
export class ReadOnlyQueries {
  private readonly open = new Set<StoreSession>()
  private running = 0
  private readonly queue: (() => void)[] = []

  constructor(
    private readonly store: Store,
    private readonly limits: QueryLimits,
  ) {}

  /** The result as the engine formats it: a table for people, or one JSON object per row per line. */
  async run(request: QueryRequest, signal?: AbortSignal): Promise<Buffer> {
    const release = await this.turn()
    let session: StoreSession | undefined
    try {
      session = await this.session(request.color)
      const { client } = session
      await this.admit(client, request.sql, signal)
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
      if (session) {
        this.open.delete(session)
        await session.close()
      }
      release()
    }
  }

  async close(): Promise<void> {
    const sessions = [...this.open]
    this.open.clear()
    for (const session of sessions) await session.close()
  }

  /** Refuses, before it runs, anything but one statement that reads the store. */
  private async admit(client: ClickHouseClient, sql: string, signal: AbortSignal | undefined): Promise<void> {
    const statement = await this.store.classify(sql)
    if (statement) {
      if (statement.statements === 0 || statement.kind === 'unparsed') await this.explainUnparsed(client, sql)
      checkStatementClass(statement)
    }
    const tree = await readAll((await client.exec({ query: `EXPLAIN AST ${sql}`, clickhouse_settings: { default_format: 'TabSeparatedRaw' as DataFormat }, abort_signal: signal })).stream)
    checkSyntaxTree(tree.toString('utf8').split('\n').filter(Boolean))
  }

  /** The engine's own syntax error for a text it could not parse, or a refusal when it parses after all. */
  private async explainUnparsed(client: ClickHouseClient, sql: string): Promise<never> {
    if (sql.trim() === '') throw new RefusedQueryError('no SQL to run')
    // The text goes in as a parameter: parsed, never run.
    await client.query({ query: 'SELECT formatQuery({sql:String})', query_params: { sql }, format: 'JSONEachRow' }).then((r) => r.json())
    throw new RefusedQueryError('the engine does not say what this statement does, so it cannot run here')
  }

  private async session(color: boolean): Promise<StoreSession> {
    const session = await this.store.openQuerySession({
      output_format_pretty_color: color ? 1 : 0,
      // ARNs read better as arn:aws:iam::1:user/alice than with every slash escaped.
      output_format_json_escape_forward_slashes: 0,
      max_execution_time: this.limits.seconds,
      max_memory_usage: this.limits.memoryBytes,
      max_result_bytes: this.limits.resultBytes,
      result_overflow_mode: 'throw',
      // Last: after it, nothing on the session can change a setting (1), or, over HTTP where each
      // request carries its settings, only settings (2), and SETTINGS clauses are refused by the guard.
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
