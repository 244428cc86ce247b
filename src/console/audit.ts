import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

export interface AuditEntry {
  at: string
  actor: string
  /** sign-in, sign-in-refused, sign-out, acknowledged, resolved, suppressed, unsuppressed. */
  action: string
  target: string
  detail: string
  address: string
}

const AuditRow = z.object({ at: isoFromMillis, actor: z.string(), action: z.string(), target: z.string(), detail: z.string(), address: z.string() })

export async function recordAudit(store: Store, entry: AuditEntry): Promise<void> {
  await store.client.insert({ table: 'console_audit', values: [{ ...entry, at: clickHouseTime(Date.parse(entry.at)) }], format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
}

/** The newest entries first. */
export function readAudit(store: Store, limit: number): Promise<AuditEntry[]> {
  return selectRows(store, 'SELECT toUnixTimestamp64Milli(at) AS at, actor, action, target, detail, address FROM console_audit ORDER BY at DESC LIMIT {limit:UInt32}', { limit }, AuditRow)
}
