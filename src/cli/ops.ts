import { statfs } from 'node:fs/promises'
import { storeReachable } from '../clickhouse/client.js'
import { errorMessage } from '../errors.js'
import { StoreHost } from '../clickhouse/shared-store.js'
import { startOpsServer, type OpsServer, type Readiness, type Surface } from '../ops/server.js'
import type { Context } from './context.js'

export interface ServeOptions {
  checks?: Readiness
  /**
   * Share the embedded store this process holds with the other commands of its user, who find this
   * secret in the run file (only ever on a loopback address).
   */
  shareStore?: { token: string }
  /** Serve a web surface (the console) beside the endpoints. */
  surface?: Surface
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Whether the data directory's disk has room for the store, the inbox and the outbox to grow. */
async function diskRoom(dataDir: string, minFreeBytes: number): Promise<true | string> {
  try {
    const { bavail, bsize } = await statfs(dataDir)
    const free = bavail * bsize
    if (free >= minFreeBytes) return true
    return `the disk of ${dataDir} has ${String(Math.floor(free / 1024 ** 2))} MiB free, under the ${String(Math.floor(minFreeBytes / 1024 ** 2))} MiB of TRAILWATCH_MIN_FREE_DISK_BYTES`
  } catch (err) {
    return `cannot tell the free space of ${dataDir}: ${errorMessage(err)}`
  }
}

/** A long-running command's /healthz, /readyz and /metrics; ready means the store answers and `checks` pass. */
export async function serveOps(context: Context, options: ServeOptions = {}): Promise<OpsServer> {
  const { store, config } = context
  const shared = options.shareStore && store.embedded && LOOPBACK.has(config.http.host) ? { host: new StoreHost(store), token: options.shareStore.token } : undefined
  const server = await startOpsServer({
    ...config.http,
    logger: context.logger,
    readiness: async () => ({ store: await storeReachable(store), disk: await diskRoom(config.dataDir, config.minFreeDiskBytes), ...(await options.checks?.()) }),
    shared,
    surface: options.surface,
  })
  return {
    url: server.url,
    close: async () => {
      await server.close()
      await shared?.host.close()
    },
  }
}
