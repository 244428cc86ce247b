// Backfill throughput against the engine inserting the same rows prepared beforehand, and against a
// JSON.parse-only pass over the same bytes, all measured in the same run.
// With CLICKHOUSE_URL set, also a backfill into that server against one bulk insert of the same rows.
//   npm run bench:backfill [-- --records 200000 --per-file 1000 --batch 10000]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { backfill, type BackfillOptions } from '../ingest/backfill.js'
import { openEmbeddedStore, openStore, type Store } from '../src/clickhouse/client.js'
import { decodedLines } from '../ingest/decoder.js'
import { InputDecoder } from '../ingest/decoding.js'
import { insertEventLines } from '../src/clickhouse/events.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { loadConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { writeLogFiles } from './log-files.js'
import { peakMemory } from './peak-memory.js'

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, 'per-file': { type: 'string', default: '1000' }, batch: { type: 'string', default: '10000' } } })
const total = Number(values.records)
const perFile = Number(values['per-file'])
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-'))
const inputDir = path.join(work, 'input')
const logger = createLogger('warn')

function generate(): { bytes: number } {
  return { bytes: writeLogFiles(inputDir, syntheticRecords({ count: total, seed: 7, startMs: Date.UTC(2026, 9, 1), stepMs: 1_000 }), perFile) }
}

function files(): string[] {
  return readdirSync(inputDir).sort().map((name) => path.join(inputDir, name))
}

function timed<T>(body: () => T): { result: T; seconds: number } {
  const started = performance.now()
  const result = body()
  return { result, seconds: (performance.now() - started) / 1000 }
}

function parseOnly(): number {
  let count = 0
  for (const file of files()) count += (JSON.parse(readFileSync(file, 'utf8')) as { Records: unknown[] }).Records.length
  return count
}

/** What the decoding thread does, on this thread alone: frame, validate, normalise, build rows. */
function decodeOnly(decoder: InputDecoder): Buffer[] {
  const rows: Buffer[] = []
  for (const [stream, file] of files().entries()) {
    for (const piece of [decoder.run({ kind: 'chunk', stream, bytes: new Uint8Array(readFileSync(file)), lineDelimited: false }), decoder.run({ kind: 'end', stream, discard: false })]) {
      rows.push(...decodedLines(piece).map((line) => line.line))
    }
  }
  return rows
}

/** The engine alone: the same rows, prepared beforehand, inserted batch by batch. */
async function insertOnly(store: Store, rows: Buffer[], batch: number): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < rows.length; i += batch) await insertEventLines(store, rows.slice(i, i + batch))
  return (performance.now() - started) / 1000
}

function line(label: string, count: number, seconds: number, megabytes: number): void {
  console.log(`${label.padEnd(34)} ${Math.round(count / seconds).toLocaleString('en').padStart(9)} events/s  ${(megabytes / seconds).toFixed(1).padStart(6)} MB/s  (${count} in ${seconds.toFixed(2)} s)`)
}

const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(0)}%`

/** With CLICKHOUSE_URL: backfill into the server against one bulk insert of the same rows, as `clickhouse-client < rows.tsv` would send them. */
async function againstServer(rows: Buffer[], options: BackfillOptions, megabytes: number): Promise<void> {
  const { clickhouse } = loadConfig()
  if (!clickhouse.url) {
    console.log('ClickHouse server: skipped (set CLICKHOUSE_URL to compare a backfill into it with one bulk insert of the same rows)')
    return
  }
  const server = await openStore({ dataDir: work, clickhouse: { ...clickhouse, database: 'trailwatch_bench' } }, logger)
  try {
    await migrate(server, { retentionDays: 400 }, logger)
    const bulkStarted = performance.now()
    await insertEventLines(server, rows)
    const bulkSeconds = (performance.now() - bulkStarted) / 1000
    line('server: one bulk insert of the rows', rows.length, bulkSeconds, megabytes)
    await server.client.command({ query: 'TRUNCATE TABLE events' })
    const filled = await backfill(server, [inputDir], options)
    line('server: backfill', filled.stored, filled.seconds, megabytes)
    console.log(`server backfill / bulk insert: ${percent(filled.stored / filled.seconds, rows.length / bulkSeconds)}`)
  } finally {
    await server.client.command({ query: 'DROP DATABASE IF EXISTS trailwatch_bench' })
    await server.close()
  }
}

const main = async () => {
  const { bytes } = generate()
  const megabytes = bytes / 1024 / 1024
  console.log(`${total} synthetic records in ${files().length} S3-style log files, ${megabytes.toFixed(0)} MB, ${Math.round(bytes / total)} bytes per record on average\n`)

  // Warm the page cache and the JIT.
  parseOnly()

  const parse = timed(parseOnly)
  line('JSON.parse only', parse.result, parse.seconds, megabytes)

  const store = await openEmbeddedStore(path.join(work, 'data'), 'bench')
  await migrate(store, { retentionDays: 400 }, logger)
  const options = { maxBatch: Number(values.batch), maxRecordBytes: 1 << 20, logger }
  const atRestMiB = process.memoryUsage.rss() / 1024 / 1024
  const { result: first, peakMiB } = await peakMemory(() => backfill(store, [inputDir], options))
  line('backfill into the embedded store', first.stored, first.seconds, megabytes)
  const again = await backfill(store, [inputDir], options)
  line('backfill again (all duplicates)', again.duplicate, again.seconds, megabytes)
  await store.close()

  const decoder = new InputDecoder({ maxRecordBytes: 1 << 20, enricher: await loadSourceEnricher() })
  decodeOnly(decoder)
  const decode = timed(() => decodeOnly(decoder))
  line('decode only, one thread', decode.result.length, decode.seconds, megabytes)

  const engine = await openEmbeddedStore(path.join(work, 'data'), 'bench_engine')
  await migrate(engine, { retentionDays: 400 }, logger)
  const engineSeconds = await insertOnly(engine, decode.result, options.maxBatch)
  line('engine insert only (rows prepared)', decode.result.length, engineSeconds, megabytes)
  await engine.close()

  const rate = first.stored / first.seconds
  console.log(`\nbackfill / engine insert only: ${percent(rate, decode.result.length / engineSeconds)}`)
  console.log(`backfill / JSON.parse only: ${percent(rate, parse.result / parse.seconds)}`)
  console.log(`peak resident memory during the backfill: ${peakMiB.toFixed(0)} MiB, ${atRestMiB.toFixed(0)} MiB before it (the whole process, the engine's too)`)
  await againstServer(decode.result, options, megabytes)
  rmSync(work, { recursive: true, force: true })
}

await main()
