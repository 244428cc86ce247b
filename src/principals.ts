import { z } from 'zod'
import { timezone } from './config.js'
import { ConfigError, issueLines } from './errors.js'
import { globMatches } from './glob.js'
import { DayLearning } from './working-day.js'

const WorkingTime = z.object({
  timezone: timezone.optional(),
  /** [first hour, hour after the last] of the working day, local time. */
  hours: z.tuple([z.number().int().min(0).max(23), z.number().int().min(1).max(24)]).optional(),
  /** ISO weekdays, Monday = 1. */
  days: z.array(z.number().int().min(1).max(7)).optional(),
  /** Local dates (YYYY-MM-DD) that are not working days. */
  holidays: z.array(z.iso.date()).optional(),
})

/** TRAILWATCH_PRINCIPALS_FILE: what the operator knows about the people and machines behind ARNs. */
export const PrincipalSettings = z.object({
  defaults: WorkingTime.default({}),
  /** The first override whose pattern matches the principal ARN wins; `*` matches anything. */
  overrides: z.array(WorkingTime.extend({ name: z.string().optional(), principals: z.array(z.string()).min(1) })).default([]),
})
export type PrincipalSettings = z.input<typeof PrincipalSettings>

/** A principal's working time with every gap filled. */
export interface PrincipalWorkingTime {
  /** Undefined when nobody configured one: UTC stands in, and nobody should read it as local. */
  timezone: string | undefined
  hours: [number, number]
  days: number[]
  holidays: string[]
  /** Which entry said so: an override's name, `override`, or `defaults`. */
  from: string
  /** Whether anyone set any of it for this principal; if not, detection may learn it from their history. */
  configured: boolean
}

export interface Principals {
  workingTimeOf: (principal: string) => PrincipalWorkingTime
  /** How the working day of a person nobody configured is learned from their history. */
  learning: DayLearning
}

/** Settings written in code (the demo's offices, a test's) as a directory of principals. */
export function principalsFrom(input: PrincipalSettings, learning?: DayLearning): Principals {
  return principalsFromJson(input, 'principal settings', learning)
}

/** Settings read from a file (named by `source` in errors) as a directory of principals. */
export function principalsFromJson(input: unknown, source: string, learning: DayLearning = DayLearning.parse({})): Principals {
  const parsed = PrincipalSettings.safeParse(input)
  if (!parsed.success) {
    const problems = issueLines(parsed.error)
    throw new ConfigError(`${source}:\n  ${problems.join('\n  ')}`)
  }
  const { defaults, overrides } = parsed.data
  return {
    learning,
    workingTimeOf: (principal) => {
      const override = overrides.find((o) => o.principals.some((pattern) => globMatches(pattern, principal)))
      return {
        timezone: override?.timezone ?? defaults.timezone,
        hours: override?.hours ?? defaults.hours ?? [8, 19],
        days: override?.days ?? defaults.days ?? [1, 2, 3, 4, 5],
        holidays: override?.holidays ?? defaults.holidays ?? [],
        from: override?.name ?? (override ? 'override' : 'defaults'),
        configured: override !== undefined || [defaults.timezone, defaults.hours, defaults.days, defaults.holidays].some((value) => value !== undefined),
      }
    },
  }
}

/** `arn:aws:iam::1:user/path/bert-jan` → `bert-jan`; a role is `role NAME`; an account stays an account. */
export function shortPrincipal(principal: string): string {
  if (principal.endsWith(':root')) return 'root'
  const name = principal.split('/').pop() ?? principal
  return principal.includes(':role/') ? `role ${name}` : name
}
