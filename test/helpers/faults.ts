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
