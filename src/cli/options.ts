import { InvalidArgumentError } from 'commander'
import { DURATION_PATTERN, durationMs } from '../duration.js'

/** An ISO 8601 time option, as epoch milliseconds. */
export function parseInstant(value: string): number {
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected an ISO 8601 time such as 2026-11-27T09:00:00Z, got "${value}"`)
  return ms
}

/** When something ends: a duration from now (7d, 12h) or an ISO 8601 time. */
export function parseExpiry(value: string): Date {
  if (DURATION_PATTERN.test(value)) return new Date(Date.now() + durationMs(value))
  return new Date(parseInstant(value))
}

/** A whole number of days, at least one. */
export function parseDays(value: string): number {
  const days = Number(value)
  if (!Number.isInteger(days) || days < 1) throw new InvalidArgumentError(`expected a whole number of days, got "${value}"`)
  return days
}

/** A repeatable option: `--topic a --topic b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** Resolves on the first SIGINT or SIGTERM: long-running commands then shut down in order. */
export function untilStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        resolve()
      })
    }
  })
}
