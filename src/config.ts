import path from 'node:path'
import { z } from 'zod'
import { ConfigError } from './errors.js'

const positiveInt = (what: string) =>
  z.coerce.number({ error: `expected ${what}, a whole number` }).int(`expected ${what}, a whole number`).positive(`expected ${what} above 0`)

const Env = z.object({
  TRAILWATCH_DATA_DIR: z.string().min(1).default('./data'),
  /** Absent: the embedded engine in the data directory. */
  CLICKHOUSE_URL: z.url({ error: 'expected a URL such as http://localhost:8123' }).optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a database name of letters, digits and underscores')
    .default('trailwatch'),
  /** Days an event is kept after it was ingested. */
  TRAILWATCH_RETENTION_DAYS: positiveInt('a number of days').default(400),
  /** Absent: `warn` for one-off commands, `info` for long-running services. */
  TRAILWATCH_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  INGEST_MAX_BATCH: positiveInt('a number of events').max(50_000, 'expected at most 50000 (larger bodies approach V8 string limits)').default(10_000),
  /** CloudTrail events are at most a few hundred KB; anything far larger is not a record. */
  TRAILWATCH_MAX_RECORD_BYTES: positiveInt('a size in bytes').default(1024 * 1024),
})

export type Config = ReturnType<typeof toConfig>

function toConfig(env: z.infer<typeof Env>) {
  return {
    dataDir: path.resolve(env.TRAILWATCH_DATA_DIR),
    clickhouse: {
      url: env.CLICKHOUSE_URL,
      user: env.CLICKHOUSE_USER,
      password: env.CLICKHOUSE_PASSWORD,
      database: env.CLICKHOUSE_DATABASE,
    },
    retentionDays: env.TRAILWATCH_RETENTION_DAYS,
    logLevel: env.TRAILWATCH_LOG_LEVEL,
    ingest: {
      maxBatch: env.INGEST_MAX_BATCH,
      maxRecordBytes: env.TRAILWATCH_MAX_RECORD_BYTES,
    },
  }
}

export interface ConfigOverrides {
  dataDir?: string | undefined
}

/**
 * Reads the environment once. Every error names the variable and what is wrong with it;
 * values are never echoed, since some of them are secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  // An empty variable means "not set", as in most tools' configuration.
  const input: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  if (overrides.dataDir !== undefined) input.TRAILWATCH_DATA_DIR = overrides.dataDir

  const parsed = Env.safeParse(input)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  return toConfig(parsed.data)
}
