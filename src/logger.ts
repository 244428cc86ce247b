import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

export type LogFormat = 'json' | 'pretty'

/**
 * One structured logger for the process, on stderr so that stdout stays clean for command output
 * (`--json`, query results): JSON lines for machines, or readable lines for a person at a terminal.
 * Modules take a child logger.
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }
  if (format === 'json') return pino(options, pino.destination(2))
  // Synchronous, so that a line written just before exit is not lost.
  return pino(options, pretty({ destination: 2, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss', ignore: 'module', messageFormat: '{if module}{module}: {end}{msg}' }))
}

/**
 * A command's logger. A person at a terminal reads lines and sees warnings and errors; piped (a
 * container, a service manager), long-running services log JSON from info up.
 */
export function commandLogger(settings: { logLevel?: string | undefined; logFormat?: LogFormat | undefined }, service: boolean): Logger {
  const terminal = process.stderr.isTTY as boolean | undefined
  return createLogger(settings.logLevel ?? (service && !terminal ? 'info' : 'warn'), settings.logFormat ?? (terminal ? 'pretty' : 'json'))
}
