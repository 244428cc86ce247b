import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * One structured logger for the process, writing JSON lines to stderr so that stdout stays
 * clean for command output (`--json`, query results). Modules take a child logger.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2))
}
