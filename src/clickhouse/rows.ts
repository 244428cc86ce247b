import { z } from 'zod'
import type { Store } from './client.js'

/** A time selected as toUnixTimestamp64Milli(…), as ISO 8601. */
export const isoFromMillis = z.coerce.number().transform((ms) => new Date(ms).toISOString())

/** Runs a parameterised query and parses every row with `schema`: the boundary where rows become types. */
export async function selectRows<T extends z.ZodType>(store: Store, query: string, params: Record<string, unknown>, schema: T): Promise<z.output<T>[]> {
  const result = await store.client.query({ query, query_params: params, format: 'JSONEachRow' })
  return z.array(schema).parse(await result.json())
}
