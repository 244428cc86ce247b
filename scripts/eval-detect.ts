// Recall and noise of every detector and built-in rule on two simulated organisations, each with its
// incidents and traps, run over its last day as the scheduler would have: noise is medium-or-higher
// findings on no planted incident, per organisation-day.
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
import { principalsFrom, type Principals } from '../src/principals.js'
import { simulateHarbour } from '../src/simulate/harbour.js'
import { officeWorkingTime, simulateOrganisation, type Organisation } from '../src/simulate/organisation.js'
import { textLine } from '../src/text.js'

const { values } = parseArgs({ options: { days: { type: 'string', default: '21' }, 'range-hours': { type: 'string', default: '24' }, seed: { type: 'string', default: '7' } } })
const rangeHours = Number(values['range-hours'])
const seed = Number(values.seed)
const logger = createLogger('warn')
// What `trailwatch run` runs with no rules of its own configured.
const detectors = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
const width = Math.max(...detectors.map((d) => d.id.length)) + 2
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-eval-'))
const enricher = await loadSourceEnricher()

interface Simulated {
  name: string
  organisation: Organisation
  days: number
  end: number
  settings: [string, Principals][]
}

const organisations: Simulated[] = [
  {
    // Thursday, 06:00 in Berlin, 00:00 in New York, 10:30 in Kolkata.
    name: 'Berlin, New York and Kolkata offices',
    organisation: simulateOrganisation({ days: Number(values.days), end: Date.parse('2026-11-19T05:00:00Z'), seed, traps: true }),
    days: Number(values.days),
    end: Date.parse('2026-11-19T05:00:00Z'),
    settings: [
      ['default settings (no principals file)', principalsFrom({})],
      ['offices configured (TRAILWATCH_PRINCIPALS_FILE)', principalsFrom(officeWorkingTime())],
    ],
  },
  {
    // Tuesday 06:00 UTC: the day judged holds Monday's scan; the six weeks before hold Adelaide's, London's and Chicago's clock changes.
    name: 'London, Chicago, Pune and Adelaide offices',
    organisation: simulateHarbour({ days: 42, end: Date.parse('2026-11-10T06:00:00Z'), seed }),
    days: 42,
    end: Date.parse('2026-11-10T06:00:00Z'),
    settings: [['default settings (no principals file)', principalsFrom({})]],
  },
]

for (const [n, { name, organisation, days, end, settings }] of organisations.entries()) {
  const store = await openEmbeddedStore(path.join(work, `data-${String(n)}`), 'eval')
  await migrate(store, { retentionDays: 400 }, logger)
  const writer = new EventWriter(store, { maxBatch: 10_000, logger })
  for (const record of organisation.records) {
    const decoded = decodeEvent(Buffer.from(JSON.stringify(record)), enricher)
    if (!decoded.ok) throw new Error(decoded.reason)
    await writer.add(decoded.event)
  }
  await writer.flush()
  if (organisation.credentialReport) await insertCredentialReport(store, parseCredentialReport(organisation.credentialReport), end, end)

  console.log(`\n== ${name}: ${organisation.records.length.toLocaleString('en')} events over ${String(days)} days: ${String(organisation.incidents.length)} incidents planted, ${String(organisation.traps.length)} traps`)
  console.log(`detect --from ${new Date(end - rangeHours * 3_600_000).toISOString()} --to ${new Date(end).toISOString()}`)
  for (const [label, principals] of settings) {
    const started = performance.now()
    const findings = await detectRange(store, detectors, { from: new Date(end - rangeHours * 3_600_000), to: new Date(end) }, { detectors: {}, principals }, LATENESS_MS)
    const emailed = findings.filter((f) => atLeast(f.severity, 'medium'))
    console.log(`\n${label}: ${((performance.now() - started) / 1000).toFixed(0)} s`)
    console.log(`${'detector'.padEnd(width)}${'planted'.padStart(8)}${'found'.padStart(7)}${'recall'.padStart(8)}${'emailed'.padStart(9)}${'noise'.padStart(7)}`)
    const noisy: Finding[] = []
    const row = (id: string, mine: Finding[]) => {
      const planted = organisation.incidents.filter((i) => i.detectors.includes(id))
      const found = planted.filter((i) => mine.some((f) => f.principal === i.principal))
      // About an incident: by a detector that should find it, or within the hour of it; anything else about its principal is noise too.
      const noise = mine.filter((f) => !organisation.incidents.some((i) => i.principal === f.principal && (i.detectors.includes(id) || Math.abs(Date.parse(f.firstSeen) - Date.parse(i.at)) <= 3_600_000)))
      noisy.push(...noise)
      const recall = planted.length ? `${String(Math.round((found.length / planted.length) * 100))}%` : '-'
      // Only the detectors that had something to find or said something.
      if (planted.length || mine.length) console.log(`${id.padEnd(width)}${String(planted.length).padStart(8)}${String(found.length).padStart(7)}${recall.padStart(8)}${String(mine.length).padStart(9)}${String(noise.length).padStart(7)}`)
      return { planted: planted.length, found: found.length, noise: noise.length }
    }
    const totals = detectors.map((d) => row(d.id, emailed.filter((f) => f.detector === d.id))).reduce((a, b) => ({ planted: a.planted + b.planted, found: a.found + b.found, noise: a.noise + b.noise }))
    // Emailed about the trap's principal within an hour of it: an incident of the same person at another time is not the trap.
    const trapsEmailed = organisation.traps.filter((t) => emailed.some((f) => f.principal === t.principal && Math.abs(Date.parse(f.firstSeen) - Date.parse(t.at)) <= 3_600_000))
    const perDay = totals.noise / (rangeHours / 24)
    const quiet = findings.length - emailed.length
    console.log(`all: recall ${String(totals.found)}/${String(totals.planted)}, noise ${String(totals.noise)} emails (${perDay.toFixed(1)} per organisation-day), ${String(quiet)} low findings not emailed, traps emailed ${String(trapsEmailed.length)}/${String(organisation.traps.length)}${trapsEmailed.length ? ` (${trapsEmailed.map((t) => t.kind).join('; ')})` : ''}`)
    for (const finding of noisy) console.log(`  noise: ${finding.severity.toUpperCase()} ${finding.detector}: ${textLine(finding.title)}`)
    // A trap's principal may also be an incident's: what was emailed about it near the trap's time.
    for (const trap of trapsEmailed) {
      const near = emailed.filter((f) => f.principal === trap.principal && Math.abs(Date.parse(f.firstSeen) - Date.parse(trap.at)) <= 3_600_000)
      for (const finding of near) console.log(`  trap (${trap.kind}): ${finding.severity.toUpperCase()} ${finding.detector}: ${textLine(finding.title)}`)
    }
  }
  await store.close()
}

rmSync(work, { recursive: true, force: true })
