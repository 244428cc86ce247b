import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { csv, textLine } from '../text.js'
import { ACCESS_KEY_INVENTORY, InventoryRow } from '../credentials/inventory.js'
import { DEFAULT_LIMITS, keyStanding, type CredentialLimits } from '../credentials/standing.js'
import { clickHouseTime, isoTime } from '../time.js'

/** One access key and where it stands against the limits, as the report shows it. */
export interface ReportedKey {
  account: string
  user: string
  access_key_id: string
  status: 'Active' | 'Inactive'
  created: string | null
  age_days: number | null
  last_used: string | null
  days_unused: number | null
  last_address: string
  last_region: string
  last_service: string
  rotation_overdue: boolean
  unused: boolean
  root_key: boolean
  /** What to do, worst first: `delete root key`, `inactive`, `rotate`, `unused`, `never used`, or `ok`. */
  standing: string
  known_from: string
}

export interface UserWithoutMfa {
  account: string
  user: string
  arn: string
  password_last_used: string | null
}

/** One user's console password and MFA, as the report shows them. */
export interface ReportedUser {
  account: string
  user: string
  arn: string
  /** A console password (root always may sign in). */
  password: boolean
  /** Days since the password was last set (or the user created, when it never was). */
  password_age_days: number | null
  password_last_used: string | null
  days_since_sign_in: number | null
  mfa_active: boolean
  /** `enable MFA`, `remove unused password`, both, or `ok`. */
  standing: string
}

export interface CredentialAgeReport {
  at: string
  limits: CredentialLimits
  /** The credential report each account's rows come from. */
  sources: { account: string; generated_at: string }[]
  keys: ReportedKey[]
  users: ReportedUser[]
  usersWithoutMfa: UserWithoutMfa[]
}

const LATEST = `(account_id, generated_at) IN (
  SELECT account_id, max(generated_at) FROM credential_reports WHERE generated_at <= {now:DateTime64(3)} GROUP BY account_id)`

const UserRow = z.object({
  account_id: z.string(),
  user: z.string(),
  arn: z.string(),
  password_enabled: z.coerce.boolean().nullable(),
  password_set: z.string().nullable(),
  password_last_used: z.string().nullable(),
  mfa_active: z.coerce.boolean(),
})
const Source = z.object({ account_id: z.string(), generated_at: z.string() })

/** Every access key the latest credential reports and CloudTrail know of at `at`; root keys; users without MFA. */
export async function credentialAgeReport(store: Store, at: Date, limits: CredentialLimits = DEFAULT_LIMITS): Promise<CredentialAgeReport> {
  const params = { now: clickHouseTime(at.getTime()) }
  const rows = <T extends z.ZodType>(query: string, schema: T): Promise<z.output<T>[]> => selectRows(store, query, params, schema)
  const [inventory, userRows, sources] = await Promise.all([
    rows(`SELECT * FROM (${ACCESS_KEY_INVENTORY}) ORDER BY account_id, user, slot, key`, InventoryRow),
    rows(
      `SELECT account_id, user, arn, password_enabled, toString(coalesce(password_last_changed, user_creation_time)) AS password_set,
              toString(password_last_used) AS password_last_used, mfa_active
       FROM credential_reports FINAL WHERE ${LATEST} ORDER BY account_id, user`,
      UserRow,
    ),
    rows(`SELECT DISTINCT account_id, toString(generated_at) AS generated_at FROM credential_reports WHERE ${LATEST} ORDER BY account_id`, Source),
  ])
  const keys = inventory.map((row): ReportedKey => {
    const standing = keyStanding(row, at, limits)
    return {
      account: row.account_id,
      user: row.user,
      access_key_id: row.key,
      status: row.active ? 'Active' : 'Inactive',
      created: standing.createdMs === undefined ? null : new Date(standing.createdMs).toISOString(),
      age_days: standing.ageDays ?? null,
      last_used: standing.lastUsedMs === undefined ? null : new Date(standing.lastUsedMs).toISOString(),
      days_unused: standing.idleDays ?? null,
      last_address: row.last_source,
      last_region: row.last_region,
      last_service: row.last_service,
      rotation_overdue: standing.rotationOverdue,
      unused: standing.unused,
      root_key: standing.root,
      standing: standing.actions.length ? standing.actions.join(', ') : 'ok',
      known_from: row.source,
    }
  })
  const daysSince = (text: string | null): number | null => (text ? Math.max(0, Math.floor((at.getTime() - Date.parse(isoTime(text))) / 86_400_000)) : null)
  const users = userRows.map((u): ReportedUser => {
    const password = u.password_enabled ?? u.user === '<root_account>'
    const idle = daysSince(u.password_last_used) ?? daysSince(u.password_set)
    const actions = [...(password && !u.mfa_active ? ['enable MFA'] : []), ...(password && u.user !== '<root_account>' && idle !== null && idle >= limits.unusedDays ? ['remove unused password'] : [])]
    return {
      account: u.account_id,
      user: u.user,
      arn: u.arn,
      password,
      // Root's report says not_supported: its creation is not its password's age.
      password_age_days: password && u.user !== '<root_account>' ? daysSince(u.password_set) : null,
      password_last_used: u.password_last_used ? isoTime(u.password_last_used) : null,
      days_since_sign_in: daysSince(u.password_last_used),
      mfa_active: u.mfa_active,
      standing: actions.length ? actions.join(', ') : 'ok',
    }
  })
  return {
    at: at.toISOString(),
    limits,
    sources: sources.map((s) => ({ account: s.account_id, generated_at: isoTime(s.generated_at) })),
    keys,
    users,
    usersWithoutMfa: users.filter((u) => u.password && !u.mfa_active).map((u) => ({ account: u.account, user: u.user, arn: u.arn, password_last_used: u.password_last_used })),
  }
}

