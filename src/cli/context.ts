import { statSync } from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import { openStore, type Store } from '../clickhouse/client.js'
import { migrate, type MigrationReport } from '../clickhouse/migrations.js'
import { loadConfig, type Config } from '../config.js'
import { ConfigError, StoreLockedError } from '../errors.js'
import { openSharedStore } from '../clickhouse/shared-store.js'
import { runningProcess } from './running.js'
import { moduleLogger, commandLogger, type Logger } from '../logger.js'
import { loadSettings, type Settings } from '../settings.js'

export interface CommonOptions {
  dataDir?: string
}

/** Every command takes the data directory; the environment's TRAILWATCH_DATA_DIR is the default. */
export function withCommonOptions(command: Command): Command {
  return command.option('--data-dir <dir>', 'data directory of the embedded store (default: $TRAILWATCH_DATA_DIR or ./data)')
}

export interface Context {
  config: Config
  settings: Settings
  logger: Logger
  store: Store
  migration: MigrationReport
}

export interface ContextOptions {
  /**
   * A long-running service: it logs at info when piped unless told otherwise (one-off commands only
   * warn), and it needs the store to itself, where a one-off command uses the one `run` holds.
   */
  service?: boolean
  /** Make tables of the schema again when they are missing, on a server too (`trailwatch migrate`). */
  repair?: boolean
}

/** The data directory may not exist yet, but what is there must be a directory. */
function assertDirectory(dir: string, setting: string): void {
  const stats = statSync(dir, { throwIfNoEntry: false })
  if (stats && !stats.isDirectory()) throw new ConfigError(`${setting}: ${dir} is a file, not a directory`)
}

/**
 * When `trailwatch run` holds the embedded store, a one-off command works on it through the running
 * process; a service says how to get a store of its own.
 */
async function storeHeldByRun(config: Config, locked: StoreLockedError, service: boolean): Promise<Store> {
  const holder = runningProcess(config.dataDir)
  if (!holder) throw locked
  if (!service) return openSharedStore(holder, config.dataDir)
  const here = (dir: string) => path.relative(process.cwd(), dir) || '.'
  throw new StoreLockedError(
    `the data directory ${here(config.dataDir)} is in use by trailwatch run (pid ${String(holder.pid)}), which already ingests, detects and serves the console. ` +
      `Stop it (Ctrl-C) before running this command, or give this command a store of its own (--data-dir or TRAILWATCH_DATA_DIR).`,
  )
}

/** Reads the configuration, opens the store and brings its schema up to date. */
async function openContext(options: CommonOptions, { service = false, repair = false }: ContextOptions): Promise<Context> {
  const config = loadConfig(undefined, { dataDir: options.dataDir })
  assertDirectory(config.dataDir, options.dataDir ? '--data-dir' : 'TRAILWATCH_DATA_DIR')
  const settings = loadSettings(config)
  const logger = commandLogger(config, service)
  const store = await openStore(config, logger).catch((err: unknown) => {
    if (err instanceof StoreLockedError) return storeHeldByRun(config, err, service)
    throw err
  })
  try {
    const cluster = config.clickhouse.cluster ? { name: config.clickhouse.cluster, database: config.clickhouse.database } : undefined
    const migration = await migrate(store, { retentionDays: config.retentionDays, cluster, repair }, moduleLogger(logger, 'clickhouse.migrations'))
    return { config, settings, logger, store, migration }
  } catch (err) {
    await store.close()
    throw err
  }
}

/** Runs a command body with an open store, and closes the store whatever happens. */
export async function withContext<T>(options: CommonOptions, body: (context: Context) => Promise<T>, contextOptions: ContextOptions = {}): Promise<T> {
  const context = await openContext(options, contextOptions)
  try {
    return await body(context)
  } finally {
    await context.store.close()
  }
}
