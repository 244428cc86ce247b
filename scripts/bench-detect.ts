// Each detector's `detect --once` time over weeks of generated organisation activity, and one pass of every Sigma rule.
//   npm run bench:detect [-- --events 1000000,10000000 --days 35 --rules ../shared/datasets/sigma-cloudtrail]
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { durationMs } from '../detectors/define.js'
import { runDetector, storeFindings } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { loadRuleFiles } from '../detectors/rule-files.js'
import { EventWriter } from '../ingest/event-writer.js'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { createLogger } from '../src/logger.js'
import { simulateOrganisation } from '../src/simulate/organisation.js'
import { principalsFrom } from '../src/principals.js'

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000,10000000' }, days: { type: 'string', default: '35' }, rules: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/datasets/sigma-cloudtrail') } },
})
const rules = existsSync(values.rules) ? loadRuleFiles([values.rules]).rules.map((rule) => rule.detector) : []
const days = Number(values.days)
const END = Date.parse('2026-11-19T05:00:00Z')
const DAY = 86_400_000
const logger = createLogger('warn')
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-detect-'))

/** Generates day by day so that memory holds one day, and ingests as it goes. */
async function fill(store: Store, target: number): Promise<number> {
  const enricher = await loadSourceEnricher()
  // About 2 × 24 × rate instance calls a day, plus a few hundred from people, CI and services.
  const instanceCallsPerHour = Math.max(1, Math.round((target / days - 400) / 48))
  const writer = new EventWriter(store, { maxBatch: 10_000, logger, skipStored: false })
  let count = 0
  for (let day = 0; day < days; day++) {
    const dayEnd = END - (days - day - 1) * DAY
    // People work the day before, unless it was a weekend.
    const workdays = [0, 6].includes(new Date(dayEnd - DAY).getUTCDay()) ? 0 : 1
    const { records, credentialReport } = simulateOrganisation({ days: 1, end: dayEnd, seed: day + 1, instanceCallsPerHour, workdays, incidents: day === days - 1 })
    for (const record of records) {
      const decoded = decodeEvent(Buffer.from(JSON.stringify(record)), enricher)
      if (!decoded.ok) throw new Error(decoded.reason)
      const wait = writer.add(decoded.event)
      if (wait) await wait
      count++
    }
    if (day === days - 1) await insertCredentialReport(store, parseCredentialReport(credentialReport), END, END)
  }
  await writer.flush()
  return count
}

const main = async () => {
  for (const target of values.events.split(',').map(Number)) {
    const store = await openEmbeddedStore(path.join(work, 'data'), `bench_${target}`)
    await migrate(store, { retentionDays: 400 }, logger)
    const started = performance.now()
    const count = await fill(store, target)
    console.log(`${count.toLocaleString('en')} events over ${days} days generated and stored in ${((performance.now() - started) / 1000).toFixed(0)} s`)
    for (const detector of DETECTORS) {
      const now = new Date(END)
      const runStarted = performance.now()
      const findings = await runDetector(store, detector, { now, from: new Date(END - durationMs(detector.window)) }, { detectors: {}, principals: principalsFrom({}) })
      await storeFindings(store, findings, now)
      console.log(`  ${detector.id.padEnd(26)} ${((performance.now() - runStarted) / 1000).toFixed(2).padStart(6)} s  ${findings.length} findings`)
    }
    if (rules.length > 0) {
      // One scheduled pass of every rule: each over its own window, one after another.
      const passStarted = performance.now()
      let found = 0
      for (const rule of rules) found += (await runDetector(store, rule, { now: new Date(END), from: new Date(END - durationMs(rule.window)) }, { detectors: {}, principals: principalsFrom({}) })).length
      console.log(`  ${`${String(rules.length)} Sigma rules, one pass`.padEnd(26)} ${((performance.now() - passStarted) / 1000).toFixed(2).padStart(6)} s  ${found} findings`)
    }
    await store.close()
  }
  rmSync(work, { recursive: true, force: true })
}

await main()
