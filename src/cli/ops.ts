import { statfs } from 'node:fs/promises'
import { storeReachable } from '../clickhouse/client.js'
import { errorMessage } from '../errors.js'
import { StoreHost } from '../clickhouse/shared-store.js'
import { startOpsServer, type OpsServer, type Readiness } from '../ops/server.js'
import { createConsole } from '../console/console.js'
import { metrics } from '../metrics.js'
import type { Context } from './context.js'
import { moduleLogger } from '../logger.js'

export interface ServeOptions {
  checks?: Readiness
  /**
   * Share the embedded store this process holds with the other commands of its user, who find this
   * secret in the run file (only ever on a loopback address).
   */
  shareStore?: { token: string }
  /** Serve the web console for these detectors, naming the rule files that could not be loaded. */
  console?: { detectors: { id: string; title: string; schedule: string }[]; skippedRules?: string[] }
}

/** Failed detector runs since this process started, from the metric that counts them. */
async function detectorFailures(): Promise<Map<string, number>> {
  const { values } = await metrics.detectorFailures.get()
  return new Map(values.map((v) => [String(v.labels.detector), v.value]))
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
  let port = config.http.port
  const consolePages = options.console
    ? createConsole({
        store,
        settings: config.console,
        host: config.http.host,
        port: () => port,
        aliases: config.alerting.accountAliases,
        principals: context.settings.principals,
        detectors: options.console.detectors,
        skippedRules: options.console.skippedRules,
        failures: detectorFailures,
        logger: moduleLogger(context.logger, 'console'),
      })
    : undefined
  const server = await startOpsServer({
    ...config.http,
    logger: context.logger,
    readiness: async () => ({ store: await storeReachable(store), disk: await diskRoom(config.dataDir, config.minFreeDiskBytes), ...(await options.checks?.()) }),
    shared,
    console: consolePages,
  })
  port = Number(new URL(server.url).port)
  return {
    url: server.url,
    close: async () => {
      await server.close()
      await shared?.host.close()
    },
  }
}
