import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { z } from 'zod'
import { ClickHouseError, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client'
import { AppError, StorageError, errorMessage } from '../errors.js'
import type { Store, StoreSession } from './client.js'

/**
 * The embedded engine lets one process hold a data directory. The process that holds it (`trailwatch
 * run`) shares it with the other commands of the same user over its loopback endpoint: each command
 * gets sessions of its own on the held engine, and runs every statement there as it would locally.
 *
 * The wire is small: a request body is one line of JSON, then the bytes of the statement's data if
 * it has any; a reply is the statement's output, or a JSON error that keeps ClickHouse's code.
 */

/** Settings a session starts with, applied in order (so `readonly` goes last). */
const SessionRequest = z.object({
  settings: z.record(z.string(), z.union([z.string(), z.number()])),
  /** A person's read-only query: on a server, it would run as the query user. */
  forQuery: z.boolean(),
})
const Statement = z.object({
  query: z.string(),
  clickhouse_settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  query_params: z.record(z.string(), z.unknown()).optional(),
  query_id: z.string().optional(),
})
const RowsRequest = z.object({ table: z.string(), columns: z.array(z.string()), settings: z.record(z.string(), z.number()) })
const ClassifyRequest = z.object({ sql: z.string() })
const ErrorReply = z.object({ message: z.string(), code: z.string().optional(), type: z.string().optional() })

/** Query parameters cross as JSON; a date is the only value JSON would not bring back as it was. */
const DATE_TAG = '$trailwatchDate'
function encodeParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return undefined
  return JSON.parse(JSON.stringify(params, function (this: Record<string, unknown>, key, value: unknown) {
    const original = this[key]
    return original instanceof Date ? { [DATE_TAG]: original.getTime() } : value
  })) as Record<string, unknown>
}
function decodeParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeParams)
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value)
  const [first] = entries
  if (entries.length === 1 && first?.[0] === DATE_TAG) return new Date(Number(first[1]))
  return Object.fromEntries(entries.map(([key, inner]) => [key, decodeParams(inner)]))
}

/** One line of JSON, then the data. */
function frame(head: unknown, data?: Buffer): Buffer {
  const line = Buffer.from(`${JSON.stringify(head)}\n`)
  return data ? Buffer.concat([line, data]) : line
}
function unframe(body: Buffer): { head: unknown; data: Buffer | undefined } {
  const end = body.indexOf(10)
  if (end < 0) return { head: JSON.parse(body.toString('utf8')), data: undefined }
  const data = body.subarray(end + 1)
  return { head: JSON.parse(body.subarray(0, end).toString('utf8')), data: data.length > 0 ? data : undefined }
}

/**
 * An error of the engine, with ClickHouse's numeric code. Checked by shape: chdb builds its errors
 * from its own copy of the client's error class.
 */
function engineError(err: unknown): z.infer<typeof ErrorReply> | undefined {
  if (!(err instanceof Error)) return undefined
  const { code, type } = err as { code?: unknown; type?: unknown }
  return typeof code === 'string' && /^\d+$/.test(code) ? { message: err.message, code, ...(typeof type === 'string' ? { type } : {}) } : undefined
}

export interface HostReply {
  status: number
  body: Buffer | string
  type: string
}

const JSON_TYPE = 'application/json'
const BYTES_TYPE = 'application/octet-stream'

export interface StoreHostLimits {
  /** Sessions open at once, over every command. */
  maxSessions: number
  /** A session nobody used this long is closed (its command was killed, or forgot it). */
  idleMs: number
}

/** The side of the process that holds the store: sessions for other commands, each statement run on one. */
export class StoreHost {
  private readonly sessions = new Map<string, { session: StoreSession; used: number; running: number }>()
  private readonly sweeper: NodeJS.Timeout

  constructor(
    private readonly store: Store,
    private readonly limits: StoreHostLimits = { maxSessions: 64, idleMs: 15 * 60_000 },
  ) {
    this.sweeper = setInterval(() => void this.closeIdle(Date.now()), Math.min(60_000, limits.idleMs)).unref()
  }

