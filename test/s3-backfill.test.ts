import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../ingest/backfill.js'
import { s3Client } from '../src/aws/clients.js'
import { runCli } from './helpers/cli.js'
import { apiCall, iamUser, type RawEvent } from './helpers/events.js'
import { startMoto, type Moto } from './helpers/moto.js'
import { openTestStore, queryRows, testDataDir, testLogger, type TestStore } from './helpers/store.js'

const BUCKET = 'org-trail'
const ORG = 'o-abcdef1234'
const MAIN = '111122223333'
const OTHER = '444455556666'

let moto: Moto
let s3: S3Client

/** A trail log file's key, as CloudTrail writes it under the trail's prefix. */
function logKey(account: string, region: string, day: string, serial: string, folder = 'CloudTrail'): string {
  const stamp = `${day.replace(/-/g, '')}T${serial.slice(0, 4)}Z`
  return `trails/AWSLogs/${ORG}/${account}/${folder}/${region}/${day.replace(/-/g, '/')}/${account}_${folder}_${region}_${stamp}_${serial}.json.gz`
}

/** `count` calls by one user on `day`, with ids that say where they were filed. */
function calls(account: string, region: string, day: string, count: number, tag: string): RawEvent[] {
  return Array.from({ length: count }, (_, i) =>
    apiCall(Date.parse(`${day}T10:00:00Z`) + i * 60_000, iamUser('dana'), '198.51.100.7', { eventID: `${tag}-${String(i)}`, recipientAccountId: account, awsRegion: region }),
  )
}

async function put(key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))
}

const logFile = (records: RawEvent[]): Buffer => gzipSync(JSON.stringify({ Records: records }))

beforeAll(async () => {
  moto = await startMoto()
  // The SDK reads the endpoint override and credentials from the environment, as it would in production.
  Object.assign(process.env, moto.env)
  s3 = s3Client()
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await put(logKey(MAIN, 'us-east-1', '2026-11-19', '0005aaaa'), logFile(calls(MAIN, 'us-east-1', '2026-11-19', 3, 'main-east-19')))
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '0105bbbb'), logFile(calls(MAIN, 'us-east-1', '2026-11-20', 4, 'main-east-20a')))
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '1205cccc'), logFile(calls(MAIN, 'us-east-1', '2026-11-20', 5, 'main-east-20b')))
  await put(logKey(MAIN, 'eu-west-1', '2026-11-20', '0905dddd'), logFile(calls(MAIN, 'eu-west-1', '2026-11-20', 2, 'main-west-20')))
  await put(logKey(OTHER, 'us-east-1', '2026-11-20', '0905eeee'), logFile(calls(OTHER, 'us-east-1', '2026-11-20', 6, 'other-east-20')))
  // Beside the log files: a digest, an Insights file and a stray object, none of them CloudTrail events.
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '0105ffff', 'CloudTrail-Digest'), logFile(calls(MAIN, 'us-east-1', '2026-11-20', 1, 'digest')))
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '0105gggg', 'CloudTrail-Insight'), logFile(calls(MAIN, 'us-east-1', '2026-11-20', 1, 'insight')))
  await put(`trails/AWSLogs/${ORG}/${MAIN}/CloudTrail/us-east-1/2026/11/20/notes.txt`, Buffer.from('not a log file'))
  // Two poison objects under log-file names: not gzip and not JSON, and a gzip cut short.
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '1305hhhh'), Buffer.from('<html>an error page saved as a log file</html>'))
  await put(logKey(MAIN, 'us-east-1', '2026-11-20', '1405iiii'), logFile(calls(MAIN, 'us-east-1', '2026-11-20', 50, 'cut')).subarray(0, 60))
}, 120_000)

afterAll(async () => {
  s3.destroy()
  await moto.stop()
})

const stored = async (store: TestStore, like: string) => Number((await queryRows<{ n: string }>(store, 'SELECT uniqExact(event_id) AS n FROM events WHERE event_id LIKE {like:String}', { like }))[0]?.n)

describe('backfill from an organisation trail in S3', () => {
  it('reads only the days, accounts and regions asked for, skips what is not a log file, and rejects poison with its reason', async () => {
    const store = await openTestStore()
    const run = () => backfill(store, [`s3://${BUCKET}/trails`], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger, s3: { filter: { from: Date.parse('2026-11-20T00:00:00Z'), to: Date.parse('2026-11-20T23:59:59Z'), accounts: [MAIN], regions: ['us-east-1'] } } })
    const first = await run()
    expect([first.files, first.stored, await stored(store, 'main-east-20%'), await stored(store, '%')]).toEqual([4, 9, 9, 9])
    const rejected = await queryRows<{ source: string; reason: string }>(store, 'SELECT source, reason FROM rejected_input ORDER BY source')
    expect(rejected.map((r) => r.source)).toEqual([expect.stringContaining('_1305hhhh.json.gz') as unknown, expect.stringContaining('_1405iiii.json.gz') as unknown])
    expect(rejected[0]?.reason).toMatch(/JSON|not a CloudTrail/i)
    expect(rejected[1]?.reason).toMatch(/cannot read the file/)
    expect(rejected[0]?.source).toMatch(/^s3:\/\/org-trail\/trails\/AWSLogs\//)

    // Run again: the objects read whole are skipped, the one cut short is read (and refused) again, nothing is stored twice.
    const again = await run()
    expect([again.skipped, again.files, again.stored, await stored(store, '%')]).toEqual([3, 1, 0, 9])
    await store.close()
  })

  it('with only an end, reads each region once and keeps the days up to the day after the end', async () => {
    const store = await openTestStore()
    const until = (to: string) => backfill(store, [`s3://${BUCKET}/trails`], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger, s3: { filter: { to: Date.parse(to) } } })
    expect((await until('2026-11-17T12:00:00Z')).files).toBe(0)
    // A file is filed a few minutes after its last event: the next day's folder may hold the end's events.
    const next = await until('2026-11-18T12:00:00Z')
    expect([next.files, next.stored, await stored(store, 'main-east-19%')]).toEqual([1, 3, 3])
    await store.close()
  })

  it('reads every account and region of the organisation without a filter', async () => {
    const store = await openTestStore()
    const summary = await backfill(store, [`s3://${BUCKET}/trails/`], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger })
    expect([summary.files, await stored(store, '%'), await stored(store, 'digest%'), await stored(store, 'insight%')]).toEqual([7, 3 + 4 + 5 + 2 + 6, 0, 0])
    await store.close()
  })

  it('says in one line what is wrong with a bucket that does not exist or a malformed URL', async () => {
    const missing = await runCli(['backfill', 's3://no-such-bucket/trails', '--data-dir', testDataDir()], { env: moto.env })
    expect([missing.code, missing.stderr]).toEqual([1, 'trailwatch: s3://no-such-bucket: no such bucket\n'])
    const malformed = await runCli(['backfill', 's3://Bad_Bucket', '--data-dir', testDataDir()], { env: moto.env })
    expect([malformed.code, malformed.stderr]).toEqual([1, 'trailwatch: s3://Bad_Bucket: expected s3://BUCKET or s3://BUCKET/PREFIX\n'])
  })
})
