import { z } from 'zod'
import { notificationId, type Alerter } from '../alerting/alerter.js'
import { suppressedCounts } from '../alerting/routes.js'
import { listSuppressions } from '../alerting/suppressions.js'
import type { Store } from '../clickhouse/client.js'
import { readDetectorSettings, type Config } from '../config.js'
import { ConfigError } from '../errors.js'
import { credentialAgeReport, DEFAULT_LIMITS, type CredentialAgeReport, type CredentialLimits } from './credential-age.js'
import { composeCredentialEmail } from './credential-email.js'

const WEEK = 7 * 86_400_000

/** The report judges keys by the same limits as the stale-access-key detector's settings. */
export function credentialLimits(config: Config): CredentialLimits {
  const Limits = z.looseObject({
    rotationDays: z.number().int().positive().default(DEFAULT_LIMITS.rotationDays),
    unusedDays: z.number().int().positive().default(DEFAULT_LIMITS.unusedDays),
  })
  const parsed = Limits.safeParse(readDetectorSettings(config.detectorsFile)['stale-access-key'] ?? {})
  if (!parsed.success) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE stale-access-key: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return { rotationDays: parsed.data.rotationDays, unusedDays: parsed.data.unusedDays }
}

/**
 * Queues the report for each recipient: one message per recipient and report time, so a report
 * asked for twice (a restart at the scheduled minute) goes out once. Delivery is the alerter's.
 */
export async function queueCredentialReport(store: Store, alerter: Alerter, recipients: string[], at: Date, limits: CredentialLimits): Promise<CredentialAgeReport> {
  if (recipients.length === 0) throw new ConfigError('the credential report has no recipients: set TRAILWATCH_REPORT_TO or TRAILWATCH_ALERT_TO')
  const report = await credentialAgeReport(store, at, limits)
  const counts = await suppressedCounts(store, new Date(at.getTime() - WEEK), at)
  const suppressed = (await listSuppressions(store)).filter((rule) => counts.has(rule.rule_id)).map((rule) => ({ rule, alerts: counts.get(rule.rule_id) ?? 0 }))
  const { composed, attachments } = composeCredentialEmail(report, suppressed)
  for (const to of recipients) await alerter.enqueue('report', notificationId('report', to, report.at), to, composed, at, attachments)
  return report
}
