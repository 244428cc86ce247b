// Backfill from an organisation trail's bucket in S3 (moto, the emulator, on 127.0.0.1) against a
// backfill of the same gzipped log files from local disk, rounds taking turns, in the same run.
//   npm run bench:s3 [-- --records 100000 --per-file 1000 --rounds 3]
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { backfill, type BackfillOptions, type BackfillSummary } from '../ingest/backfill.js'
import { Decoder } from '../ingest/decoder.js'
import { s3Client } from '../src/aws/clients.js'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { createLogger } from '../src/logger.js'
import { syntheticRecords } from '../src/simulate/records.js'
import { dropStore } from './drop-store.js'
import { writeLogFiles } from './log-files.js'
import { peakMemory } from './peak-memory.js'
import { percentile } from './percentile.js'
import { startMoto } from '../test/helpers/moto.js'

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, 'per-file': { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' } } })
const total = Number(values.records)
const rounds = Number(values.rounds)
const BUCKET = 'bench-org-trail'
const ACCOUNT = '111122223333'
const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-s3-'))
const plainDir = path.join(work, 'plain')
const gzDir = path.join(work, 'gz')
const logger = createLogger('warn')

/** The synthetic log files gzipped, as CloudTrail delivers them: on disk, and in the bucket under the trail's key layout. */
async function prepare(): Promise<number> {
  writeLogFiles(plainDir, syntheticRecords({ count: total, seed: 7, startMs: Date.UTC(2026, 9, 1), stepMs: 1_000 }), Number(values['per-file']))
  mkdirSync(gzDir)
  const s3 = s3Client()
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  let bytes = 0
  const names = readdirSync(plainDir).sort()
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(
      names.slice(i, i + 8).map(async (name) => {
        const body = gzipSync(readFileSync(path.join(plainDir, name)))
        bytes += body.length
        const file = `${ACCOUNT}_CloudTrail_us-east-1_20261001T0000Z_${name.replace('.json', '')}.json.gz`
        writeFileSync(path.join(gzDir, file), body)
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `AWSLogs/${ACCOUNT}/CloudTrail/us-east-1/2026/10/01/${file}`, Body: body }))
      }),
    )
  }
  s3.destroy()
  return bytes
}

async function freshStore(database: string): Promise<Store> {
  const store = await openEmbeddedStore(path.join(work, 'data'), database)
  await migrate(store, { retentionDays: 400 }, logger)
  return store
}

async function measured(label: string, database: string, input: string, options: BackfillOptions): Promise<{ rate: number; peakMiB: number }> {
  const store = await freshStore(database)
  const { result, peakMiB } = await peakMemory<BackfillSummary>(() => backfill(store, [input], options))
  await dropStore(store)
  const rate = result.stored / result.seconds
  console.log(`${label.padEnd(26)} ${Math.round(rate).toLocaleString('en').padStart(9)} events/s  (${String(result.stored)} in ${result.seconds.toFixed(2)} s from ${String(result.files)} objects), peak ${peakMiB.toFixed(0)} MiB`)
  return { rate, peakMiB }
}

const main = async () => {
  const moto = await startMoto()
  Object.assign(process.env, moto.env)
  try {
    const bytes = await prepare()
    console.log(`${String(total)} synthetic records in ${String(readdirSync(gzDir).length)} gzipped log files, ${(bytes / 1024 / 1024).toFixed(1)} MB, on disk and in s3://${BUCKET}\n`)
    const decoder = await Decoder.start({ maxRecordBytes: 1 << 20 })
    const options: BackfillOptions = { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger, decoder }
    // Warm the decoding thread and the JIT once, so the first round measures reading, not compiling.
    await measured('warm-up (local disk)', 'bench_s3_warm', gzDir, options)
    const local: number[] = []
    const remote: number[] = []
    let peakMiB = 0
    for (let round = 1; round <= rounds; round++) {
      const disk = await measured('backfill from local disk', `bench_disk_${String(round)}`, gzDir, options)
      const s3 = await measured('backfill from S3 (moto)', `bench_s3_${String(round)}`, `s3://${BUCKET}/`, options)
      local.push(disk.rate)
      remote.push(s3.rate)
      peakMiB = Math.max(peakMiB, disk.peakMiB, s3.peakMiB)
    }
    const ratio = percentile(remote, 50) / percentile(local, 50)
    console.log(`\nS3 / local disk: ${(ratio * 100).toFixed(0)}% of the medians (each round: ${remote.map((r, i) => `${((r / (local[i] ?? NaN)) * 100).toFixed(0)}%`).join(', ')})`)
    console.log(`peak resident memory during a backfill: ${peakMiB.toFixed(0)} MiB (the whole process, the engine's too)`)
    await decoder.close()
  } finally {
    await moto.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
