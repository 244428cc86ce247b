import type { Store } from '../src/clickhouse/client.js'

/**
 * Drops a measured store's tables and closes it: their merges would otherwise go on in the
 * background of the shared engine and slow whatever is measured next.
 */
export async function dropStore(store: Store): Promise<void> {
  const tables = await store.client.query({ query: 'SELECT name FROM system.tables WHERE database = currentDatabase()', format: 'JSONEachRow' })
  for (const { name } of await tables.json<{ name: string }>()) await store.client.command({ query: `DROP TABLE IF EXISTS \`${name}\` SYNC` })
  await store.close()
}
