import type { Command } from 'commander'
import { openStore, type Store } from '../clickhouse/client.js'
import { migrate, type MigrationReport } from '../clickhouse/migrations.js'
import { loadConfig, type Config } from '../config.js'
import { createLogger, type Logger } from '../logger.js'

export interface CommonOptions {
  dataDir?: string
}

/** Every command takes the data directory; the environment's TRAILWATCH_DATA_DIR is the default. */
export function withCommonOptions(command: Command): Command {
  return command.option('--data-dir <dir>', 'data directory of the embedded store (default: $TRAILWATCH_DATA_DIR or ./data)')
}

export interface Context {
  config: Config
  logger: Logger
  store: Store
  migration: MigrationReport
}

/** Long-running services log at info unless told otherwise; one-off commands only warn. */
export interface ContextOptions {
  service?: boolean
}

/** Reads the configuration, opens the store and brings its schema up to date. */
async function openContext(options: CommonOptions, { service = false }: ContextOptions): Promise<Context> {
  const config = loadConfig(undefined, { dataDir: options.dataDir })
  const logger = createLogger(config.logLevel ?? (service ? 'info' : 'warn'))
  const store = await openStore(config, logger)
  try {
    const cluster = config.clickhouse.cluster ? { name: config.clickhouse.cluster, database: config.clickhouse.database } : undefined
    const migration = await migrate(store, { retentionDays: config.retentionDays, cluster }, logger.child({ module: 'clickhouse.migrations' }))
    return { config, logger, store, migration }
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
