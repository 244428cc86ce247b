import { Readable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Store } from '../../src/clickhouse/client.js'

/**
 * The real store, with inserts into `events` refused as a downed server would refuse them, for as
 * long as `refuse()` says: fault injection at the storage boundary, the engine itself untouched.
 */
export function refusingEventInserts(store: Store, refuse: () => boolean): Store {
  const client = new Proxy(store.client, {
    get(target, property, receiver) {
      if (property !== 'exec') return Reflect.get(target, property, receiver) as unknown
      return (params: Parameters<ClickHouseClient['exec']>[0]) => {
        if (params.query.startsWith('INSERT INTO events') && refuse()) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123'))
        return target.exec(params)
      }
    },
  })
  return { ...store, client }
}

/**
 * The real store, refusing as data the inserts into `events` whose rows contain `marker`: a file the
 * engine keeps refusing while everything else passes.
 */
export function refusingEventsContaining(store: Store, marker: string): Store {
  const client = new Proxy(store.client, {
    get(target, property, receiver) {
      if (property !== 'exec') return Reflect.get(target, property, receiver) as unknown
      return async (params: Parameters<ClickHouseClient['exec']>[0]) => {
        if (!params.query.startsWith('INSERT INTO events') || !('values' in params)) return target.exec(params)
        let rows = ''
        for await (const chunk of params.values as AsyncIterable<Buffer | string>) rows += chunk.toString()
        if (rows.includes(marker)) throw new Error('Code: 241. DB::Exception: Memory limit (total) exceeded')
        return target.exec({ ...params, values: Readable.from([rows]) })
      }
    },
  })
  return { ...store, client }
}
