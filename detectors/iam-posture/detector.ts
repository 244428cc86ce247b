import { z } from 'zod'
import { parseAuthorizationDetails } from '../../src/iam/authorization.js'
import { passwordPolicyFindings, PasswordStandard, postureFindings } from '../../src/iam/posture.js'
import { isoFromMillis } from '../../src/time.js'
import { defineDetector, type FindingDraft } from '../define.js'

/**
 * IAM configuration, from the snapshots `trailwatch import iam` stores: administrators who are
 * users, policies of "*" on "*", trust in anyone, in strangers, or in a third party without an
 * ExternalId, federated trust, unused roles, inline policies outside groups; and what changed
 * since the snapshot before (a new administrator, a new trust); and from the latest credential
 * report, console users without MFA and root without MFA or with a key. Conditions on a grant
 * are shown as mitigations and lower its severity.
 */
interface CredentialRow {
  account_id: string
  at: string
  user: string
  arn: string
  mfa_active: boolean
  active_keys: number
}

/** From the latest credential report: root without MFA or with keys, and people signing in with a password alone. */
function credentialFindings(row: CredentialRow): FindingDraft[] {
  const root = row.user === '<root_account>'
  const principal = root ? `arn:aws:iam::${row.account_id}:root` : row.arn
  const finding = (check: string, severity: FindingDraft['severity'], title: string, why: string): FindingDraft => ({
    severity,
    principal,
    account: row.account_id,
    title,
    // Since the user was created: the next report finding the same is not new.
    firstSeen: row.at,
    lastSeen: row.at,
    evidence: { check, subject: principal, mitigations: [], source: 'credential report' },
    why,
    dedupKey: `${check}|${principal}`,
  })
  if (!root) return [finding('console-user-without-mfa', 'high', `User ${row.user} signs in to the console without MFA`, 'A password alone is one phishing page away from the account: every console user needs MFA (CIS 1.10, Security Hub IAM.5).')]
  return [
    ...(row.mfa_active ? [] : [finding('root-without-mfa', 'critical', `The root user of ${row.account_id} has no MFA`, 'Root can do anything and cannot be limited by policy; it must have MFA (CIS 1.5, Security Hub IAM.9).')]),
    ...(row.active_keys > 0 ? [finding('root-access-key', 'critical', `The root user of ${row.account_id} has an active access key`, 'Root needs no access key; one that exists can do anything, forever (CIS 1.4, Security Hub IAM.4).')] : []),
  ]
}

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
    passwordPolicy: PasswordStandard.default(PasswordStandard.parse({})),
  }),
  // Each account's latest snapshot at now with the one before it, and the password policy of each
  // of its snapshots; from each account's latest credential report, the people who sign in without
  // MFA and root's MFA and keys.
  sql: `SELECT * FROM (
        SELECT 'snapshot' AS kind, d.account_id AS account_id, toUnixTimestamp64Milli(d.snapshots[1].1) AS at, d.snapshots[1].2 AS document,
               if(length(d.snapshots) > 1, d.snapshots[2].2, '') AS previous, toJSONString(p.policies) AS policies,
               '' AS user, '' AS arn, false AS password_enabled, false AS mfa_active, 0 AS active_keys
        FROM (SELECT account_id, arrayReverseSort(s -> s.1, groupArray((taken_at, document))) AS snapshots
              FROM (SELECT account_id, taken_at, document FROM iam_snapshots FINAL WHERE taken_at <= {now:DateTime64(3)}
                    ORDER BY account_id, taken_at DESC LIMIT 2 BY account_id)
              GROUP BY account_id) AS d
        LEFT JOIN (SELECT account_id, arraySort(x -> x.1, groupArray((toUnixTimestamp64Milli(taken_at), password_policy))) AS policies
                   FROM iam_snapshots FINAL WHERE taken_at <= {now:DateTime64(3)} GROUP BY account_id) AS p ON p.account_id = d.account_id
        UNION ALL
        SELECT 'credentials', account_id, toUnixTimestamp64Milli(toDateTime64(coalesce(user_creation_time, generated_at), 3)), '', '', '', user, arn,
               coalesce(password_enabled, false), mfa_active, toUInt8(access_key_1_active) + toUInt8(access_key_2_active)
        FROM credential_reports FINAL
        WHERE (account_id, generated_at) IN (SELECT account_id, max(generated_at) FROM credential_reports WHERE generated_at <= {now:DateTime64(3)} GROUP BY account_id)
          AND (user = '<root_account>' AND (NOT mfa_active OR access_key_1_active OR access_key_2_active) OR user != '<root_account>' AND password_enabled AND NOT mfa_active))
        ORDER BY kind DESC, account_id, user`,
  row: z.object({
    kind: z.enum(['snapshot', 'credentials']),
    account_id: z.string(),
    at: isoFromMillis,
    document: z.string(),
    previous: z.string(),
    /** [[taken_at ms, password policy JSON], …] oldest first. */
    policies: z.string(),
    user: z.string(),
    arn: z.string(),
    password_enabled: z.coerce.boolean(),
    mfa_active: z.coerce.boolean(),
    active_keys: z.coerce.number(),
  }),
  toFinding: (row, config) => {
    if (row.kind === 'credentials') return credentialFindings(row)
    const latest = parseAuthorizationDetails(row.document, `the IAM snapshot of ${row.account_id}`)
    const previous = row.previous ? parseAuthorizationDetails(row.previous, `the previous IAM snapshot of ${row.account_id}`) : undefined
    return [...postureFindings(row.account_id, row.at, latest, previous, config), ...passwordPolicyFindings(row.account_id, row.policies, config.passwordPolicy)].map((f) => ({
      severity: f.severity,
      principal: f.subject,
      account: row.account_id,
      title: f.title,
      // The state's own start, not the run's: finding it again in each snapshot is not new activity.
      firstSeen: f.since,
      lastSeen: f.since,
      evidence: { check: f.check, subject: f.subject, mitigations: f.mitigations, snapshot: row.at },
      why: `${f.why}${f.mitigations.length ? ` Narrowed by: ${f.mitigations.join('; ')}.` : ''}`,
      dedupKey: `${f.check}|${f.subject}|${f.title}`,
    }))
  },
})
