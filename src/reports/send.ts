import type { Alerter } from '../alerting/alerter.js'
import { notificationId } from '../alerting/notifications.js'
import { suppressedCounts } from '../alerting/routes.js'
import { listSuppressions } from '../alerting/suppressions.js'
import type { Store } from '../clickhouse/client.js'
import type { CredentialLimits } from '../credentials/standing.js'
import { ConfigError } from '../errors.js'
import { credentialAgeReport, type CredentialAgeReport } from './credential-age.js'
import { composeCredentialEmail } from './credential-email.js'
import type { PostureConfig } from '../iam/assessment.js'
import { composePostureEmail, iamPostureReport, type PostureReport } from './iam-posture.js'

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

/** Queues the IAM posture report for each recipient, once per recipient and report time; nothing when no account has a snapshot or a credential report. */
export async function queuePostureReport(store: Store, alerter: Alerter, recipients: string[], at: Date, config: PostureConfig): Promise<PostureReport | undefined> {
  if (recipients.length === 0) throw new ConfigError('the IAM posture report has no recipients: set TRAILWATCH_REPORT_TO or TRAILWATCH_ALERT_TO')
  const report = await iamPostureReport(store, at, config)
  if (report.findings.length === 0) return undefined
  const { composed, attachments } = composePostureEmail(report)
  for (const to of recipients) await alerter.enqueue('report', notificationId('report', to, 'iam-posture', report.at), to, composed, at, attachments)
  return report
}
