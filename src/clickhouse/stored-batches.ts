import { z } from 'zod'
import { StorageError } from '../errors.js'
import { clickHouseTime, isoTime } from '../time.js'
import type { Store } from './client.js'
import { selectRows } from './rows.js'

export interface StoredSpan {
  from: Date
  to: Date
}

/** Notes in the journal that events of this span were stored; `stored_at` is the store's own clock. */
export async function recordStoredBatch(store: Store, span: StoredSpan): Promise<void> {
  await store.client.insert({
    table: 'stored_batches',
    values: [{ events_from: clickHouseTime(span.from.getTime()), events_to: clickHouseTime(span.to.getTime()) }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

/** The store's clock now: where following the journal starts, whatever the clocks of the processes writing it. */
export async function journalNow(store: Store): Promise<string> {
  const [row] = await selectRows(store, 'SELECT toString(now64(3)) AS now', {}, z.object({ now: z.string() }))
  if (!row) throw new StorageError('the store did not tell its time')
  return row.now
}

/** The span of every batch journalled after `after` (the store's time), and the time to follow on from. */
export async function storedBatchesAfter(store: Store, after: string): Promise<(StoredSpan & { last: string }) | undefined> {
  const [row] = await selectRows(
    store,
    `SELECT toString(max(stored_at)) AS last, toString(min(events_from)) AS events_from, toString(max(events_to)) AS events_to, count() AS batches
     FROM stored_batches WHERE stored_at > {after:DateTime64(3)}`,
    { after },
    z.object({ last: z.string(), events_from: z.string(), events_to: z.string(), batches: z.coerce.number() }),
  )
  if (!row?.batches) return undefined
  return { last: row.last, from: new Date(isoTime(row.events_from)), to: new Date(isoTime(row.events_to)) }
}
