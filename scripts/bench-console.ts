// Each console page's time on a store of the simulated organisation with thousands of alerts.
//   npm run bench:console [-- --events 10000000 --alerts 10000 --days 35]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import type { Finding } from '../detectors/define.js'
import { durationMs } from '../detectors/define.js'
import { runDetector } from '../detectors/engine.js'
import { storeFindings } from '../src/alerts/table.js'
import { DETECTORS } from '../detectors/registry.js'
import { ALERT_COLUMNS, StoredAlertRow } from '../src/alerts/table.js'
import { openEmbeddedStore } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { loadConfig } from '../src/config.js'
import { consoleSurface } from '../src/console/console.js'
import { correlateIncidents, incidentOfAlerts } from '../src/incidents/incidents.js'
import { createLogger } from '../src/logger.js'
import { startOpsServer } from '../src/ops/server.js'
import { principalsFrom } from '../src/principals.js'
import { fillOrganisation } from './organisation-store.js'

const { values } = parseArgs({ options: { events: { type: 'string', default: '10000000' }, alerts: { type: 'string', default: '10000' }, days: { type: 'string', default: '35' } } })
const END = Date.parse('2026-11-19T05:00:00Z')
const DAY = 86_400_000
const ACCOUNT = '111122223333'
const logger = createLogger('warn')
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-console-'))

/** Alerts of the kinds detectors raise, spread over the 30 days before the end, over 400 people. */
function syntheticFindings(count: number): Finding[] {
  const kinds: readonly (readonly [string, Finding['severity'], string[]])[] = [
    ['unusual-source-ip', 'high', ['T1078.004']],
    ['off-hours-activity', 'medium', ['T1078']],
    ['access-denied-burst', 'low', ['T1580']],
    ['iam-privilege-escalation', 'high', ['T1098']],
    ['console-login-without-mfa', 'medium', ['T1078.004']],
    ['cloudtrail-tampering', 'critical', ['T1562.008']],
  ]
  return Array.from({ length: count }, (_, i) => {
    const [detector, severity, attack] = kinds[i % kinds.length] as (typeof kinds)[number]
    const at = END - ((i * 7919) % (30 * 24 * 60)) * 60_000
    const user = `bench-${String(i % 400)}`
    const address = `198.51.${String((i >> 8) % 256)}.${String(i % 256)}`
    return {
      detector,
      alertId: `bench${String(i).padStart(8, '0')}`,
      severity,
      principal: `arn:aws:iam::${ACCOUNT}:user/${user}`,
      account: ACCOUNT,
      title: `${user} ${detector} from ${address}`,
      firstSeen: new Date(at - 5 * 60_000).toISOString(),
      lastSeen: new Date(at).toISOString(),
      evidence: { address },
      why: 'a benchmark alert',
      dedupKey: `bench-${String(i)}`,
      attack,
      runbook: [],
    }
  })
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now()
  const result = await work()
  return [result, performance.now() - started]
}

const main = async (): Promise<void> => {
  const store = await openEmbeddedStore(path.join(work, 'data'), 'bench_console')
  await migrate(store, { retentionDays: 400 }, logger)
  const [count, fillMs] = await timed(() => fillOrganisation(store, Number(values.events), Number(values.days), END, logger))
  console.log(`${count.toLocaleString('en')} events over ${values.days} days generated and stored in ${(fillMs / 1000).toFixed(0)} s`)
  const now = new Date(END)
  for (const detector of DETECTORS) await storeFindings(store, await runDetector(store, detector, { now, from: new Date(END - durationMs(detector.window)) }, { detectors: {}, principals: principalsFrom({}) }), now)
  const synthetic = syntheticFindings(Number(values.alerts))
  for (let i = 0; i < synthetic.length; i += 1000) await storeFindings(store, synthetic.slice(i, i + 1000), now)
  const [{ n: alerts } = { n: 0 }] = await selectRows(store, 'SELECT count() AS n FROM alerts FINAL', {}, z.object({ n: z.coerce.number() }))
  const [joined, correlateMs] = await timed(() => correlateIncidents(store, now))
  console.log(`${alerts.toLocaleString('en')} alerts put into ${String(joined.opened.length)} incidents in ${(correlateMs / 1000).toFixed(1)} s`)

  // The detectors' own worst alert in the organisation, and its incident.
  const [critical] = await selectRows(
    store,
    `SELECT ${ALERT_COLUMNS} FROM alerts FINAL WHERE alert_id NOT LIKE 'bench%' ORDER BY indexOf(['info', 'low', 'medium', 'high', 'critical'], severity) DESC, alert_id LIMIT 1`,
    {},
    StoredAlertRow,
  )
  const incident = critical ? ((await incidentOfAlerts(store, [critical.alert_id])).get(critical.alert_id) ?? '') : ''
  const server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    readiness: () => Promise.resolve({}),
    surface: consoleSurface({
      store,
      settings: loadConfig({}).console,
      contain: loadConfig({}).contain,
      host: '127.0.0.1',
      aliases: {},
      principals: principalsFrom({}),
      detectors: DETECTORS.map(({ id, title, schedule, attack }) => ({ id, title, schedule, attack })),
      failures: () => Promise.resolve(new Map()),
      logger,
      clock: () => now,
    }),
  })
  const pages = [
    ['/healthz (baseline: an HTTP round trip)', '/healthz'],
    ['incidents, last 7 days', '/'],
    ['incidents, high and above, 30 days', `/?severity=high&from=${new Date(END - 30 * DAY).toISOString().slice(0, 10)}`],
    ['an incident with its timeline', `/incidents/${incident}`],
    ['a principal', `/principals?arn=${encodeURIComponent(critical?.principal ?? '')}`],
    ['detectors', '/detectors'],
    ['data freshness', '/freshness'],
    ['credential age', '/credentials'],
    ['suppressions', '/suppressions'],
    ['audit log', '/audit'],
  ] as const
  console.log(`\n  ${'page'.padEnd(42)} ${'median'.padStart(8)} ${'slowest'.padStart(8)}  ${'size'.padStart(8)}`)
  let baseline = 0
  for (const [label, route] of pages) {
    const times: number[] = []
    let size = 0
    // One run to warm the engine's caches, then five timed.
    for (let run = 0; run < 6; run++) {
      const [body, ms] = await timed(async () => {
        const response = await fetch(`${server.url}${route}`)
        if (response.status !== 200) throw new Error(`${route}: ${String(response.status)}`)
        return response.text()
      })
      size = body.length
      if (run > 0) times.push(ms)
    }
    times.sort((a, b) => a - b)
    const median = times[2] ?? 0
    if (baseline === 0) baseline = median
    console.log(`  ${label.padEnd(42)} ${median.toFixed(0).padStart(6)} ms ${(times.at(-1) ?? 0).toFixed(0).padStart(5)} ms  ${(size / 1024).toFixed(0).padStart(5)} KiB${route === '/healthz' ? '' : `  ${(median / baseline).toFixed(0)}× baseline`}`)
  }
  await server.close()
  await store.close()
  rmSync(work, { recursive: true, force: true })
}

await main()
