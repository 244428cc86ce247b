import type { Store } from '../clickhouse/client.js'
import { errorMessage } from '../errors.js'
import { startOpsServer, type OpsServer, type Readiness } from '../ops/server.js'
import type { Context } from './context.js'

export async function storeReachable(store: Store): Promise<true | string> {
  try {
    await store.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((r) => r.json())
    return true
  } catch (err) {
    return `store unreachable: ${errorMessage(err)}`
  }
}

/** A long-running command's /healthz, /readyz and /metrics; ready means the store answers and `checks` pass. */
export function serveOps(context: Context, checks: Readiness = () => Promise.resolve({}), status?: () => Promise<unknown>): Promise<OpsServer> {
  return startOpsServer({
    ...context.config.http,
    logger: context.logger,
    readiness: async () => ({ store: await storeReachable(context.store), ...(await checks()) }),
    status,
  })
}
