import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { z } from 'zod'
import { ClickHouseLogLevel, createClient, parseError, type ClickHouseClient, type ClickHouseClientConfigOptions, type ErrorLogParams, type LogParams, type WarnLogParams } from '@clickhouse/client'
import type { Config } from '../config.js'
import { StorageError, StoreLockedError, errorMessage } from '../errors.js'
import { moduleLogger, type Logger } from '../logger.js'
import { selectRows } from './rows.js'

export interface Store {
  client: ClickHouseClient
  /** Where the data lives, for messages: the data directory or the server URL without credentials. */
  location: string
  embedded: boolean
  close(): Promise<void>
  /**
   * A session of its own, for work that must not share state with the rest: the settings given
   * (applied in order, so `readonly` goes last) stay on it, and nothing run on it changes another.
   */
  openSession(settings: Record<string, string | number>): Promise<StoreSession>
  /** A session for a person's read-only query: as openSession, but on a server as the query user when one is set. */
  openQuerySession(settings: Record<string, string | number>): Promise<StoreSession>
  /** One insert of rows already written as TabSeparated; resolves once the store has acknowledged them. */
  insertRows(insert: RowsInsert): Promise<void>
  /**
   * How the engine's own parser reads a text, without running it. Only the embedded engine answers:
   * a server's HTTP interface runs one statement per request and writes no file itself.
   */
  classify(sql: string): Promise<StatementClass | undefined>
}

/** What a text is, as the engine parses it: how many statements, and the most a statement of it does. */
export interface StatementClass {
  statements: number
  /** read: leaves no trace; write: changes a database; control: changes the session, the engine or files outside it. */
  kind: 'read' | 'write' | 'control' | 'unparsed'
}

export interface RowsInsert {
  table: string
  columns: readonly string[]
  /** TabSeparated lines, UTF-8. */
  rows: Buffer
  settings: Record<string, number>
}

export interface StoreSession {
  client: ClickHouseClient
  close(): Promise<void>
}

interface OpenEmbedded {
  client: ClickHouseClient
  /** The engine's own insert: the rows pass to it as bytes, not copied into a query string. */
  rawInsert: ChdbConnection['chdb']['rawInsert']
  /** A connection that only ever parses: the engine's statement classifier, opened on first use. */
  classifier?: Promise<ChdbClassifier>
  users: number
}

type ChdbConnection = ReturnType<typeof import('chdb/connection').createChdbConnection>
type ChdbClassifier = InstanceType<typeof import('chdb/durable/node').ChdbNodeEngine>

/** The engine's classes (chdb's `QueryClass`), in its own order: read-only, mutating, mutating global, control, unknown. */
const CLASS_KINDS: readonly StatementClass['kind'][] = ['read', 'write', 'write', 'control', 'unparsed']

/**
 * Times go to and from the store as UTC text (`{now:DateTime64(3)}`, `toDate(…)`), whatever the time
 * zone of the machine or the server: the engine would otherwise read them in its own.
 */
const SESSION_SETTINGS = { session_timezone: 'UTC' }

// The embedded engine binds one data directory per process: share one session per directory and database.
const embeddedSessions = new Map<string, OpenEmbedded>()

export function openStore(config: Pick<Config, 'dataDir' | 'clickhouse'>, logger?: Logger): Promise<Store> {
  return config.clickhouse.url ? openServer(config.clickhouse, logger) : openEmbedded(config.dataDir, config.clickhouse.database)
}

/** The ClickHouse client's own log lines, through the process's structured logger. */
function clientLog(logger: Logger | undefined): ClickHouseClientConfigOptions['log'] {
  if (!logger) return undefined
  const log = moduleLogger(logger, 'clickhouse.client')
  return {
    level: ClickHouseLogLevel.WARN,
    LoggerClass: class {
      trace({ message, args }: LogParams): void {
        log.trace(args ?? {}, message)
      }
      debug({ message, args }: LogParams): void {
        log.debug(args ?? {}, message)
      }
      info({ message, args }: LogParams): void {
        log.info(args ?? {}, message)
      }
      warn({ message, args, err }: WarnLogParams): void {
        log.warn({ ...args, err: err?.message }, message)
      }
      error({ message, args, err }: ErrorLogParams): void {
        log.error({ ...args, err: err.message }, message)
      }
    },
  }
}

