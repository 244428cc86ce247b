// Each detector's `detect --once` time over weeks of generated organisation activity, and passes of every rule.
//   npm run bench:detect [-- --events 1000000,10000000 --days 35 --rules datasets/sigma-cloudtrail]
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { durationMs } from '../detectors/define.js'
import { runDetector } from '../detectors/engine.js'
import { storeFindings } from '../src/alerts/table.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import type { Detector } from '../detectors/define.js'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { correlateIncidents } from '../src/incidents/incidents.js'
import { createLogger } from '../src/logger.js'
import { principalsFrom } from '../src/principals.js'
import { clickHouseTime } from '../src/time.js'
import { z } from 'zod'
import { fillOrganisation } from './organisation-store.js'

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000,10000000' }, days: { type: 'string', default: '35' }, rules: { type: 'string', default: path.resolve(import.meta.dirname, '../datasets/sigma-cloudtrail') } },
})
const sigmaRules = existsSync(values.rules) ? loadRuleFiles([values.rules]).rules.map((rule) => rule.detector) : []
const builtInRules = loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)
const days = Number(values.days)
const END = Date.parse('2026-11-19T05:00:00Z')
const DAY = 86_400_000
const logger = createLogger('warn')
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-detect-'))

function line(label: string, seconds: number, found?: number): void {
  console.log(`  ${label.padEnd(40)} ${seconds.toFixed(2).padStart(6)} s${found === undefined ? '' : `  ${String(found)} findings`}`)
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await work()
  return (performance.now() - started) / 1000
}

/** One pass of the rules, one after another, each over the window given for it: seconds and findings. */
async function pass(store: Store, rules: Detector[], window: (rule: Detector) => { now: Date; from: Date }): Promise<[number, number]> {
  let found = 0
  const seconds = await timed(async () => {
    for (const rule of rules) found += (await runDetector(store, rule, window(rule), { detectors: {}, principals: principalsFrom({}) })).length
  })
  return [seconds, found]
}

const main = async () => {
  for (const target of values.events.split(',').map(Number)) {
    const store = await openEmbeddedStore(path.join(work, 'data'), `bench_${target}`)
    await migrate(store, { retentionDays: 400 }, logger)
    const started = performance.now()
    const count = await fillOrganisation(store, target, days, END, logger)
    console.log(`${count.toLocaleString('en')} events over ${days} days generated and stored in ${((performance.now() - started) / 1000).toFixed(0)} s`)
    for (const detector of DETECTORS) {
      const now = new Date(END)
      const runStarted = performance.now()
      const findings = await runDetector(store, detector, { now, from: new Date(END - durationMs(detector.window)) }, { detectors: {}, principals: principalsFrom({}) })
      await storeFindings(store, findings, now)
      line(detector.id, (performance.now() - runStarted) / 1000, findings.length)
    }
    // Scheduled passes: each rule over its own window. The built-in first-seen rules learn their
    // history on their first pass, and read it from the store on the next.
    const own = (rule: Detector) => ({ now: new Date(END), from: new Date(END - durationMs(rule.window)) })
    if (sigmaRules.length > 0) line(`${String(sigmaRules.length)} Sigma rules, one pass`, ...(await pass(store, sigmaRules, own)))
    line(`${String(builtInRules.length)} built-in rules, first pass`, ...(await pass(store, builtInRules, own)))
    line(`${String(builtInRules.length)} built-in rules, next pass`, ...(await pass(store, builtInRules, own)))
    // What the scheduler adds after a pass with findings: the alerts put into incidents, then a pass with nothing new.
    const alerts = await selectRows(store, 'SELECT count() AS n FROM alerts FINAL', {}, z.object({ n: z.coerce.number() }))
    line(`incidents for ${String(alerts[0]?.n ?? 0)} new alerts`, await timed(() => correlateIncidents(store, new Date(END))))
    line('incidents, nothing new', await timed(() => correlateIncidents(store, new Date(END))))
    // Every rule with every stored event in its window, against one scan that parses each record.
    const all = { now: new Date(END), from: new Date(END - days * DAY) }
    const scan = await timed(() => selectRows(store, "SELECT countIf(JSONExtractString(raw, 'eventName') != '') AS parsed FROM events WHERE event_time >= {from:DateTime64(3)} AND event_time < {now:DateTime64(3)}", { from: clickHouseTime(all.from.getTime()), now: clickHouseTime(END) }, z.object({ parsed: z.coerce.number() })))
    line(`one parse of all ${count.toLocaleString('en')} records (baseline)`, scan)
    const [seconds, found] = await pass(store, [...sigmaRules, ...builtInRules], () => all)
    line(`${String(sigmaRules.length + builtInRules.length)} rules, all events in the window`, seconds, found)
    console.log(`  all rules over all events / one parse: ${(seconds / scan).toFixed(1)}×`)
    await store.close()
  }
  rmSync(work, { recursive: true, force: true })
}

await main()