  /** A request under /store/: the route after it, the method, the body as sent. */
  async handle(method: string, route: string, body: Buffer): Promise<HostReply> {
    try {
      return await this.answer(method, route, body)
    } catch (err) {
      const engine = engineError(err)
      const refused = engine !== undefined || err instanceof AppError || err instanceof z.ZodError || err instanceof SyntaxError
      return { status: refused ? 400 : 500, body: JSON.stringify(engine ?? { message: errorMessage(err) }), type: JSON_TYPE }
    }
  }

  private async answer(method: string, route: string, body: Buffer): Promise<HostReply> {
    const [resource, id, action] = route.split('/')
    if (method === 'POST' && resource === 'sessions' && id === undefined) return this.openSession(SessionRequest.parse(unframe(body).head))
    if (method === 'POST' && resource === 'sessions' && id && action === 'exec') return this.exec(id, body)
    if (method === 'DELETE' && resource === 'sessions' && id && action === undefined) {
      await this.closeSession(id)
      return { status: 204, body: '', type: JSON_TYPE }
    }
    if (method === 'POST' && resource === 'rows') {
      const { head, data } = unframe(body)
      await this.store.insertRows({ ...RowsRequest.parse(head), rows: data ?? Buffer.alloc(0) })
      return { status: 204, body: '', type: JSON_TYPE }
    }
    if (method === 'POST' && resource === 'classify') {
      const statementClass = await this.store.classify(ClassifyRequest.parse(unframe(body).head).sql)
      return { status: 200, body: JSON.stringify(statementClass ?? null), type: JSON_TYPE }
    }
    throw new AppError('NOT_FOUND', `no ${method} /store/${route}`)
  }

  private async openSession({ settings, forQuery }: z.infer<typeof SessionRequest>): Promise<HostReply> {
    await this.closeIdle(Date.now())
    if (this.sessions.size >= this.limits.maxSessions) throw new AppError('BUSY', `${String(this.limits.maxSessions)} store sessions are open for other commands: try again when one ends`)
    const session = await (forQuery ? this.store.openQuerySession(settings) : this.store.openSession(settings))
    const id = randomUUID()
    this.sessions.set(id, { session, used: Date.now(), running: 0 })
    return { status: 200, body: JSON.stringify({ id }), type: JSON_TYPE }
  }

  private async exec(id: string, body: Buffer): Promise<HostReply> {
    const open = this.sessions.get(id)
    if (!open) throw new AppError('NOT_FOUND', `no store session ${id}: it ended, or was idle for ${String(this.limits.idleMs / 1000)} s`)
    const { head, data } = unframe(body)
    const statement = Statement.parse(head)
    open.running++
    try {
      const result = await open.session.client.exec({
        query: statement.query,
        clickhouse_settings: statement.clickhouse_settings,
        query_params: decodeParams(statement.query_params) as Record<string, unknown> | undefined,
        query_id: statement.query_id,
        ...(data ? { values: Readable.from([data]) } : {}),
      })
      const chunks: Buffer[] = []
      for await (const chunk of result.stream as AsyncIterable<Buffer>) chunks.push(chunk)
      return { status: 200, body: Buffer.concat(chunks), type: BYTES_TYPE }
    } finally {
      open.running--
      open.used = Date.now()
    }
  }

  private async closeSession(id: string): Promise<void> {
    const open = this.sessions.get(id)
    this.sessions.delete(id)
    await open?.session.close()
  }

  private async closeIdle(now: number): Promise<void> {
    // A session whose statement still runs is busy, however long that takes.
    for (const [id, open] of this.sessions) if (open.running === 0 && now - open.used > this.limits.idleMs) await this.closeSession(id)
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    for (const id of [...this.sessions.keys()]) await this.closeSession(id)
  }
}

/** Where the holding process answers, and the secret it asks for. */
export interface StoreHolder {
  url: string
  token: string
  pid: number
}

type Connection = NonNullable<ClickHouseClientConfigOptions['connection']>
/** A statement as the client hands it to its connection, with the data of an insert or exec. */
type StatementParams = Omit<Parameters<Connection['exec']>[0], 'values'> & { values?: string | Readable }

/** Sends a request under /store/ to the holding process; the reply's body, or its error as thrown locally. */
type Caller = (method: string, route: string, body?: Buffer, signal?: AbortSignal) => Promise<Buffer>

