import { readFileSync } from 'node:fs'
import { z } from 'zod'
import type { Config } from '../config.js'
import { DURATION_PATTERN, durationMs } from '../duration.js'
import { ConfigError, issueLines } from '../errors.js'
import { atLeast, SEVERITIES, type Severity } from '../severity.js'
import { configuredOutputs, type Output } from './outputs.js'

const duration = z.string().regex(DURATION_PATTERN, 'expected a duration such as 30m, 24h or 7d')
const severity = z.enum(SEVERITIES)

const Route = z.object({
  name: z.string().optional(),
  to: z.array(z.email()).min(1),
  minSeverity: severity.default('medium'),
  /** Absent: every detector. */
  detectors: z.array(z.string()).optional(),
  /** Absent: every account. */
  accounts: z.array(z.string()).optional(),
})

/** The TRAILWATCH_ALERTING_FILE: everything about who hears what, beyond the default route. */
const AlertingFile = z.object({
  routes: z.array(Route).default([]),
  /** Repeats of an alert group within this long after its email go into one digest. */
  dedupWindow: duration.default('24h'),
  /** Per detector id, overriding dedupWindow. */
  dedupWindows: z.record(z.string(), duration).default({}),
  /** Emails per recipient per hour sent at once; the rest wait for a digest. */
  maxPerHour: z.number().int().positive().default(20),
  timeZones: z.never({ error: 'principals’ time zones are set in TRAILWATCH_PRINCIPALS_FILE now (overrides: principals and timezone)' }).optional(),
})

export const OUTBOX_RECIPIENT = 'security@localhost'

export interface AlertRoute {
  name: string
  to: string[]
  minSeverity: Severity
  detectors?: string[] | undefined
  accounts?: string[] | undefined
}

export interface AlertingSettings {
  from: string
  routes: AlertRoute[]
  dedupWindowMs: (detector: string) => number
  maxPerHour: number
  pollMs: number
  retryMs: number
  maxAttempts: number
  /** Account id → the name the team calls it. */
  aliases: Record<string, string>
  consoleUrl: string | undefined
  /** Webhook, Slack, PagerDuty: every incident update goes to each. */
  outputs: Output[]
  /** Containment, for the detectors whose alerts contain their identity automatically. */
  contain: Config['contain']
}

function readAlertingFile(file: string | undefined): z.output<typeof AlertingFile> {
  if (!file) return AlertingFile.parse({})
  let json: unknown
  try {
    json = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError(`TRAILWATCH_ALERTING_FILE ${file}: ${(err as Error).message}`)
  }
  const parsed = AlertingFile.safeParse(json)
  if (!parsed.success) {
    const problems = issueLines(parsed.error)
    throw new ConfigError(`TRAILWATCH_ALERTING_FILE ${file}:\n  ${problems.join('\n  ')}`)
  }
  return parsed.data
}

export function loadAlertingSettings(config: Config): AlertingSettings {
  const file = readAlertingFile(config.alerting.file)
  const routes: AlertRoute[] = [
    ...(config.alerting.to.length > 0 ? [{ name: 'TRAILWATCH_ALERT_TO', to: config.alerting.to, minSeverity: config.alerting.minSeverity }] : []),
    ...file.routes.map((route, i) => ({ ...route, name: route.name ?? `route ${String(i + 1)}` })),
  ]
  // Into the outbox with nobody configured (a first try on a laptop): address the local security team.
  if (routes.length === 0 && !config.alerting.smtpUrl) routes.push({ name: 'outbox default', to: [OUTBOX_RECIPIENT], minSeverity: config.alerting.minSeverity })
  return {
    from: config.alerting.from,
    routes,
    dedupWindowMs: (detector) => durationMs(file.dedupWindows[detector] ?? file.dedupWindow),
    maxPerHour: file.maxPerHour,
    pollMs: config.alerting.pollMs,
    retryMs: config.alerting.retryMs,
    maxAttempts: config.alerting.maxAttempts,
    aliases: config.alerting.accountAliases,
    consoleUrl: config.alerting.consoleUrl,
    outputs: configuredOutputs(config.alerting),
    contain: config.contain,
  }
}

/** Everyone an alert should reach: the union of every route it matches. */
export function recipientsFor(routes: AlertRoute[], alert: { severity: Severity; detector: string; account: string }): string[] {
  const recipients = new Set<string>()
  for (const route of routes) {
    if (!atLeast(alert.severity, route.minSeverity)) continue
    if (route.detectors && !route.detectors.includes(alert.detector)) continue
    if (route.accounts && !route.accounts.includes(alert.account)) continue
    for (const to of route.to) recipients.add(to.toLowerCase())
  }
  return [...recipients].sort()
}