const CSV_COLUMNS: (keyof ReportedKey)[] = [
  'account', 'user', 'access_key_id', 'status', 'created', 'age_days', 'last_used', 'days_unused',
  'last_address', 'last_region', 'last_service', 'rotation_overdue', 'unused', 'root_key', 'standing', 'known_from',
]

const USER_CSV_COLUMNS: (keyof ReportedUser)[] = ['account', 'user', 'arn', 'password', 'password_age_days', 'password_last_used', 'days_since_sign_in', 'mfa_active', 'standing']

/** One row per access key, for a spreadsheet or a ticket. */
export function credentialReportCsv(report: CredentialAgeReport): string {
  return csv(report.keys, CSV_COLUMNS)
}

/** One row per user: console password, its age and last use, MFA. */
export function credentialUsersCsv(report: CredentialAgeReport): string {
  return csv(report.users, USER_CSV_COLUMNS)
}

export function credentialReportSummary(report: CredentialAgeReport): string[] {
  const active = report.keys.filter((k) => k.status === 'Active')
  // No report at all is not a clean bill: say what would give one.
  if (report.sources.length === 0 && report.keys.length === 0) return ['No credential report imported yet, so no key was judged: trailwatch import credential-report FILE.csv (the CSV of aws iam get-credential-report)']
  return [
    `${String(report.keys.length)} access keys (${String(active.length)} active) in ${String(new Set(report.keys.map((k) => k.account)).size)} accounts`,
    `${String(active.filter((k) => k.rotation_overdue).length)} active keys older than ${String(report.limits.rotationDays)} days`,
    `${String(active.filter((k) => k.unused).length)} active keys unused for ${String(report.limits.unusedDays)} days or more`,
    `${String(report.keys.filter((k) => k.root_key).length)} root access keys`,
    `${String(report.usersWithoutMfa.length)} users who sign in without MFA`,
  ]
}

function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : 'never'
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)]
}

/** Every user's console password and MFA: who signs in with a password alone, whose password nobody uses. */
function userTable(users: ReportedUser[]): string[] {
  const days = (n: number | null): string => (n === null ? '-' : `${String(n)}d`)
  return table(
    ['ACCOUNT', 'USER', 'PASSWORD', 'LAST SIGN-IN', 'IDLE', 'MFA', 'STANDING'],
    users.map((u) => [u.account, u.user, u.password ? (u.password_age_days === null ? 'yes' : `set ${days(u.password_age_days)} ago`) : 'none', day(u.password_last_used), days(u.days_since_sign_in), u.mfa_active ? 'yes' : 'no', u.standing]),
  )
}

/** A table for a terminal: one line per key, then one per user. Names and addresses are data: no control character reaches the terminal. */
export function credentialReportText(report: CredentialAgeReport): string {
  const header = ['ACCOUNT', 'USER', 'ACCESS KEY', 'STATUS', 'AGE', 'LAST USED', 'IDLE', 'LAST FROM', 'STANDING']
  const rows = report.keys.map((k) => [
    k.account, k.user, k.access_key_id || '(unmatched)', k.status, k.age_days === null ? '?' : `${String(k.age_days)}d`,
    day(k.last_used), k.days_unused === null ? '-' : `${String(k.days_unused)}d`,
    [k.last_address, k.last_region, k.last_service].filter(Boolean).join(' ') || '-', k.standing,
  ])
  return [
    `Credential-age report at ${report.at} (rotation ${String(report.limits.rotationDays)} d, unused ${String(report.limits.unusedDays)} d)`,
    ...report.sources.map((s) => `  account ${s.account}: credential report of ${s.generated_at}`),
    ...credentialReportSummary(report).map((s) => `  ${s}`),
    '',
    ...table(header, rows),
    '',
    ...userTable(report.users),
    '',
  ]
    .map(textLine)
    .join('\n')
}
