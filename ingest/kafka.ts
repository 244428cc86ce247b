import { readFileSync } from 'node:fs'
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import type { Config } from '../src/config.js'
import { ConfigError } from '../src/errors.js'
import type { Logger } from '../src/logger.js'

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

/** A kafkajs client from the configuration, its logs routed through ours. */
export function createKafka(settings: Config['kafka'], logger: Logger): Kafka {
  if (!settings.brokers) throw new ConfigError('KAFKA_BROKERS: not set; expected host:port, comma-separated')
  const kafkaLogger = logger.child({ module: 'kafka' })
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
        const retried = level === logLevel.ERROR && message.startsWith('Response ')
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
