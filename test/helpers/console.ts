import { backtestOf } from '../../detectors/backtest.js'
import type { Detector } from '../../detectors/define.js'
import type { Store } from '../../src/clickhouse/client.js'
import { loadConfig } from '../../src/config.js'
import { consoleSurface } from '../../src/console/console.js'
import { startOpsServer, type OpsServer } from '../../src/ops/server.js'
import { principalsFrom } from '../../src/principals.js'
import { testLogger } from './store.js'

export interface ConsoleServing {
  /** Where the console believes it is bound (the test server itself listens on loopback only). */
  host?: string
  env?: Record<string, string>
  skippedRules?: string[]
  /** The detectors it shows, each with its page of what it would have found. */
  detectors?: Detector[]
  now: Date
}

/** The console over `store`, as `run` serves it, at a fixed time. */
export function serveConsole(store: Store, { host = '127.0.0.1', env = {}, skippedRules = [], detectors = [], now }: ConsoleServing): Promise<OpsServer> {
  const settings = { detectors: {}, principals: principalsFrom({}) }
  return startOpsServer({
    host: '127.0.0.1',
    port: 0,
    logger: testLogger,
    readiness: () => Promise.resolve({}),
    surface: consoleSurface({
      store,
      settings: loadConfig(env).console,
      contain: loadConfig(env).contain,
      host,
      aliases: {},
      principals: settings.principals,
      detectors: detectors.map(({ id, title, schedule, attack }) => ({ id, title, schedule, attack })),
      history: (id, range) => backtestOf(store, detectors, id, range, settings),
      skippedRules,
      failures: () => Promise.resolve(new Map()),
      logger: testLogger,
      clock: () => now,
    }),
  })
}

/** Signs in to a running console with a password; the session cookie, as `name=value`. */
export async function signInTo(base: string, user: string, password: string): Promise<string> {
  const response = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ user, password }).toString(), redirect: 'manual' })
  if (response.status !== 303) throw new Error(`signing in as ${user} answered ${String(response.status)}, not 303`)
  return (response.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
}
