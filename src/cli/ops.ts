import { storeReachable } from '../clickhouse/client.js'
import { ReadOnlyQueries } from '../clickhouse/read-only-queries.js'
import { startOpsServer, type OpsServer, type Readiness } from '../ops/server.js'
import type { Context } from './context.js'

export interface ServeOptions {
  checks?: Readiness
  /**
   * Answer `trailwatch status` and `trailwatch query` for the embedded store this process holds, to
   * requests carrying this secret (only ever on a loopback address).
   */
  forOtherCommands?: { token: string; status: () => Promise<unknown> }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** A long-running command's /healthz, /readyz and /metrics; ready means the store answers and `checks` pass. */
export async function serveOps(context: Context, options: ServeOptions = {}): Promise<OpsServer> {
  const { store, config } = context
  const others = options.forOtherCommands && store.embedded && LOOPBACK.has(config.http.host) ? options.forOtherCommands : undefined
  const queries = others ? new ReadOnlyQueries(store, config.queries) : undefined
  const server = await startOpsServer({
    ...config.http,
    logger: context.logger,
    readiness: async () => ({ store: await storeReachable(store), ...(await options.checks?.()) }),
    token: others?.token,
    status: others?.status,
    query: queries ? (request, signal) => queries.run(request, signal) : undefined,
  })
  return {
    url: server.url,
    close: async () => {
      await server.close()
      await queries?.close()
    },
  }
}
