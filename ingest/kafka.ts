import { readFileSync } from 'node:fs'
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import type { Config } from '../src/config.js'
import { AppError, ConfigError } from '../src/errors.js'
import { moduleLogger, type Logger } from '../src/logger.js'

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

/** A kafkajs client from the configuration, its logs routed through ours. */
export function createKafka(settings: Config['kafka'], logger: Logger): Kafka {
  if (!settings.brokers) throw new ConfigError('KAFKA_BROKERS: not set; expected host:port, comma-separated')
  const kafkaLogger = moduleLogger(logger, 'kafka')
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _name, ...fields } = log
        // kafkajs logs every error response before it retries (coordinator loading, leader moving);
        // what it cannot retry reaches us as an exception.
        // Connection attempts are retried too; one that fails for good is reported by `connectTo`.
        const retried = level === logLevel.ERROR && (message.startsWith('Response ') || message.startsWith('Failed to connect') || message.startsWith('Connection error'))
        kafkaLogger[retried ? 'info' : (LEVELS[level] ?? 'info')](fields, message)
      },
  }
  if (settings.tls) {
    const read = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined)
    config.ssl = {
      rejectUnauthorized: settings.tls.rejectUnauthorized,
      ca: settings.tls.caFile ? [read(settings.tls.caFile) as string] : undefined,
      cert: read(settings.tls.certFile),
      key: read(settings.tls.keyFile),
    }
  }
  if (settings.sasl) {
    const { mechanism, username, password } = settings.sasl
    config.sasl = { mechanism, username, password } as SASLOptions
  }
  return new Kafka(config)
}

/** The first cause in an error's chain that says what went wrong on the wire (kafkajs wraps it in retry errors). */
function rootCause(err: unknown): string {
  let current: unknown = err
  while (current instanceof Error && current.cause instanceof Error) current = current.cause
  return current instanceof Error ? current.message : String(current)
}

/** Connects a kafkajs client, or fails with one line that names the brokers and why they could not be reached. */
export async function connectTo(client: { connect(): Promise<void> }, brokers: string[] | undefined): Promise<void> {
  try {
    await client.connect()
  } catch (err) {
    throw new AppError('KAFKA_UNREACHABLE', `cannot reach the Kafka brokers ${(brokers ?? []).join(', ')} (KAFKA_BROKERS): ${rootCause(err)}`, { retriable: true, cause: err })
  }
}
