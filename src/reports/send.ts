import type { Alerter } from '../alerting/alerter.js'
import { notificationId } from '../alerting/notifications.js'
import { suppressedCounts } from '../alerting/routes.js'
import { listSuppressions } from '../alerting/suppressions.js'
import type { Store } from '../clickhouse/client.js'
import type { CredentialLimits } from '../credentials/standing.js'
import { ConfigError } from '../errors.js'
import { credentialAgeReport, type CredentialAgeReport } from './credential-age.js'
import { composeCredentialEmail } from './credential-email.js'

const WEEK = 7 * 86_400_000

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
