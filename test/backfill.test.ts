import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { backfill } from '../ingest/backfill.js'
import { DATASETS, INVICTUS, datasetRecord } from './helpers/datasets.js'
import { openTestStore, queryRows, testLogger, type TestStore } from './helpers/store.js'

const options = { maxBatch: 1000, maxRecordBytes: 1024 * 1024, logger: testLogger }

let store: TestStore
beforeEach(async () => {
  store = await openTestStore()
})
afterEach(async () => {
  await store.close()
})

describe('backfill of the real datasets', () => {
  it('stores all 3,210 records once, and nothing more on a second run', async () => {
    const first = await backfill(store, [DATASETS], options)
    expect(first).toMatchObject({ files: 90, read: 3210, stored: 3210, duplicate: 0, rejected: 0 })

    const second = await backfill(store, [DATASETS], options)
    expect(second).toMatchObject({ read: 3210, stored: 0, duplicate: 3210, rejected: 0 })

    const [counts] = await queryRows<{ rows: string; ids: string }>(store, 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events')
    expect([Number(counts?.rows), Number(counts?.ids)]).toEqual([3210, 3210])
  })

  it('keeps each record byte for byte as CloudTrail wrote it', async () => {
    await backfill(store, [INVICTUS], options)
    const file = readdirSync(INVICTUS).sort()[0] as string
    const bytes = readFileSync(path.join(INVICTUS, file), 'utf8')
    const ids = (JSON.parse(bytes) as { Records: { eventID: string }[] }).Records.map((r) => r.eventID)
    const rows = await queryRows<{ event_id: string; raw: string }>(store, 'SELECT event_id, raw FROM events WHERE event_id IN {ids:Array(String)}', { ids })
    expect(rows).toHaveLength(ids.length)
    for (const row of rows) {
      expect(bytes.includes(row.raw)).toBe(true)
      expect(JSON.parse(row.raw)).toEqual(datasetRecord(row.event_id))
    }
  })

  it('stores who made each call in typed columns', async () => {
    await backfill(store, [DATASETS], options)
    const rows = await queryRows<Record<string, unknown>>(
      store,
      `SELECT event_id, event_name, principal_arn, actor_kind, session_name, source_ip, source_host, access_key_kind, mfa_authenticated, error_code
       FROM events WHERE event_id IN {ids:Array(String)} ORDER BY event_id`,
      { ids: ['2d9189b5-cb66-4363-8ecf-cfe1ecb40796', '8feee4c2-5e27-4857-8475-bfa7e7b6d791', 'ae9a706f-d8a4-4e50-9043-22b2a03f481c', 'aa8d0d50-f346-45dc-b6d7-8d208322ca9e'] },
    )
    expect(rows).toEqual([
      // EC2 instance role, calling from the instance.
      { event_id: '2d9189b5-cb66-4363-8ecf-cfe1ecb40796', event_name: 'UpdateInstanceInformation', principal_arn: 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-enumerate-role', actor_kind: 'automation', session_name: 'i-05c30218156bcc246', source_ip: '52.45.102.28', source_host: '', access_key_kind: 'temporary', mfa_authenticated: false, error_code: '' },
      // bert-jan's console sign-in with MFA.
      { event_id: '8feee4c2-5e27-4857-8475-bfa7e7b6d791', event_name: 'ConsoleLogin', principal_arn: 'arn:aws:iam::123837392027:user/bert-jan', actor_kind: 'human-console', session_name: '', source_ip: '10.8.8.10', source_host: '', access_key_kind: '', mfa_authenticated: true, error_code: '' },
      // RDS assuming its role: AWS acting for the account.
      { event_id: 'aa8d0d50-f346-45dc-b6d7-8d208322ca9e', event_name: 'AssumeRole', principal_arn: 'rds.amazonaws.com', actor_kind: 'aws-service', session_name: '', source_ip: null, source_host: 'rds.amazonaws.com', access_key_kind: '', mfa_authenticated: false, error_code: '' },
      // One of the ~30 denied GetPasswordData calls of the Stratus run.
      { event_id: 'ae9a706f-d8a4-4e50-9043-22b2a03f481c', event_name: 'GetPasswordData', principal_arn: 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role', actor_kind: 'automation', session_name: 'aws-go-sdk-1688990082523310002', source_ip: '192.168.10.20', source_host: '', access_key_kind: 'temporary', mfa_authenticated: false, error_code: 'Client.UnauthorizedOperation' },
    ])
  })
})

describe('enrichment and baselines', () => {
  it('adds network, country and ASN, and keeps per-principal baselines as events arrive', async () => {
    await backfill(store, [DATASETS], options)
    const [instance] = await queryRows<Record<string, unknown>>(
      store,
      "SELECT source_network, source_country, source_asn, source_as_org FROM events WHERE event_id = '2d9189b5-cb66-4363-8ecf-cfe1ecb40796'",
    )
    // The EC2 instance's public address belongs to Amazon's network in the US.
    expect(instance).toEqual({ source_network: 'public', source_country: 'US', source_asn: 14618, source_as_org: 'Amazon.com, Inc.' })
    const [privateSource] = await queryRows<Record<string, unknown>>(store, "SELECT source_network, source_asn FROM events WHERE event_id = '8feee4c2-5e27-4857-8475-bfa7e7b6d791'")
    expect(privateSource).toEqual({ source_network: 'private', source_asn: 0 })

    const sources = await queryRows<{ source_ip: string; calls: string }>(
      store,
      "SELECT source_ip, sum(calls) AS calls FROM baseline_principal_source_days WHERE principal_arn = 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-enumerate-role' GROUP BY source_ip",
    )
    const [expected] = await queryRows<{ calls: string }>(
      store,
      "SELECT count() AS calls FROM events WHERE principal_arn = 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-enumerate-role' AND source_ip = '52.45.102.28'",
    )
    expect(sources).toEqual([{ source_ip: '52.45.102.28', calls: expected?.calls }])
    // AWS acting for the account never enters a principal's networks.
    const [serviceRows] = await queryRows<{ n: string }>(store, "SELECT count() AS n FROM baseline_principal_source_days WHERE principal_arn = 'rds.amazonaws.com'")
    expect(Number(serviceRows?.n)).toBe(0)
  })
})

describe('backfill of every shape and of bad input', () => {
  const record = (id: string, extra: Record<string, unknown> = {}) => ({
    eventVersion: '1.08',
    eventTime: '2026-11-02T09:15:00Z',
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    eventID: id,
    awsRegion: 'xx-nowhere-9',
    sourceIPAddress: '203.0.113.7',
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIAEXAMPLE000000001' },
    someFieldFromTheFuture: { kept: true },
    ...extra,
  })
  const envelope = (detailType: string, detail: object) => ({ version: '0', id: 'x', 'detail-type': detailType, source: 'aws.iam', account: '111122223333', time: '2026-11-02T09:15:00Z', region: 'us-east-1', resources: [], detail })

  function inputDirectory(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    const line = (value: unknown) => `${JSON.stringify(value)}\n`
    writeFileSync(path.join(dir, 'single.json'), JSON.stringify(record('single')))
    writeFileSync(path.join(dir, 'array.json'), JSON.stringify([record('array-1'), record('array-2')]))
    writeFileSync(path.join(dir, 's3-file.json.gz'), gzipSync(JSON.stringify({ Records: [record('s3-1'), record('s3-2')] })))
    writeFileSync(
      path.join(dir, 'eventbridge.ndjson.gz'),
      gzipSync(line(envelope('AWS API Call via CloudTrail', record('eb-api'))) + line(envelope('AWS Console Sign In via CloudTrail', record('eb-signin', { eventSource: 'signin.amazonaws.com', eventName: 'ConsoleLogin' })))),
    )
    const { eventTime: _time, ...noTime } = record('no-time')
    const { eventName: _name, ...noName } = record('no-name')
    const { eventSource: _source, ...noSource } = record('no-source')
    const nested = `{"eventID":"deep","eventTime":"2026-11-02T09:15:00Z","eventName":"X","eventSource":"y","requestParameters":${'['.repeat(5000)}${']'.repeat(5000)}}`
    const lines = [
      line(record('good-1')),
      '{"eventID": "broken", "eventName": \n',
      line(noTime),
      line(noName),
      line(noSource),
      line(record('wrong-type', { eventName: 42 })),
      line(record('wrong-identity', { userIdentity: 'alice' })),
      line(record('bad-time', { eventTime: 'yesterday' })),
      `${nested}\n`,
      line(record('huge', { requestParameters: { blob: 'x'.repeat(50 * 1024 * 1024) } })),
      line(record('good-2')),
    ]
    const invalidUtf8 = Buffer.concat([Buffer.from('{"eventID":"latin1","eventTime":"2026-11-02T09:15:00Z","eventName":"X","eventSource":"y","userAgent":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')])
    writeFileSync(path.join(dir, 'mixed.jsonl'), Buffer.concat([Buffer.from(lines.join('')), invalidUtf8, Buffer.from(line(record('good-3')))]))
    writeFileSync(path.join(dir, 'corrupt.json.gz'), gzipSync(JSON.stringify([record('before-corruption')])).subarray(0, 30))
    writeFileSync(path.join(dir, 'notes.txt'), 'not CloudTrail, and not named like it: never read')
    return dir
  }

  it('stores every good record and rejects each bad one with its reason and location', async () => {
    const dir = inputDirectory()
    const summary = await backfill(store, [dir], options)

    const stored = await queryRows<{ event_id: string; aws_region: string; raw: string }>(store, 'SELECT event_id, aws_region, raw FROM events ORDER BY event_id')
    expect(stored.map((r) => r.event_id)).toEqual(['array-1', 'array-2', 'eb-api', 'eb-signin', 'good-1', 'good-2', 'good-3', 's3-1', 's3-2', 'single'])
    // Unknown regions and fields are accepted and kept.
    expect(stored[0]?.aws_region).toBe('xx-nowhere-9')
    expect(JSON.parse(stored[0]?.raw ?? '{}')).toMatchObject({ someFieldFromTheFuture: { kept: true } })

    const rejected = await queryRows<{ source: string; location: string; reason: string; size_bytes: string; truncated: boolean; raw_length: string }>(
      store,
      'SELECT source, location, reason, size_bytes, truncated, length(raw) AS raw_length FROM rejected_input FINAL ORDER BY source, toUInt32OrZero(extract(location, \'line (\\\\d+)\'))',
    )
    const mixed = path.join(dir, 'mixed.jsonl')
    expect(rejected.map((r) => [path.basename(r.source), r.location, r.reason])).toEqual([
      ['corrupt.json.gz', 'rest of file', expect.stringMatching(/cannot read the file: unexpected end of file/)],
      ['mixed.jsonl', 'line 2', expect.stringMatching(/line ends inside a JSON value/)],
      ['mixed.jsonl', 'line 3', 'eventTime: missing'],
      ['mixed.jsonl', 'line 4', 'eventName: missing'],
      ['mixed.jsonl', 'line 5', 'eventSource: missing'],
      ['mixed.jsonl', 'line 6', expect.stringMatching(/^eventName: .*expected string/)],
      ['mixed.jsonl', 'line 7', expect.stringMatching(/^userIdentity: .*expected object/)],
      ['mixed.jsonl', 'line 8', 'eventTime: expected an ISO 8601 timestamp'],
      ['mixed.jsonl', 'line 9', 'value is nested deeper than 64 levels'],
      ['mixed.jsonl', 'line 10', expect.stringMatching(/^value is larger than 1048576 bytes/)],
      ['mixed.jsonl', 'line 12', 'invalid UTF-8'],
    ])
    expect(rejected.every((r) => r.source === mixed || r.source.endsWith('corrupt.json.gz'))).toBe(true)

    // The 50 MB line: its size is recorded, a prefix is kept, the rest was never held in memory.
    const huge = rejected.find((r) => r.location === 'line 10')
    expect(Number(huge?.size_bytes)).toBeGreaterThan(50 * 1024 * 1024)
    expect(huge?.truncated).toBe(true)
    expect(Number(huge?.raw_length)).toBe(64 * 1024)

    // The invalid UTF-8 is kept byte for byte.
    const [latin1] = await queryRows<{ hex: string }>(store, "SELECT hex(raw) AS hex FROM rejected_input FINAL WHERE location = 'line 12'")
    expect(latin1?.hex).toContain('636166E922') // c a f 0xE9 "

    expect(summary).toMatchObject({ files: 6, stored: 10, duplicate: 0, rejected: 11, read: 21 })
  })

  it('lists the first thousand bad records of a file one by one and counts the rest in one row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    // A few kilobytes of gzip that unpack to 300,000 lines of nonsense.
    const bomb = gzipSync(Buffer.from('not json\n'.repeat(300_000)))
    expect(bomb.length).toBeLessThan(8 * 1024)
    writeFileSync(path.join(dir, 'lines.jsonl.gz'), bomb)
    expect(await backfill(store, [dir], options)).toMatchObject({ read: 300_000, stored: 0, rejected: 300_000 })
    const rows = await queryRows<{ location: string; reason: string }>(store, "SELECT location, reason FROM rejected_input FINAL WHERE location = 'whole file' OR location = 'line 1000' OR location = 'line 1001'")
    expect(rows.sort((a, b) => a.location.localeCompare(b.location))).toEqual([
      { location: 'line 1000', reason: 'not JSON' },
      { location: 'whole file', reason: '299000 more rejected records, counted but not recorded one by one; the first 1000 show why' },
    ])
    expect(Number((await queryRows<{ n: string }>(store, 'SELECT count() AS n FROM rejected_input FINAL'))[0]?.n)).toBe(1001)
  })

  it('records a symbolic link found in a directory instead of following it or passing it over', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    symlinkSync('/etc/passwd', path.join(dir, 'passwd.json'))
    writeFileSync(path.join(dir, 'real.json'), JSON.stringify(record('real')))
    expect(await backfill(store, [dir], options)).toMatchObject({ files: 2, read: 2, stored: 1, rejected: 1 })
    const [row] = await queryRows<{ source: string; reason: string; raw: string }>(store, 'SELECT source, reason, raw FROM rejected_input FINAL')
    expect(row).toEqual({ source: path.join(dir, 'passwd.json'), reason: expect.stringMatching(/^a symbolic link inside a directory: not followed/) as unknown, raw: '' })
  })

  it('stores records of 150 different months, though one insert may span at most 100 partitions', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    const months = Array.from({ length: 150 }, (_, i) => new Date(Date.UTC(2014, i, 15)).toISOString().replace('.000Z', 'Z'))
    writeFileSync(path.join(dir, 'decade.json'), JSON.stringify({ Records: months.map((at, i) => record(`month-${String(i)}`, { eventTime: at })) }))
    expect(await backfill(store, [dir], options)).toMatchObject({ read: 150, stored: 150, rejected: 0 })
    expect(Number((await queryRows<{ n: string }>(store, 'SELECT uniqExact(toYYYYMM(event_time)) AS n FROM events'))[0]?.n)).toBe(150)
  })

  it('writes large records in batches bounded by bytes, not only by count', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    // 40 records of 200 KB: 8 MB, in batches of at most 1 MB.
    const padding = 'x'.repeat(200 * 1024)
    writeFileSync(path.join(dir, 'large.jsonl'), Array.from({ length: 40 }, (_, i) => JSON.stringify(record(`large-${String(i)}`, { requestParameters: { padding } }))).join('\n'))
    await store.client.command({ query: 'SYSTEM STOP MERGES events' })
    const inserts = await queryRows<{ n: string }>(store, "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'events'")
    expect(await backfill(store, [dir], { ...options, maxBatchBytes: 1024 * 1024 })).toMatchObject({ read: 40, stored: 40, rejected: 0 })
    const parts = await queryRows<{ n: string }>(store, "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'events'")
    // With merges held, each insert made a part of its own: 8 MB in batches of 1 MB and one record at most.
    expect(Number(parts[0]?.n) - Number(inserts[0]?.n)).toBeGreaterThanOrEqual(6)
  })

  it('drops a record repeated within one run and counts it as duplicate', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-input-'))
    writeFileSync(path.join(dir, 'twice.json'), JSON.stringify([record('same'), record('same'), record('other')]))
    expect(await backfill(store, [dir], options)).toMatchObject({ read: 3, stored: 2, duplicate: 1 })
  })
})
