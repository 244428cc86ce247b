import { parse } from 'csv-parse/sync'
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { InvalidEventError, issueLines } from '../errors.js'

/**
 * One user of an IAM credential report (`aws iam get-credential-report`), with AWS's placeholder
 * values read as what they mean: 'N/A' (not applicable: no password, no key), 'no_information'
 * (never used, or used before AWS tracked it) and 'not_supported' (the root user's password
 * fields) all become null; 'not_supported' for `password_enabled` stays unknown (null) too.
 */
export interface CredentialReportRow {
  user: string
  arn: string
  account_id: string
  user_creation_time: number | null
  password_enabled: boolean | null
  password_last_used: number | null
  password_last_changed: number | null
  password_next_rotation: number | null
  mfa_active: boolean
  access_key_1_active: boolean
  access_key_1_last_rotated: number | null
  access_key_1_last_used_date: number | null
  access_key_1_last_used_region: string
  access_key_1_last_used_service: string
  access_key_2_active: boolean
  access_key_2_last_rotated: number | null
  access_key_2_last_used_date: number | null
  access_key_2_last_used_region: string
  access_key_2_last_used_service: string
  cert_1_active: boolean
  cert_1_last_rotated: number | null
  cert_2_active: boolean
  cert_2_last_rotated: number | null
}

const PLACEHOLDERS = new Set(['N/A', 'no_information', 'not_supported', ''])

/** A timestamp in epoch seconds, or null for AWS's placeholders. */
const time = z.string().transform((value, ctx) => {
  if (PLACEHOLDERS.has(value)) return null
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected an ISO 8601 time, N/A, no_information or not_supported' })
    return z.NEVER
  }
  return Math.floor(ms / 1000)
})
const flag = z.enum(['true', 'false'], { error: 'expected true or false' }).transform((value) => value === 'true')
const optionalFlag = z.enum(['true', 'false', 'not_supported'], { error: 'expected true, false or not_supported' }).transform((value) => (value === 'not_supported' ? null : value === 'true'))
const place = z.string().transform((value) => (PLACEHOLDERS.has(value) ? '' : value))

const ReportRow = z.object({
  user: z.string().min(1),
  arn: z.string().regex(/^arn:[^:]+:iam::\d{12}:/, 'expected an IAM ARN'),
  user_creation_time: time,
  password_enabled: optionalFlag,
  password_last_used: time,
  password_last_changed: time,
  password_next_rotation: time,
  mfa_active: flag,
  access_key_1_active: flag,
  access_key_1_last_rotated: time,
  access_key_1_last_used_date: time,
  access_key_1_last_used_region: place,
  access_key_1_last_used_service: place,
  access_key_2_active: flag,
  access_key_2_last_rotated: time,
  access_key_2_last_used_date: time,
  access_key_2_last_used_region: place,
  access_key_2_last_used_service: place,
  // Older reports have no certificate columns.
  cert_1_active: flag.default(false),
  cert_1_last_rotated: time.default(null),
  cert_2_active: flag.default(false),
  cert_2_last_rotated: time.default(null),
})

/** Parses the whole report or nothing: a snapshot with holes would misstate every key's age. */
export function parseCredentialReport(csv: string): CredentialReportRow[] {
  let records: Record<string, string>[]
  try {
    records = parse(csv, { columns: true, skip_empty_lines: true, bom: true, trim: true })
  } catch (err) {
    throw new InvalidEventError(`not a credential report CSV: ${(err as Error).message}`)
  }
  const problems: string[] = []
  const rows: CredentialReportRow[] = []
  records.forEach((record, index) => {
    const parsed = ReportRow.safeParse(record)
    // Line 1 is the header.
    const line = index + 2
    if (!parsed.success) {
      for (const problem of issueLines(parsed.error)) problems.push(`line ${line}, ${problem}`)
      return
    }
    rows.push({ ...parsed.data, account_id: parsed.data.arn.split(':')[4] ?? '' })
  })
  if (problems.length > 0) {
    throw new InvalidEventError(`the credential report has ${problems.length} problem(s):\n  ${problems.slice(0, 20).join('\n  ')}`)
  }
  return rows
}

/** Stores one report snapshot; importing the same snapshot again replaces it. */
export async function insertCredentialReport(store: Store, rows: CredentialReportRow[], generatedAtMs: number, nowMs: number): Promise<void> {
  const generated_at = Math.floor(generatedAtMs / 1000)
  await store.client.insert({
    table: 'credential_reports',
    values: rows.map((row) => ({ ...row, generated_at, imported_at: nowMs })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}
