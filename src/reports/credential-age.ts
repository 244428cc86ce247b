import { stringify } from 'csv-stringify/sync'
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { textLine } from '../alerting/format.js'
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

export interface CredentialAgeReport {
  at: string
  limits: CredentialLimits
  /** The credential report each account's rows come from. */
  sources: { account: string; generated_at: string }[]
  keys: ReportedKey[]
  usersWithoutMfa: UserWithoutMfa[]
}

const LATEST = `(account_id, generated_at) IN (
  SELECT account_id, max(generated_at) FROM credential_reports WHERE generated_at <= {now:DateTime64(3)} GROUP BY account_id)`

const NoMfa = z.object({ account_id: z.string(), user: z.string(), arn: z.string(), password_last_used: z.string().nullable() })
const Source = z.object({ account_id: z.string(), generated_at: z.string() })

/** Every access key the latest credential reports and CloudTrail know of at `at`; root keys; users without MFA. */
export async function credentialAgeReport(store: Store, at: Date, limits: CredentialLimits = DEFAULT_LIMITS): Promise<CredentialAgeReport> {
  const params = { now: clickHouseTime(at.getTime()) }
  const rows = <T extends z.ZodType>(query: string, schema: T): Promise<z.output<T>[]> => selectRows(store, query, params, schema)
  const [inventory, noMfa, sources] = await Promise.all([
    rows(`SELECT * FROM (${ACCESS_KEY_INVENTORY}) ORDER BY account_id, user, slot, key`, InventoryRow),
    rows(
      `SELECT account_id, user, arn, toString(password_last_used) AS password_last_used FROM credential_reports FINAL
       WHERE ${LATEST} AND NOT mfa_active AND (password_enabled OR user = '<root_account>')
       ORDER BY account_id, user`,
      NoMfa,
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
  return {
    at: at.toISOString(),
    limits,
    sources: sources.map((s) => ({ account: s.account_id, generated_at: isoTime(s.generated_at) })),
    keys,
    usersWithoutMfa: noMfa.map((u) => ({ account: u.account_id, user: u.user, arn: u.arn, password_last_used: u.password_last_used ? isoTime(u.password_last_used) : null })),
  }
}

const CSV_COLUMNS: (keyof ReportedKey)[] = [
  'account', 'user', 'access_key_id', 'status', 'created', 'age_days', 'last_used', 'days_unused',
  'last_address', 'last_region', 'last_service', 'rotation_overdue', 'unused', 'root_key', 'standing', 'known_from',
]

/** One row per access key, for a spreadsheet or a ticket. */
export function credentialReportCsv(report: CredentialAgeReport): string {
  return stringify(
    report.keys.map((key) => CSV_COLUMNS.map((column) => key[column] ?? '')),
    {
      header: true,
      columns: CSV_COLUMNS,
      // A cell a spreadsheet would run as a formula (=, +, -, @, or a tab or CR first) is kept as text.
      cast: { boolean: (value) => (value ? 'true' : 'false'), string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
    },
  )
}

export function credentialReportSummary(report: CredentialAgeReport): string[] {
  const active = report.keys.filter((k) => k.status === 'Active')
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

/** A table for a terminal: one line per key, then the users without MFA. Names and addresses are data: no control character reaches the terminal. */
export function credentialReportText(report: CredentialAgeReport): string {
  const header = ['ACCOUNT', 'USER', 'ACCESS KEY', 'STATUS', 'AGE', 'LAST USED', 'IDLE', 'LAST FROM', 'STANDING']
  const rows = report.keys.map((k) => [
    k.account, k.user, k.access_key_id || '(unmatched)', k.status, k.age_days === null ? '?' : `${String(k.age_days)}d`,
    day(k.last_used), k.days_unused === null ? '-' : `${String(k.days_unused)}d`,
    [k.last_address, k.last_region, k.last_service].filter(Boolean).join(' ') || '-', k.standing,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [
    `Credential-age report at ${report.at} (rotation ${String(report.limits.rotationDays)} d, unused ${String(report.limits.unusedDays)} d)`,
    ...report.sources.map((s) => `  account ${s.account}: credential report of ${s.generated_at}`),
    ...credentialReportSummary(report).map((s) => `  ${s}`),
    '',
    line(header),
    ...rows.map(line),
    '',
    'USERS WITHOUT MFA',
    ...(report.usersWithoutMfa.length
      ? report.usersWithoutMfa.map((u) => `  ${u.account}  ${u.user}  password last used ${day(u.password_last_used)}`)
      : ['  none']),
    '',
  ]
    .map(textLine)
    .join('\n')
}
