import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { ConfigError, issueLines } from '../errors.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { parseAuthorizationDetails } from './authorization.js'
import { passwordPolicyFindings, PasswordStandard, postureFindings, type PostureFinding } from './posture.js'

/** The iam-posture settings in TRAILWATCH_DETECTORS_FILE; the weekly report reads the same. */
export const PostureConfig = z.object({
  /** The organisation's accounts: a trust in any other is a trust in a stranger. */
  organisationAccounts: z.array(z.string().regex(/^\d{12}$/, 'expected 12-digit account ids')).default([]),
  unusedDays: z.number().int().positive().default(90),
  passwordPolicy: PasswordStandard.default(PasswordStandard.parse({})),
})
export type PostureConfig = z.output<typeof PostureConfig>

export function postureConfig(detectorSettings: Record<string, unknown>): PostureConfig {
  // Whether it runs (`enabled`) is the registry's to say; zod leaves the key out.
  const parsed = PostureConfig.safeParse(detectorSettings['iam-posture'] ?? {})
  if (!parsed.success) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE iam-posture: ${issueLines(parsed.error).join('; ')}`)
  return parsed.data
}

/**
 * Each account's latest snapshot at {now} with the one before it, and the password policy of
 * each of its snapshots; and from each account's latest credential report, the people who sign
 * in without MFA and root's MFA and keys.
 */
export const POSTURE_SQL = `SELECT * FROM (
        SELECT 'snapshot' AS kind, d.account_id AS account_id, toUnixTimestamp64Milli(d.snapshots[1].1) AS at, d.snapshots[1].2 AS document,
               if(length(d.snapshots) > 1, d.snapshots[2].2, '') AS previous, toJSONString(p.policies) AS policies,
               '' AS user, '' AS arn, false AS password_enabled, false AS mfa_active, 0 AS active_keys, false AS idle, 0 AS last_used
        FROM (SELECT account_id, arrayReverseSort(s -> s.1, groupArray((taken_at, document))) AS snapshots
              FROM (SELECT account_id, taken_at, document FROM iam_snapshots FINAL WHERE taken_at <= {now:DateTime64(3)}
                    ORDER BY account_id, taken_at DESC LIMIT 2 BY account_id)
              GROUP BY account_id) AS d
        LEFT JOIN (SELECT account_id, arraySort(x -> x.1, groupArray((toUnixTimestamp64Milli(taken_at), password_policy))) AS policies
                   FROM iam_snapshots FINAL WHERE taken_at <= {now:DateTime64(3)} GROUP BY account_id) AS p ON p.account_id = d.account_id
        UNION ALL
        SELECT 'credentials', account_id, toUnixTimestamp64Milli(toDateTime64(coalesce(user_creation_time, generated_at), 3)), '', '', '', user, arn,
               coalesce(password_enabled, false), mfa_active, toUInt8(access_key_1_active) + toUInt8(access_key_2_active),
               user != '<root_account>' AND coalesce(user_creation_time, generated_at) < {now:DateTime64(3)} - toIntervalDay({unusedDays:UInt32})
                 AND greatest(coalesce(password_last_used, toDateTime(0)), coalesce(access_key_1_last_used_date, toDateTime(0)), coalesce(access_key_2_last_used_date, toDateTime(0)))
                     < {now:DateTime64(3)} - toIntervalDay({unusedDays:UInt32}) AS idle,
               toUnixTimestamp(greatest(coalesce(password_last_used, toDateTime(0)), coalesce(access_key_1_last_used_date, toDateTime(0)), coalesce(access_key_2_last_used_date, toDateTime(0)))) * 1000
        FROM credential_reports FINAL
        WHERE (account_id, generated_at) IN (SELECT account_id, max(generated_at) FROM credential_reports WHERE generated_at <= {now:DateTime64(3)} GROUP BY account_id)
          AND (user = '<root_account>' AND (NOT mfa_active OR access_key_1_active OR access_key_2_active) OR user != '<root_account>' AND password_enabled AND NOT mfa_active OR idle))
        ORDER BY kind DESC, account_id, user`

export const PostureRow = z.object({
  kind: z.enum(['snapshot', 'credentials']),
  account_id: z.string(),
  /** The snapshot's time; for a credential-report user, when the user was created. */
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
  /** A user that neither signed in nor used a key for unusedDays. */
  idle: z.coerce.boolean(),
  /** Its last sign-in or key use, ms; 0 when never. */
  last_used: z.coerce.number(),
})
export type PostureRow = z.output<typeof PostureRow>

/** From the latest credential report: root without MFA or with keys, and people signing in with a password alone. */
function credentialFindings(row: PostureRow): PostureFinding[] {
  const root = row.user === '<root_account>'
  const subject = root ? `arn:aws:iam::${row.account_id}:root` : row.arn
  // Since the user was created: the next report finding the same is not new.
  const finding = (check: string, severity: PostureFinding['severity'], title: string, why: string): PostureFinding => ({ check, severity, subject, title, why, mitigations: [], since: row.at })
  if (!root) {
    return [
      ...(row.password_enabled && !row.mfa_active ? [finding('console-user-without-mfa', 'high', `User ${row.user} signs in to the console without MFA`, 'A password alone is one phishing page away from the account: every console user needs MFA (CIS 1.10, Security Hub IAM.5).')] : []),
      ...(row.idle
        ? [finding('unused-user', 'low', `User ${row.user} ${row.last_used ? `unused since ${new Date(row.last_used).toISOString().slice(0, 10)}` : 'never used'}`, 'A user whose password and keys nobody uses is a credential nobody would miss if stolen: remove it, or its password and keys (CIS 1.12).')]
        : []),
    ]
  }
  return [
    ...(row.mfa_active ? [] : [finding('root-without-mfa', 'critical', `The root user of ${row.account_id} has no MFA`, 'Root can do anything and cannot be limited by policy; it must have MFA (CIS 1.5, Security Hub IAM.9).')]),
    ...(row.active_keys > 0 ? [finding('root-access-key', 'critical', `The root user of ${row.account_id} has an active access key`, 'Root needs no access key; one that exists can do anything, forever (CIS 1.4, Security Hub IAM.4).')] : []),
  ]
}

/** Every posture finding one row of POSTURE_SQL holds. */
export function findingsOfRow(row: PostureRow, config: PostureConfig): PostureFinding[] {
  if (row.kind === 'credentials') return credentialFindings(row)
  const latest = parseAuthorizationDetails(row.document, `the IAM snapshot of ${row.account_id}`)
  const previous = row.previous ? parseAuthorizationDetails(row.previous, `the previous IAM snapshot of ${row.account_id}`) : undefined
  return [...postureFindings(row.account_id, row.at, latest, previous, config), ...passwordPolicyFindings(row.account_id, row.policies, config.passwordPolicy)]
}

/** POSTURE_SQL's parameters. */
export function postureParams(config: PostureConfig, at: Date): Record<string, unknown> {
  return { now: clickHouseTime(at.getTime()), unusedDays: config.unusedDays }
}

/** Every account's posture at `at`: what the iam-posture detector finds, for a report. */
export async function assessPosture(store: Store, at: Date, config: PostureConfig): Promise<{ account: string; finding: PostureFinding }[]> {
  const rows = await selectRows(store, POSTURE_SQL, postureParams(config, at), PostureRow)
  return rows.flatMap((row) => findingsOfRow(row, config).map((finding) => ({ account: row.account_id, finding })))
}
