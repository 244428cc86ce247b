import { z } from 'zod'
import type { ClickHouseClient } from '@clickhouse/client'

/** Runs a parameterised query and parses every row with `schema`: the boundary where rows become types. */
export async function selectRows<T extends z.ZodType>(store: { client: ClickHouseClient }, query: string, params: Record<string, unknown>, schema: T): Promise<z.output<T>[]> {
  const result = await store.client.query({ query, query_params: params, format: 'JSONEachRow' })
  return z.array(schema).parse(await result.json())
}
