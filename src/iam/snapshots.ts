import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { AppError, issueLines } from '../errors.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { cliOutput } from './authorization.js'

/** The output of `aws iam get-account-password-policy`, as documented. */
export const PasswordPolicy = z.object({
  MinimumPasswordLength: z.number().int().optional(),
  RequireSymbols: z.boolean().optional(),
  RequireNumbers: z.boolean().optional(),
  RequireUppercaseCharacters: z.boolean().optional(),
  RequireLowercaseCharacters: z.boolean().optional(),
  AllowUsersToChangePassword: z.boolean().optional(),
  ExpirePasswords: z.boolean().optional(),
  MaxPasswordAge: z.number().int().optional(),
  PasswordReusePrevention: z.number().int().optional(),
  HardExpiry: z.boolean().optional(),
})
export type PasswordPolicy = z.output<typeof PasswordPolicy>

export function parsePasswordPolicy(text: string, source: string): PasswordPolicy {
  const parsed = z.object({ PasswordPolicy }).safeParse(cliOutput(text, source))
  if (!parsed.success) throw new AppError('INVALID_IAM', `${source} is not the output of aws iam get-account-password-policy: ${issueLines(parsed.error).join('; ')}`)
  return parsed.data.PasswordPolicy
}

/** Stores one account's snapshot (and its password policy, when given); the same account and time again replaces it. */
export async function storeSnapshot(store: Store, account: string, takenAt: number, text: string, now: number, passwordPolicy?: PasswordPolicy): Promise<void> {
  await store.client.insert({
    table: 'iam_snapshots',
    values: [{ account_id: account, taken_at: clickHouseTime(takenAt), imported_at: clickHouseTime(now), document: text, password_policy: passwordPolicy ? JSON.stringify(passwordPolicy) : '' }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

/** IAM state older than this is named stale: a daily sync that stopped shows within a day of its next run. */
export const STALE_SNAPSHOT_MS = 2 * 86_400_000

export interface SnapshotAge {
  account: string
  taken_at: string
  stale: boolean
}

/** Each account's latest snapshot, and whether it is older than two days at `now`. */
export async function latestSnapshots(store: Store, now: Date): Promise<SnapshotAge[]> {
  const rows = await selectRows(store, 'SELECT account_id AS account, toUnixTimestamp64Milli(max(taken_at)) AS taken_at FROM iam_snapshots GROUP BY account ORDER BY account', {}, z.object({ account: z.string(), taken_at: isoFromMillis }))
  return rows.map((row) => ({ ...row, stale: now.getTime() - Date.parse(row.taken_at) > STALE_SNAPSHOT_MS }))
}
