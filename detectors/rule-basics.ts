import { z } from 'zod'
import type { Severity } from './define.js'

/** Sigma's levels and the severities they are. */
export const LEVELS = { informational: 'info', low: 'low', medium: 'medium', high: 'high', critical: 'critical' } as const satisfies Record<string, Severity>

export const Level = z.enum(['informational', 'low', 'medium', 'high', 'critical'])

/** What every rule file says about itself, Sigma's or trailwatch's. */
export const RuleHeader = {
  title: z.string().min(1),
  id: z.string().min(1),
  /** How correlation rules refer to a rule. */
  name: z.string().optional(),
  description: z.string().optional(),
  author: z.string().optional(),
  tags: z.array(z.string()).optional(),
  level: Level.default('medium'),
  falsepositives: z.union([z.array(z.string()), z.string()]).optional(),
}

export const Timespan = z.string().regex(/^\d+[smhd]$/, 'expected a timespan such as 10m, 1h or 1d')

const SPAN_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A timespan (`30s`, `10m`, `1h`, `7d`) in milliseconds. */
export function timespanMs(timespan: string): number {
  return Number(timespan.slice(0, -1)) * (SPAN_UNITS[timespan.slice(-1)] ?? Number.NaN)
}

/** A Sigma timespan as the engine's window: it counts in minutes, so seconds round up to whole ones. */
export function windowOf(timespan: string): string {
  return timespan.endsWith('s') ? `${String(Math.max(1, Math.ceil(Number(timespan.slice(0, -1)) / 60)))}m` : timespan
}

interface Header {
  title: string
  id: string
  description?: string | undefined
  tags?: string[] | undefined
  level: z.output<typeof Level>
  falsepositives?: string[] | string | undefined
}

/**
 * What every rule runs with alike: every minute over a window, at the rule's level, its
 * `attack.t…` tags as ATT&CK ids, its description and false positives as the runbook.
 */
export function ruleBasics(rule: Header, window: string) {
  const falsePositives = typeof rule.falsepositives === 'string' ? [rule.falsepositives] : (rule.falsepositives ?? [])
  return {
    id: `rule:${rule.id}`,
    title: rule.title,
    severity: LEVELS[rule.level],
    schedule: '* * * * *',
    window,
    lookback: window,
    attack: (rule.tags ?? []).filter((tag) => /^attack\.t\d{4}/.test(tag)).map((tag) => tag.slice('attack.'.length).toUpperCase()),
    runbook: [rule.description ?? rule.title, ...falsePositives.map((fp) => `Known to be benign when: ${fp}`)].map((line) => line.trim()),
    config: z.object({}),
  }
}
