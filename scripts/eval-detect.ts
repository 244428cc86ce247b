// Recall and noise of every detector and built-in rule on the simulated organisation, with its
// incidents and traps, run over its last day as the scheduler would have.
//   npm run eval:detect [-- --days 21 --range-hours 24 --seed 7]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { atLeast, type Finding } from '../detectors/define.js'
import { DETECTORS } from '../detectors/registry.js'
import { detectRange, LATENESS_MS } from '../detectors/replay.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { EventWriter } from '../ingest/event-writer.js'
import { openEmbeddedStore } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { createLogger } from '../src/logger.js'
import { principalsFrom } from '../src/principals.js'
import { officeWorkingTime, simulateOrganisation } from '../src/simulate/organisation.js'

const { values } = parseArgs({ options: { days: { type: 'string', default: '21' }, 'range-hours': { type: 'string', default: '24' }, seed: { type: 'string', default: '7' } } })
// Thursday, 06:00 in Berlin, 00:00 in New York, 10:30 in Kolkata.
const END = Date.parse('2026-11-19T05:00:00Z')
const rangeHours = Number(values['range-hours'])
const logger = createLogger('warn')
// What `trailwatch run` runs with no rules of its own configured.
const detectors = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
const width = Math.max(...detectors.map((d) => d.id.length)) + 2
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-eval-'))

const organisation = simulateOrganisation({ days: Number(values.days), end: END, seed: Number(values.seed), traps: true })
const store = await openEmbeddedStore(path.join(work, 'data'), 'eval')
await migrate(store, { retentionDays: 400 }, logger)
const enricher = await loadSourceEnricher()
const writer = new EventWriter(store, { maxBatch: 10_000, logger })
for (const record of organisation.records) {
  const decoded = decodeEvent(Buffer.from(JSON.stringify(record)), enricher)
  if (!decoded.ok) throw new Error(decoded.reason)
  await writer.add(decoded.event)
}
await writer.flush()
await insertCredentialReport(store, parseCredentialReport(organisation.credentialReport), END, END)

console.log(`${organisation.records.length.toLocaleString('en')} events over ${values.days} days: ${organisation.incidents.length} incidents planted, ${organisation.traps.length} traps`)
console.log(`detect --from ${new Date(END - rangeHours * 3_600_000).toISOString()} --to ${new Date(END).toISOString()}`)

for (const [label, principals] of [
  ['default settings (no principals file)', principalsFrom({})],
  ['offices configured (TRAILWATCH_PRINCIPALS_FILE)', principalsFrom(officeWorkingTime())],
] as const) {
  const started = performance.now()
  const findings = await detectRange(store, detectors, { from: new Date(END - rangeHours * 3_600_000), to: new Date(END) }, { detectors: {}, principals }, LATENESS_MS)
  const emailed = findings.filter((f) => atLeast(f.severity, 'medium'))
  console.log(`\n${label}: ${((performance.now() - started) / 1000).toFixed(0)} s`)
  console.log(`${'detector'.padEnd(width)}${'planted'.padStart(8)}${'found'.padStart(7)}${'recall'.padStart(8)}${'emailed'.padStart(9)}${'noise'.padStart(7)}`)
  const row = (id: string, mine: Finding[]) => {
    const planted = organisation.incidents.filter((i) => i.detectors.includes(id))
    const found = planted.filter((i) => mine.some((f) => f.principal === i.principal))
    const noise = mine.filter((f) => !planted.some((i) => i.principal === f.principal))
    const recall = planted.length ? `${String(Math.round((found.length / planted.length) * 100))}%` : '-'
    console.log(`${id.padEnd(width)}${String(planted.length).padStart(8)}${String(found.length).padStart(7)}${recall.padStart(8)}${String(mine.length).padStart(9)}${String(noise.length).padStart(7)}`)
    return { planted: planted.length, found: found.length, noise: noise.length }
  }
  const totals = detectors.map((d) => row(d.id, emailed.filter((f) => f.detector === d.id))).reduce((a, b) => ({ planted: a.planted + b.planted, found: a.found + b.found, noise: a.noise + b.noise }))
  const trapsEmailed = organisation.traps.filter((t) => emailed.some((f) => f.principal === t.principal))
  console.log(`all: recall ${String(totals.found)}/${String(totals.planted)}, noise ${String(totals.noise)} emails, traps emailed ${String(trapsEmailed.length)}/${String(organisation.traps.length)}${trapsEmailed.length ? ` (${trapsEmailed.map((t) => t.kind).join('; ')})` : ''}`)
}

await store.close()
rmSync(work, { recursive: true, force: true })
