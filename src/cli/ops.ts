import type { Store } from '../clickhouse/client.js'
import { errorMessage } from '../errors.js'
import { startOpsServer, type OpsServer, type Readiness } from '../ops/server.js'
import type { Context } from './context.js'
import { queryOutput } from './query.js'

export async function storeReachable(store: Store): Promise<true | string> {
  try {
    await store.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.json())
    return true
  } catch (err) {
    return `store unreachable: ${errorMessage(err)}`
  }
}

export interface ServeOptions {
  checks?: Readiness
  status?: () => Promise<unknown>
  /** Answer `trailwatch query` for the embedded store this process holds (only ever on a loopback address). */
  forwardQueries?: boolean
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** A long-running command's /healthz, /readyz and /metrics; ready means the store answers and `checks` pass. */
export function serveOps(context: Context, options: ServeOptions = {}): Promise<OpsServer> {
  const { store, config } = context
  const queries = options.forwardQueries && store.embedded && LOOPBACK.has(config.http.host)
  return startOpsServer({
    ...config.http,
    logger: context.logger,
    readiness: async () => ({ store: await storeReachable(store), ...(await options.checks?.()) }),
    status: options.status,
    query: queries ? (request) => queryOutput(store, request) : undefined,
  })
}
