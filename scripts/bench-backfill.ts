// Backfill throughput against the engine inserting the same rows prepared beforehand, and against a
// JSON.parse-only pass over the same bytes, all measured in the same run.
// With CLICKHOUSE_URL set, also a backfill into that server against one bulk insert of the same rows.
//   npm run bench:backfill [-- --records 200000 --per-file 1000 --batch 10000 --rounds 3]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { backfill, type BackfillOptions } from '../ingest/backfill.js'
import { openEmbeddedStore, openStore, type Store } from '../src/clickhouse/client.js'
import { Decoder, decodedLines } from '../ingest/decoder.js'
import { InputDecoder } from '../ingest/decoding.js'
import { insertEventLines } from '../src/clickhouse/events.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { loadConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { dropStore } from './drop-store.js'
import { writeLogFiles } from './log-files.js'
import { peakMemory } from './peak-memory.js'
import { percentile } from './percentile.js'

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, 'per-file': { type: 'string', default: '1000' }, batch: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' } } })
const total = Number(values.records)
const rounds = Number(values.rounds)
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

/** `cpuSeconds`: of the whole process (every thread, the engine's too) while it ran. */
function line(label: string, count: number, seconds: number, megabytes: number, cpuSeconds?: number): void {
  const cpu = cpuSeconds === undefined ? '' : `, ${cpuSeconds.toFixed(1)} s of CPU`
  console.log(`${label.padEnd(34)} ${Math.round(count / seconds).toLocaleString('en').padStart(9)} events/s  ${(megabytes / seconds).toFixed(1).padStart(6)} MB/s  (${count} in ${seconds.toFixed(2)} s${cpu})`)
}

const cpuSecondsSince = (before: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(before)
  return (user + system) / 1e6
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

/** A store of its own for one measure, its schema in place. */
async function freshStore(database: string): Promise<Store> {
  const store = await openEmbeddedStore(path.join(work, 'data'), database)
  await migrate(store, { retentionDays: 400 }, logger)
  return store
}

const median = (values: number[]) => percentile(values, 50)

const main = async () => {
  const { bytes } = generate()
  const megabytes = bytes / 1024 / 1024
  console.log(`${total} synthetic records in ${files().length} S3-style log files, ${megabytes.toFixed(0)} MB, ${Math.round(bytes / total)} bytes per record on average\n`)

  // Warm the page cache and the JIT.
  parseOnly()

  const parse = timed(parseOnly)
  line('JSON.parse only', parse.result, parse.seconds, megabytes)

  const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 }, await loadSourceEnricher())
  decodeOnly(decoder)
  const decode = timed(() => decodeOnly(decoder))
  line('decode only, one thread', decode.result.length, decode.seconds, megabytes)

  // Started apart, as a long-lived ingest service has it: the backfill is compared with inserts into a store already open.
  const threadStarted = performance.now()
  const decodingThread = await Decoder.start({ maxRecordBytes: 1 << 20 })
  const threadSeconds = (performance.now() - threadStarted) / 1000
  const options = { maxBatch: Number(values.batch), maxRecordBytes: 1 << 20, logger, decoder: decodingThread }
  // Warm the decoding thread's JIT as decodeOnly warmed this thread's: a cold first round measured
  // the compiler, at 55-63% of the engine where the warm rounds after it gave 75-89%.
  const warmUp = await freshStore('bench_warm_up')
  const inputFiles = files()
  await backfill(warmUp, inputFiles.slice(0, Math.ceil(inputFiles.length / 4)), options)
  await dropStore(warmUp)

  // Backfill and insert-only take turns, so that a slow spell of the shared machine falls on both.
  const backfillRates: number[] = []
  const insertRates: number[] = []
  const backfillCores: number[] = []
  const insertCores: number[] = []
  const atRestMiB = process.memoryUsage.rss() / 1024 / 1024
  let peakMiB = 0
  for (let round = 1; round <= rounds; round++) {
    const store = await freshStore(`bench_backfill_${String(round)}`)
    let cpuBefore = process.cpuUsage()
    const filled = await peakMemory(() => backfill(store, [inputDir], options))
    const backfillCpu = cpuSecondsSince(cpuBefore)
    peakMiB = Math.max(peakMiB, filled.peakMiB)
    backfillRates.push(filled.result.stored / filled.result.seconds)
    backfillCores.push(backfillCpu / filled.result.seconds)
    line('backfill into the embedded store', filled.result.stored, filled.result.seconds, megabytes, backfillCpu)
    if (round === 1) {
      const again = await backfill(store, [inputDir], options)
      line('backfill again (all duplicates)', again.duplicate, again.seconds, megabytes)
    }
    await dropStore(store)

    const engine = await freshStore(`bench_insert_${String(round)}`)
    cpuBefore = process.cpuUsage()
    const engineSeconds = await insertOnly(engine, decode.result, options.maxBatch)
    const engineCpu = cpuSecondsSince(cpuBefore)
    insertRates.push(decode.result.length / engineSeconds)
    insertCores.push(engineCpu / engineSeconds)
    line('engine insert only (rows prepared)', decode.result.length, engineSeconds, megabytes, engineCpu)
    await dropStore(engine)
  }

  const rate = median(backfillRates)
  const eachRound = backfillRates.map((backfilled, i) => percent(backfilled, insertRates[i] ?? NaN)).join(', ')
  console.log(`\nbackfill / engine insert only: ${percent(rate, median(insertRates))} of the medians (each round: ${eachRound})`)
  console.log(`backfill / JSON.parse only: ${percent(rate, parse.result / parse.seconds)}`)
  // The backfill does the engine's work and the decoding on the same cores: when they are all busy, that is its bound.
  console.log(`cores busy (medians): backfill ${median(backfillCores).toFixed(2)}, engine insert only ${median(insertCores).toFixed(2)}, of ${availableParallelism()}`)
  console.log(`decoding thread start-up (address data loaded), before the backfills: ${threadSeconds.toFixed(2)} s`)
  console.log(`peak resident memory during a backfill: ${peakMiB.toFixed(0)} MiB, ${atRestMiB.toFixed(0)} MiB before it (the whole process, the engine's too)`)
  await againstServer(decode.result, options, megabytes)
  await decodingThread.close()
  rmSync(work, { recursive: true, force: true })
}

await main()
