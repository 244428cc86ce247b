import { z } from 'zod'
import { parseAuthorizationDetails } from '../../src/iam/authorization.js'
import { postureFindings } from '../../src/iam/posture.js'
import { isoFromMillis } from '../../src/time.js'
import { defineDetector } from '../define.js'

/**
 * IAM configuration, from the snapshots `trailwatch import iam` stores: administrators who are
 * users, policies of "*" on "*", trust in anyone, in strangers, or in a third party without an
 * ExternalId, federated trust, unused roles, inline policies outside groups; and what changed
 * since the snapshot before (a new administrator, a new trust). Conditions on a grant are shown
 * as mitigations and lower its severity.
 */
export default defineDetector({
  id: 'iam-posture',
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
  config: z.object({
    /** The organisation's accounts: a trust in any other is a trust in a stranger. */
    organisationAccounts: z.array(z.string().regex(/^\d{12}$/, 'expected 12-digit account ids')).default([]),
    unusedRoleDays: z.number().int().positive().default(90),
  }),
  // Each account's latest snapshot at now, and the one before it.
  sql: `SELECT account_id, toUnixTimestamp64Milli(snapshots[1].1) AS taken_at, snapshots[1].2 AS document,
               if(length(snapshots) > 1, snapshots[2].2, '') AS previous
        FROM (SELECT account_id, arrayReverseSort(s -> s.1, groupArray((taken_at, document))) AS snapshots
              FROM (SELECT account_id, taken_at, document FROM iam_snapshots FINAL WHERE taken_at <= {now:DateTime64(3)}
                    ORDER BY account_id, taken_at DESC LIMIT 2 BY account_id)
              GROUP BY account_id)
        ORDER BY account_id`,
  row: z.object({ account_id: z.string(), taken_at: isoFromMillis, document: z.string(), previous: z.string() }),
  toFinding: (row, config) => {
    const latest = parseAuthorizationDetails(row.document, `the IAM snapshot of ${row.account_id}`)
    const previous = row.previous ? parseAuthorizationDetails(row.previous, `the previous IAM snapshot of ${row.account_id}`) : undefined
    return postureFindings(row.account_id, row.taken_at, latest, previous, config).map((f) => ({
      severity: f.severity,
      principal: f.subject,
      account: row.account_id,
      title: f.title,
      // The state's own start, not the run's: finding it again in each snapshot is not new activity.
      firstSeen: f.since,
      lastSeen: f.since,
      evidence: { check: f.check, subject: f.subject, mitigations: f.mitigations, snapshot: row.taken_at },
      why: `${f.why}${f.mitigations.length ? ` Narrowed by: ${f.mitigations.join('; ')}.` : ''}`,
      dedupKey: `${f.check}|${f.subject}|${f.title}`,
    }))
  },
})