function caller(holder: StoreHolder): Caller {
  return async (method, route, body, signal) => {
    let response: Response
    try {
      response = await fetch(`${holder.url}/store/${route}`, { method, headers: { authorization: `Bearer ${holder.token}` }, body, signal })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new StorageError(`trailwatch run (pid ${String(holder.pid)}) holds the store but does not answer at ${holder.url}: ${errorMessage(err)}`, { retriable: false, cause: err })
    }
    const reply = Buffer.from(await response.arrayBuffer())
    if (response.ok) return reply
    // The endpoint's own refusals (a wrong secret, a body too large) are plain text.
    const text = reply.toString('utf8')
    const parsed = ErrorReply.safeParse(text.startsWith('{') ? JSON.parse(text) : undefined)
    if (!parsed.success) throw new StorageError(`trailwatch run (pid ${String(holder.pid)}) refused ${method} /store/${route}: HTTP ${String(response.status)} ${text.slice(0, 500)}`)
    // The engine's errors keep their code, so callers judge them as they judge a local store's.
    const { message, code, type } = parsed.data
    throw code ? new ClickHouseError({ message, code, type }) : new StorageError(message)
  }
}

async function bytesOf(values: string | Readable | undefined): Promise<Buffer | undefined> {
  if (values === undefined) return undefined
  if (typeof values === 'string') return Buffer.from(values)
  const chunks: Buffer[] = []
  for await (const chunk of values as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

/** The ClickHouse client's connection, carried to a session in the holding process. */
function sessionConnection(call: Caller, id: string): Connection {
  const run = async (params: StatementParams) => {
    const statement = { query: params.query, clickhouse_settings: params.clickhouse_settings, query_params: encodeParams(params.query_params), query_id: params.query_id }
    const output = await call('POST', `sessions/${id}/exec`, frame(statement, await bytesOf(params.values)), params.abort_signal)
    return { query_id: params.query_id ?? randomUUID(), response_headers: {}, http_status_code: 200, stream: Readable.from([output]) }
  }
  const summary = { read_rows: '0', read_bytes: '0', written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0', elapsed_ns: '0' }
  return {
    ping: async () => {
      try {
        await run({ query: 'SELECT 1' })
        return { success: true }
      } catch (err) {
        return { success: false, error: err instanceof Error ? err : new Error(String(err)) }
      }
    },
    query: run,
    exec: async (params) => ({ ...(await run(params)), summary }),
    insert: async (params) => {
      const { stream, ...result } = await run(params)
      stream.destroy()
      return { ...result, summary }
    },
    command: async (params) => {
      const { stream, ...result } = await run(params)
      stream.destroy()
      return { ...result, summary }
    },
    close: async () => {
      await call('DELETE', `sessions/${id}`)
    },
  }
}

async function openRemoteSession(call: Caller, settings: Record<string, string | number>, forQuery: boolean): Promise<StoreSession> {
  const { id } = z.object({ id: z.string() }).parse(JSON.parse((await call('POST', 'sessions', frame({ settings, forQuery }))).toString('utf8')))
  const client: ClickHouseClient = createClient({ connection: sessionConnection(call, id) })
  return { client, close: () => client.close() }
}

/** The store another process holds, used as if it were open here. */
export async function openSharedStore(holder: StoreHolder, dataDir: string): Promise<Store> {
  const call = caller(holder)
  const main = await openRemoteSession(call, {}, false)
  return {
    client: main.client,
    location: `${dataDir} (held by trailwatch run, pid ${String(holder.pid)})`,
    // The engine behind it is the embedded one, and answers as it does.
    embedded: true,
    close: () => main.close(),
    openSession: (settings) => openRemoteSession(call, settings, false),
    openQuerySession: (settings) => openRemoteSession(call, settings, true),
    insertRows: async ({ rows, ...insert }) => {
      await call('POST', 'rows', frame(insert, rows))
    },
    classify: async (sql) => {
      const reply = JSON.parse((await call('POST', 'classify', frame({ sql }))).toString('utf8')) as unknown
      return reply === null ? undefined : z.object({ statements: z.number(), kind: z.enum(['read', 'write', 'control', 'unparsed']) }).parse(reply)
    },
  }
}
