import { setTimeout as sleep } from 'node:timers/promises'
import type { RowsInsert, Store } from '../../src/clickhouse/client.js'

/**
 * The real store, with inserts into `events` refused as a downed server would refuse them, for as
 * long as `refuse()` says: fault injection at the storage boundary, the engine itself untouched.
 */
export function refusingEventInserts(store: Store, refuse: () => boolean): Store {
  const insertRows = (insert: RowsInsert) =>
    insert.table === 'events' && refuse() ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')) : store.insertRows(insert)
  return { ...store, insertRows }
}

/**
 * The real store, refusing as data the inserts into `events` whose rows contain `marker`: a file the
 * engine keeps refusing while everything else passes.
 */
export function refusingEventsContaining(store: Store, marker: string): Store {
  const insertRows = (insert: RowsInsert) =>
    insert.table === 'events' && insert.rows.includes(marker) ? Promise.reject(new Error('Code: 241. DB::Exception: Memory limit (total) exceeded')) : store.insertRows(insert)
  return { ...store, insertRows }
}

/** The real store, each insert into `events` held back `ms` first: a store under load. */
export function slowEventInserts(store: Store, ms: number): Store {
  const insertRows = async (insert: RowsInsert) => {
    if (insert.table === 'events') await sleep(ms)
    await store.insertRows(insert)
  }
  return { ...store, insertRows }
}