/** The embedded engine in a data directory, in a database of that name. */
export function openEmbeddedStore(dataDir: string, database: string): Promise<Store> {
  return openEmbedded(dataDir, database)
}

async function openServer(settings: Config['clickhouse'], logger: Logger | undefined): Promise<Store> {
  const url = new URL(settings.url ?? '')
  url.username = ''
  url.password = ''
  const bootstrap = createClient({ url: settings.url, username: settings.user, password: settings.password, log: clientLog(logger) })
  try {
    // Asked first: a service's user may read and write without the right to create databases.
    const [exists] = await selectRows({ client: bootstrap }, `EXISTS DATABASE ${settings.database}`, {}, z.object({ result: z.coerce.number() }))
    if (exists?.result !== 1) {
      await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${settings.database}${settings.cluster ? ` ON CLUSTER ${settings.cluster}` : ''}` })
    }
  } catch (err) {
    throw new StorageError(`cannot reach ClickHouse at ${url.origin}: ${errorMessage(err)}`, { cause: err })
  } finally {
    await bootstrap.close()
  }
  const client = createClient({
    url: settings.url,
    username: settings.user,
    password: settings.password,
    database: settings.database,
    clickhouse_settings: SESSION_SETTINGS,
    log: clientLog(logger),
  })
  const openSession = (sessionSettings: Record<string, string | number>, as: { user: string; password: string } = settings): Promise<StoreSession> => {
    // Over HTTP every request carries its settings: they reach no other request.
    const own = createClient({
      url: settings.url,
      username: as.user,
      password: as.password,
      database: settings.database,
      clickhouse_settings: { ...SESSION_SETTINGS, ...sessionSettings },
      log: clientLog(logger),
    })
    return Promise.resolve({ client: own, close: () => own.close() })
  }
  const insertRows = async ({ table, columns, rows, settings: insertSettings }: RowsInsert): Promise<void> => {
    const { stream } = await client.exec({ query: insertQuery(table, columns), values: Readable.from([rows]), clickhouse_settings: insertSettings })
    stream.destroy()
  }
  return {
    client,
    location: `${url.origin}/${settings.database}`,
    embedded: false,
    close: () => client.close(),
    openSession: (sessionSettings) => openSession(sessionSettings),
    openQuerySession: (sessionSettings) => openSession(sessionSettings, settings.queryUser),
    insertRows,
    classify: () => Promise.resolve(undefined),
  }
}

function insertQuery(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) FORMAT TabSeparated`
}

/** Loaded on first use: an image built for a ClickHouse server leaves the embedded engine out. */
async function embeddedEngine(): Promise<typeof import('chdb/connection')> {
  try {
    return await import('chdb/connection')
  } catch (err) {
    throw new StorageError(`the embedded ClickHouse engine (the chdb package) is not installed here: set CLICKHOUSE_URL to use a server (${errorMessage(err)})`, {
      retriable: false,
      cause: err,
    })
  }
}

async function openEmbedded(dataDir: string, database: string): Promise<Store> {
  const enginePath = path.join(dataDir, 'clickhouse')
  const key = `${enginePath}\0${database}`
  let session = embeddedSessions.get(key)
  if (!session) {
    mkdirSync(enginePath, { recursive: true })
    assertNotLockedByAnotherProcess(enginePath, dataDir)
    let client: ClickHouseClient
    let engine: ChdbConnection
    try {
      engine = (await embeddedEngine()).createChdbConnection({ path: enginePath })
      // chdb builds against @clickhouse/client-common's copy of the same interface; only the typings differ.
      const connection = engine as unknown as ClickHouseClientConfigOptions['connection']
      // Set once, not sent with every query: the engine keeps a session's settings.
      client = createClient({ connection })
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
      // Each embedded session keeps its own current database, like a server connection's `database`.
      await client.command({ query: `USE ${database}` })
      await setOnSession(client, SESSION_SETTINGS)
    } catch (err) {
      throw new StorageError(`cannot open the embedded store in ${dataDir}: ${errorMessage(err)}`, { retriable: false, cause: err })
    }
    session = { client, rawInsert: (params) => engine.chdb.rawInsert(params), users: 0 }
    embeddedSessions.set(key, session)
  }
  session.users++
  const opened = session
  let closed = false
  return {
    client: opened.client,
    location: dataDir,
    embedded: true,
    openSession: (settings) => openEmbeddedSession(enginePath, database, settings),
    openQuerySession: (settings) => openEmbeddedSession(enginePath, database, settings),
    insertRows: async ({ table, columns, rows, settings }) => {
      try {
        await opened.rawInsert({ table, columns, values: rows, format: 'TabSeparated', settings })
      } catch (err) {
        // The same error shape as the client's, so callers judge both stores' errors alike.
        throw parseError(errorMessage(err))
      }
    },
    classify: async (sql) => {
      opened.classifier ??= openClassifier(enginePath)
      const analysis = await (await opened.classifier).analyze(sql, database)
      return { statements: analysis.statementCount, kind: CLASS_KINDS[analysis.queryClass] ?? 'unparsed' }
    },
    close: async () => {
      if (closed) return
      closed = true
      if (--opened.users > 0) return
      embeddedSessions.delete(key)
      if (opened.classifier) await (await opened.classifier).close()
      await opened.client.close()
    },
  }
}

/**
 * The engine's own statement classifier (ClickHouse's parser, from chdb's durable engine), on a
 * connection of its own to the open directory. It parses and never runs what it is given.
 */
async function openClassifier(enginePath: string): Promise<ChdbClassifier> {
  const { ChdbNodeEngine } = await import('chdb/durable/node')
  const engine = new ChdbNodeEngine()
  await engine.start({ dataPath: enginePath, backupsAllowedPath: enginePath })
  return engine
}

/**
 * Another session of the engine that holds the directory. The engine keeps every setting a session
 * is given (clickhouse-js's per-query settings become `SET` statements), so they are set here once,
 * and the client sends none of its own: after `readonly`, it could not.
 */
async function openEmbeddedSession(enginePath: string, database: string, settings: Record<string, string | number>): Promise<StoreSession> {
  const connection = (await embeddedEngine()).createChdbConnection({ path: enginePath }) as unknown as ClickHouseClientConfigOptions['connection']
  const client = createClient({ connection })
  try {
    await client.command({ query: `USE ${database}` })
    await setOnSession(client, { ...SESSION_SETTINGS, ...settings })
  } catch (err) {
    await client.close()
    throw new StorageError(`cannot open a session of the embedded store: ${errorMessage(err)}`, { retriable: false, cause: err })
  }
  return { client, close: () => client.close() }
}

/** Settings for the rest of an embedded session, in order. Names and values are the code's own, never data. */
async function setOnSession(client: ClickHouseClient, settings: Record<string, string | number>): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    if (!/^\w+$/.test(name)) throw new Error(`not a setting name: ${name}`)
    const literal = typeof value === 'number' ? String(value) : `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`
    await client.command({ query: `SET ${name} = ${literal}` })
  }
}

/** Whether the store answers a trivial query; otherwise what is wrong. */
export async function storeReachable(store: Store): Promise<true | string> {
  try {
    await store.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.json())
    return true
  } catch (err) {
    return `store unreachable: ${errorMessage(err)}`
  }
}

/**
 * The engine locks `status` in its directory; a second process would get a raw engine error
 * (and the engine prints it on stderr). Name the process that holds the directory instead.
 */
function assertNotLockedByAnotherProcess(enginePath: string, dataDir: string): void {
  const statusFile = path.join(enginePath, 'status')
  if (!existsSync(statusFile)) return
  const pid = Number(/^PID: (\d+)/m.exec(readFileSync(statusFile, 'utf8'))?.[1])
  if (!Number.isInteger(pid) || pid === process.pid || !isAlive(pid)) return
  const command = commandLineOf(pid)
  throw new StoreLockedError(
    `the data directory ${dataDir} is in use by process ${pid}${command ? ` (${command})` : ''}. ` +
      'Stop that process, or point this command at another directory with --data-dir.',
  )
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200)
  } catch {
    return ''
  }
}
