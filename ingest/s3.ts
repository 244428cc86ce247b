import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { awsRefusal, awsText } from '../src/aws/clients.js'
import { AppError } from '../src/errors.js'
import type { InputFile, OpenedInput } from './files.js'

const DAY = 86_400_000

/** Which of a trail's objects to read: a span of days, some accounts, some regions (all when empty). */
export interface TrailFilter {
  from?: number | undefined
  to?: number | undefined
  accounts?: string[] | undefined
  regions?: string[] | undefined
}

export interface S3Location {
  bucket: string
  prefix: string
}

/** `s3://BUCKET[/PREFIX]`, the prefix ending in `/` when given. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url)
  if (!match) throw new AppError('USAGE', `${url}: expected s3://BUCKET or s3://BUCKET/PREFIX`)
  const prefix = match[2] ?? ''
  return { bucket: match[1] ?? '', prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` }
}

/** A readable message for what S3 said, naming the bucket. */
function s3Failure(bucket: string, err: unknown): AppError {
  return new AppError('AWS', `s3://${bucket}: ${awsRefusal(err, 's3:ListBucket') ?? awsText(err)}`)
}

/** The common prefixes one level below `prefix`: the folders of the trail's key layout. */
async function folders(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const found: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token })).catch((err: unknown) => {
      throw s3Failure(bucket, err)
    })
    for (const common of page.CommonPrefixes ?? []) if (common.Prefix) found.push(common.Prefix)
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return found
}

const last = (prefix: string): string => prefix.slice(0, -1).split('/').pop() ?? ''

/**
 * The day folders to read, by CloudTrail's key layout `AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/
 * YYYY/MM/DD/`: only the trail's own folders (not CloudTrail-Digest or CloudTrail-Insight), only the
 * accounts and regions asked for, and with a span only its days, and the day after it: a file is
 * filed under the day it was written, a few minutes after its last event.
 */
async function dayPrefixes(client: S3Client, location: S3Location, filter: TrailFilter): Promise<string[]> {
  let level = [location.prefix]
  if (!location.prefix.split('/').includes('AWSLogs')) level = [`${location.prefix}AWSLogs/`]
  const below = async (prefixes: string[]) => (await Promise.all(prefixes.map((p) => folders(client, location.bucket, p)))).flat()
  // An organisation trail has a folder per organisation above the accounts.
  const owners = await below(level)
  const accountFolders = [...owners.filter((p) => /^\d{12}$/.test(last(p))), ...(await below(owners.filter((p) => /^o-[a-z0-9]{10,32}$/.test(last(p))))).filter((p) => /^\d{12}$/.test(last(p)))]
  const accounts = accountFolders.filter((p) => !filter.accounts?.length || filter.accounts.includes(last(p)))
  const regions = (await below(accounts.map((p) => `${p}CloudTrail/`))).filter((p) => !filter.regions?.length || filter.regions.includes(last(p)))
  // Without a start, each region is listed once and the end (if any) filters the keys: not a request per day since 2013.
  if (filter.from === undefined) return regions
  const from = Math.floor(filter.from / DAY) * DAY
  const to = (filter.to ?? Date.now()) + DAY
  const days: string[] = []
  for (let day = from; day <= to; day += DAY) days.push(new Date(day).toISOString().slice(0, 10).replace(/-/g, '/'))
  return regions.flatMap((region) => days.map((day) => `${region}${day}/`))
}

/** What an object of the trail is: a log file, or something else in its folders (a digest, a manifest). */
const LOG_FILE = /_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]+\.json(\.gz)?$/

/** Objects looked up in one query: years of a busy trail are hundreds of thousands of keys. */
const LOOKUP_BATCH = 10_000

/** Objects already read whole by an earlier run: skipped, so a stopped run resumes where it was. */
async function readBefore(store: Store, sources: string[]): Promise<Set<string>> {
  const done = new Set<string>()
  for (let start = 0; start < sources.length; start += LOOKUP_BATCH) {
    const batch = sources.slice(start, start + LOOKUP_BATCH)
    const rows = await selectRows(store, 'SELECT source, etag FROM objects_read WHERE source IN {sources:Array(String)}', { sources: batch }, z.object({ source: z.string(), etag: z.string() }))
    for (const row of rows) done.add(`${row.source}\0${row.etag}`)
  }
  return done
}

/** The day a log file is filed under (its key's YYYY/MM/DD folder), epoch ms. */
function filedOn(key: string): number {
  const match = /\/(\d{4})\/(\d{2})\/(\d{2})\/[^/]*$/.exec(key)
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN
}

/** The log files of a trail under `url` that `filter` keeps and no earlier run read whole, as inputs to backfill. */
export async function listTrailObjects(client: S3Client, store: Store, url: string, filter: TrailFilter): Promise<{ inputs: InputFile[]; skipped: number }> {
  const location = parseS3Url(url)
  const inputs: InputFile[] = []
  // The day after the end too: a file is filed a few minutes after its last event.
  const lastDay = filter.to === undefined ? Infinity : filter.to + DAY
  for (const prefix of await dayPrefixes(client, location, filter)) {
    let token: string | undefined
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: prefix, ContinuationToken: token })).catch((err: unknown) => {
        throw s3Failure(location.bucket, err)
      })
      for (const object of page.Contents ?? []) {
        if (!object.Key || !LOG_FILE.test(object.Key) || filedOn(object.Key) > lastDay) continue
        const source = `s3://${location.bucket}/${object.Key}`
        const key = object.Key
        inputs.push({ path: source, size: object.Size ?? 0, lineDelimited: false, version: object.ETag ?? '', open: () => openS3Object(client, location.bucket, key) })
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }
  const done = await readBefore(store, inputs.map((input) => input.path))
  const fresh = inputs.filter((input) => !done.has(`${input.path}\0${input.version ?? ''}`))
  return { inputs: fresh, skipped: inputs.length - fresh.length }
}

/** The chunks of `body`, counted as they arrive, and gunzipped when the first bytes say gzip. */
async function* decompressed(body: AsyncIterable<Buffer>, count: (bytes: number) => void): AsyncGenerator<Buffer> {
  const counted = (async function* () {
    for await (const chunk of body) {
      count(chunk.length)
      yield chunk
    }
  })()
  const first = await counted.next()
  if (first.done) return
  const whole = (async function* () {
    yield first.value
    yield* counted
  })()
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) yield* Readable.from(whole).pipe(createGunzip())
  else yield* whole
}

/** An object's bytes, decompressed when they are gzip (by their magic bytes, as for files). */
export async function openS3Object(client: S3Client, bucket: string, key: string): Promise<OpenedInput> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  if (!(object.Body instanceof Readable)) throw new AppError('AWS', `s3://${bucket}/${key}: no body`)
  let bytesRead = 0
  return { chunks: decompressed(object.Body, (n) => (bytesRead += n)), bytesRead: () => bytesRead }
}
