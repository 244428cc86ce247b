// What looking back over history costs: the last day and the whole of the simulated organisation
// with every built-in detector and rule and the SigmaHQ rules, replayed set-based, against part of
// the day replayed run by run and against backfilling the same day, in one run.
//   npm run bench:replay [-- --events 1000000,10000000 --days 30 --run-by-run-hours 1]
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Finding } from '../detectors/define.js'
import { DETECTORS } from '../detectors/registry.js'
import { detectRange, LATENESS_MS } from '../detectors/replay.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { createLogger } from '../src/logger.js'
import { principalsFrom } from '../src/principals.js'
import { dropStore } from './drop-store.js'
import { writeLogFiles } from './log-files.js'
import { fillOrganisation, organisationDay } from './organisation-store.js'
import { peakMemory } from './peak-memory.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000,10000000' },
    days: { type: 'string', default: '30' },
    'run-by-run-hours': { type: 'string', default: '1' },
    rules: { type: 'string', default: path.resolve(import.meta.dirname, '../datasets/sigma-cloudtrail') },
  },
})
const days = Number(values.days)
const sampleHours = Number(values['run-by-run-hours'])
const END = Date.parse('2026-11-19T05:00:00Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR
const logger = createLogger('warn')
const settings = { detectors: {}, principals: principalsFrom({}) }
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-replay-'))
const rules = loadRuleFiles([builtInRulesDir(), ...(existsSync(values.rules) ? [values.rules] : [])]).rules.map((rule) => rule.detector)
const detectors = [...DETECTORS, ...rules]

async function freshStore(database: string): Promise<Store> {
  const store = await openEmbeddedStore(path.join(work, 'data'), database)
  await migrate(store, { retentionDays: 400 }, logger)
  return store
}

async function timed<T>(body: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now()
  const result = await body()
  return { result, seconds: (performance.now() - started) / 1000 }
}

function line(label: string, seconds: number, more = ''): void {
  console.log(`  ${label.padEnd(52)} ${seconds.toFixed(1).padStart(7)} s${more ? `  ${more}` : ''}`)
}

/** What a replay found, as the alerts it would raise: for comparing two ways of finding it. */
const alerts = (findings: Finding[]): string =>
  JSON.stringify([...findings].sort((a, b) => a.alertId.localeCompare(b.alertId)).map((f) => [f.alertId, f.severity, f.title, f.firstSeen, f.lastSeen, f.evidence]))

/** Backfilling the organisation's last day from log files on disk, into a store of its own: the cost detection is held to. */
async function backfillLastDay(target: number): Promise<{ seconds: number; events: number }> {
  const directory = path.join(work, `last-day-${String(target)}`)
  writeLogFiles(directory, organisationDay(target, days, days - 1, END).records, 1000)
  const store = await freshStore(`bench_replay_day_${String(target)}`)
  const summary = await backfill(store, [directory], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger })
  await dropStore(store)
  return { seconds: summary.seconds, events: summary.stored }
}

const main = async () => {
  console.log(`${String(DETECTORS.length)} detectors and ${String(rules.length)} rules (built-in and SigmaHQ), as the scheduler would have run them\n`)
  for (const target of values.events.split(',').map(Number)) {
    const store = await freshStore(`bench_replay_${String(target)}`)
    const filled = await timed(() => fillOrganisation(store, target, days, END, logger))
    console.log(`${filled.result.toLocaleString('en')} events over ${String(days)} days, stored in ${filled.seconds.toFixed(0)} s`)
    const baseline = await backfillLastDay(target)
    line(`backfill of the last day (${baseline.events.toLocaleString('en')} events, from files)`, baseline.seconds)
    const lastDay = { from: new Date(END - DAY), to: new Date(END) }
    // The first replay also learns the first-seen rules' history, as a first detect --from does.
    const day = await timed(() => detectRange(store, detectors, lastDay, settings, LATENESS_MS, { record: false }))
    line('the last day, set-based', day.seconds, `${(day.seconds / baseline.seconds).toFixed(2)}× the backfill, ${String(day.result.length)} alerts`)
    // Then each detector alone, to name the costliest (the single-event rules each pay for a scan of their own here).
    const costs: { id: string; seconds: number }[] = []
    for (const detector of detectors) costs.push({ id: detector.id, seconds: (await timed(() => detectRange(store, [detector], lastDay, settings, LATENESS_MS, { record: false }))).seconds })
    const costliest = costs.sort((a, b) => b.seconds - a.seconds).slice(0, 5)
    console.log(`    costliest alone: ${costliest.map((c) => `${c.id} ${c.seconds.toFixed(1)} s`).join(', ')}`)
    const sample = { from: new Date(END - sampleHours * HOUR), to: new Date(END) }
    const runByRun = await timed(() => detectRange(store, detectors, sample, settings, LATENESS_MS, { record: false, runByRun: true }))
    const setBased = await timed(() => detectRange(store, detectors, sample, settings, LATENESS_MS, { record: false }))
    const perDay = (runByRun.seconds * 24) / sampleHours
    line(`its last ${String(sampleHours)} h run by run (×${String(24 / sampleHours)} for a day)`, perDay, `${(perDay / day.seconds).toFixed(0)}× the day set-based`)
    const same = alerts(runByRun.result) === alerts(setBased.result)
    console.log(`  the same ${String(sampleHours)} h set-based: ${setBased.seconds.toFixed(1)} s, ${same ? 'the same' : 'NOT the same'} ${String(setBased.result.length)} alerts as run by run`)
    const all = await peakMemory(() => timed(() => detectRange(store, detectors, { from: new Date(END - days * DAY), to: new Date(END) }, settings, LATENESS_MS, { record: false })))
    line(`all ${String(days)} days, set-based`, all.result.seconds, `${String(all.result.result.length)} alerts, peak ${all.peakMiB.toFixed(0)} MiB resident`)
    await dropStore(store)
    console.log()
    if (!same) process.exitCode = 1
  }
}

try {
  await main()
} finally {
  rmSync(work, { recursive: true, force: true })
}
