import { findingsOfRow, POSTURE_SQL, PostureConfig, PostureRow } from '../../src/iam/assessment.js'
import { defineDetector } from '../define.js'

/**
 * IAM configuration, from the snapshots `trailwatch import iam` stores: administrators who are
 * users, policies of "*" on "*", trust in anyone, in strangers, or in a third party without an
 * ExternalId, federated trust, unused roles, inline policies outside groups, a weak password
 * policy; what changed since the snapshot before (a new administrator, a new trust); and from the
 * latest credential report, console users without MFA and root without MFA or with a key.
 * Conditions on a grant are shown as mitigations and lower its severity.
 */
export default defineDetector({
  id: 'iam-posture',
  kind: 'posture',
  title: 'IAM configuration against least privilege and trust',
  severity: 'high',
  schedule: '20 * * * *',
  window: '1d',
  lookback: '1d',
  attack: ['T1098', 'T1078.004'],
  runbook: [
    'Administrator access on a user: move it to a role people assume with MFA, then detach it from the user.',
    'A policy of "*" on "*": replace it with what is used (trailwatch suggest-policy ARN --days 90).',
    'A trust in any principal, in an account outside the organisation, or without an ExternalId: confirm who needs it; narrow the Principal, add aws:PrincipalOrgID or sts:ExternalId, or remove the statement.',
    'A role unused for months: remove it, or write down why it stays.',
  ],
  config: PostureConfig,
  sql: POSTURE_SQL,
  params: (config) => ({ unusedDays: config.unusedDays }),
  row: PostureRow,
  toFinding: (row, config) =>
    findingsOfRow(row, config).map((f) => ({
      severity: f.severity,
      principal: f.subject,
      account: row.account_id,
      title: f.title,
      // The state's own start, not the run's: finding it again in each snapshot is not new activity.
      firstSeen: f.since,
      lastSeen: f.since,
      evidence: { check: f.check, subject: f.subject, mitigations: f.mitigations, source: row.kind === 'credentials' ? 'credential report' : 'IAM snapshot', ...(row.kind === 'snapshot' ? { snapshot: row.at } : {}) },
      why: `${f.why}${f.mitigations.length ? ` Narrowed by: ${f.mitigations.join('; ')}.` : ''}`,
      dedupKey: `${f.check}|${f.subject}|${f.title}`,
    })),
})
