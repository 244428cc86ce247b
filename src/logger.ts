import type cron from 'node-cron'
import { pino, type DestinationStream, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

export type LogFormat = 'json' | 'pretty'

/**
 * One structured logger for the process, on stderr so that stdout stays clean for command output
 * (`--json`, query results): JSON lines for machines, or readable lines for a person at a terminal.
 * Modules take a child logger.
 */
export function createLogger(level: string, format: LogFormat = 'json', destination?: DestinationStream): Logger {
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }
  const root =
    format === 'json'
      ? pino(options, destination ?? pino.destination(2))
      : // Synchronous, so that a line written just before exit is not lost.
        pino(options, pretty({ destination: 2, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss', ignore: 'module', messageFormat: '{if module}{module}: {end}{msg}' }))
  return Object.assign(root, { [ROOT]: root })
}

const ROOT = Symbol('the process logger')

/**
 * A module's logger: the parent's fields, with `module` naming this one. Made from the process
 * logger (children inherit it), because a child of a child that names a module again would write
 * the key twice.
 */
export function moduleLogger(parent: Logger, module: string): Logger {
  const { module: _parent, ...fields } = parent.bindings()
  const root = (parent as Logger & { [ROOT]?: Logger })[ROOT] ?? parent
  return root.child({ ...fields, module })
}

/**
 * A command's logger. A person at a terminal reads lines and sees warnings and errors; piped (a
 * container, a service manager), long-running services log JSON from info up.
 */
export function commandLogger(settings: { logLevel?: string | undefined; logFormat?: LogFormat | undefined }, service: boolean): Logger {
  const terminal = process.stderr.isTTY as boolean | undefined
  return createLogger(settings.logLevel ?? (service && !terminal ? 'info' : 'warn'), settings.logFormat ?? (terminal ? 'pretty' : 'json'))
}

/** node-cron's logger, as its schedule options take it. */
type CronLogger = NonNullable<NonNullable<Parameters<typeof cron.schedule>[2]>['logger']>

/**
 * node-cron's own lines, through the process logger: its warnings (a run skipped for overlap) at
 * debug, since the caller says what matters in its own words; its errors as errors.
 */
export function cronLogger(parent: Logger): CronLogger {
  const log = moduleLogger(parent, 'node-cron')
  return {
    info: (message) => {
      log.debug(message)
    },
    warn: (message) => {
      log.debug(message)
    },
    error: (message, err) => {
      log.error({ err: err?.message }, String(message))
    },
    debug: (message) => {
      log.debug(String(message))
    },
  }
}
