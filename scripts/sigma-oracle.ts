// Development only: checks the Sigma compiler against pySigma's ClickHouse backend, the reference.
// Every SigmaHQ CloudTrail rule's example records (one to match, one not) go into the store twice:
// as events, where the compiled condition runs, and flattened into a table of dotted columns, where
// pySigma's query for the same rule runs. Each rule must pick the same records out of all of them.
//   python3 -m venv .oracle && .oracle/bin/pip install --ignore-requires-python pysigma-backend-clickhouse
//   SIGMA_PYTHON=.oracle/bin/python npm run oracle:sigma [-- datasets/sigma-cloudtrail]
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { loadRuleFiles } from '../detectors/rule-files.js'
import { compileDetection } from '../detectors/sigma.js'
import { openEmbeddedStore } from '../src/clickhouse/client.js'
import { eventLine, insertEventLines } from '../src/clickhouse/events.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { createLogger } from '../src/logger.js'
import { sigmaExamples } from '../test/helpers/sigma-examples.js'

const dir = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../datasets/sigma-cloudtrail'))
const python = process.env.SIGMA_PYTHON ?? 'python3'
const AT = Date.parse('2026-11-20T11:30:00Z')

const converted = z
  .record(z.string(), z.union([z.object({ queries: z.array(z.string()) }), z.object({ error: z.string() })]))
  .parse(JSON.parse(execFileSync(python, [path.join(import.meta.dirname, 'sigma-oracle.py'), dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })))

const { rules } = loadRuleFiles([dir])
const records = rules.flatMap((rule, i) => sigmaExamples(rule, AT, (kind) => `${String(kind)}${String(i).padStart(11, '0')}`))

/** A record as pySigma's backend sees a log: one column per dotted path, objects as their JSON text, absent as NULL. */
function flatten(value: unknown, prefix: string, into: Map<string, string>): void {
  if (prefix) into.set(prefix, typeof value === 'string' ? value : JSON.stringify(value))
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into)
  }
}
const flat = records.map((record) => {
  const fields = new Map<string, string>()
  flatten(record, '', fields)
  return fields
})
const referenced = Object.values(converted).flatMap((c) => ('queries' in c ? c.queries.flatMap((q) => [...q.matchAll(/`([^`]+)`|\b([A-Za-z]+)\s*(?:=|ILIKE|IN\b)/g)].map((m) => m[1] ?? m[2] ?? '')) : []))
const columns = [...new Set([...flat.flatMap((fields) => [...fields.keys()]), ...referenced])].filter(Boolean).sort()

const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-sigma-oracle-'))
const store = await openEmbeddedStore(work, 'oracle')
try {
  await migrate(store, { retentionDays: 400 }, createLogger('warn'))
  await insertEventLines(
    store,
    records.map((record) => {
      const decoded = decodeEvent(Buffer.from(JSON.stringify(record)))
      if (!decoded.ok) throw new Error(decoded.reason)
      return eventLine(decoded.event).line
    }),
  )
  // Column names are the fields of the shipped rules and of records written here: quoted, never from events.
  await store.client.command({ query: `CREATE TABLE logs (${columns.map((c) => `\`${c}\` Nullable(String)`).join(', ')}) ENGINE = Memory` })
  await store.client.insert({ table: 'logs', values: flat.map((fields) => Object.fromEntries(columns.map((c) => [c, fields.get(c) ?? null]))), format: 'JSONEachRow' })

  const Id = z.object({ id: z.string() })
  let agree = 0
  const disagreements: string[] = []
  const explained: string[] = []
  for (const rule of rules) {
    const reference = converted[rule.file]
    const name = path.basename(rule.file)
    if (!reference || 'error' in reference) {
      disagreements.push(`${name}: pySigma could not convert it (${reference && 'error' in reference ? reference.error : 'not converted'})`)
      continue
    }
    const condition = compileDetection(rule.detection)
    const ours = await selectRows(store, `SELECT DISTINCT event_id AS id FROM events WHERE ${condition.sql} ORDER BY id`, condition.params, Id)
    const theirs = await selectRows(store, reference.queries.map((q) => q.replace(/^SELECT \* FROM logs/, 'SELECT DISTINCT eventID AS id FROM logs')).join(' UNION DISTINCT ') + ' ORDER BY id', {}, Id)
    const [a, b] = [ours.map((r) => r.id).join(' '), theirs.map((r) => r.id).join(' ')]
    if (a === b) {
      agree++
      continue
    }
    // The backend writes `NOT field = value`: for a record without the field that is NULL, so no
    // match, where Sigma says a selection on an absent field does not match and its negation does.
    const onlyOurs = ours.filter((r) => !theirs.some((t) => t.id === r.id))
    const nullUnderNot = onlyOurs.length > 0 && theirs.every((t) => ours.some((r) => r.id === t.id)) && reference.queries.some((q) => q.includes('NOT '))
    ;(nullUnderNot ? explained : disagreements).push(`${name}: trailwatch matches [${a}], pySigma [${b}]`)
  }
  for (const line of explained) console.log(`${line}: an absent field under NOT, where pySigma's SQL gives NULL and Sigma a match`)
  for (const line of disagreements) console.log(line)
  console.log(`${String(rules.length)} rules over ${String(records.length)} records: ${String(agree)} agree with pySigma's ClickHouse backend, ${String(explained.length)} differ where it reads an absent field as NULL, ${String(disagreements.length)} differ otherwise`)
  if (disagreements.length > 0) process.exitCode = 1
} finally {
  await store.close()
  rmSync(work, { recursive: true, force: true })
}
