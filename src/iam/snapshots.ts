import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { AuthorizationDetails } from './authorization.js'

export interface Snapshot {
  account: string
  taken_at: string
  details: AuthorizationDetails
}

/** Stores one account's snapshot; the same account and time again replaces it. */
export async function storeSnapshot(store: Store, account: string, takenAt: number, text: string, now: number): Promise<void> {
  await store.client.insert({
    table: 'iam_snapshots',
    values: [{ account_id: account, taken_at: clickHouseTime(takenAt), imported_at: clickHouseTime(now), document: text }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

const Row = z.object({ account_id: z.string(), taken_at: isoFromMillis, document: z.string() })

/** Each account's latest snapshot at `at`, and the one before it when there is one. */
export async function latestSnapshots(store: Store, at: Date): Promise<{ latest: Snapshot; previous: Snapshot | undefined }[]> {
  const rows = await selectRows(
    store,
    `SELECT account_id, toUnixTimestamp64Milli(taken_at) AS taken_at, document FROM iam_snapshots FINAL
     WHERE taken_at <= {at:DateTime64(3)}
     ORDER BY account_id, taken_at DESC LIMIT 2 BY account_id`,
    { at: clickHouseTime(at.getTime()) },
    Row,
  )
  const parse = (row: z.output<typeof Row>): Snapshot => ({ account: row.account_id, taken_at: row.taken_at, details: AuthorizationDetails.parse(JSON.parse(row.document)) })
  const byAccount = new Map<string, z.output<typeof Row>[]>()
  for (const row of rows) byAccount.set(row.account_id, [...(byAccount.get(row.account_id) ?? []), row])
  return [...byAccount.values()].map(([latest, previous]) => ({ latest: parse(latest as z.output<typeof Row>), previous: previous ? parse(previous) : undefined }))
}
