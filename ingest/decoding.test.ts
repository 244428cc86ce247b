import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventRow } from '../src/clickhouse/events.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { Decoder, decodedLines } from './decoder.js'
import { guardDutyEvent } from '../test/helpers/events.js'
import { InputDecoder, MAX_INFLATED_MESSAGE_BYTES, type Decoded } from './decoding.js'

const INVICTUS = path.resolve(import.meta.dirname, '../datasets/invictus-aws-dataset')
// invictus-ir/aws_dataset (MIT): a CloudTrail log file exactly as delivered to S3.
const LOG_FILE = readFileSync(path.join(INVICTUS, readdirSync(INVICTUS).find((name) => name.endsWith('.json')) as string))
const RECORDS = (JSON.parse(LOG_FILE.toString()) as { Records: object[] }).Records

const record = (id: string) => ({ eventID: id, eventTime: '2026-11-02T09:15:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com', recipientAccountId: '111122223333' })
const bytes = (value: unknown) => new Uint8Array(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)))

function messagesJob(values: Uint8Array[]) {
  const ends = new Uint32Array(values.length)
  let size = 0
  values.forEach((value, i) => (ends[i] = size += value.length))
  const all = new Uint8Array(size)
  let at = 0
  for (const value of values) {
    all.set(value, at)
    at += value.length
  }
  return { kind: 'messages' as const, bytes: all, ends }
}

/** Each event as the writer gets it, with its row as text. */
const events = (decoded: Decoded) => decodedLines(decoded).map(({ eventId, eventTimeMs, line }) => ({ eventId, eventTimeMs, row: line.toString() }))

describe('InputDecoder', () => {
  it('makes the same rows of a real log file as decoding each record alone, however the file is cut', () => {
    const expected = RECORDS.map((r) => {
      const decoded = decodeEvent(Buffer.from(JSON.stringify(r)))
      if (!decoded.ok) throw new Error(decoded.reason)
      return decoded.event
    })
    for (const size of [LOG_FILE.length, 4096, 333]) {
      const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
      const pieces: Decoded[] = []
      for (let at = 0; at < LOG_FILE.length; at += size) pieces.push(decoder.run({ kind: 'chunk', stream: 1, bytes: new Uint8Array(LOG_FILE.subarray(at, at + size)), lineDelimited: false }))
      pieces.push(decoder.run({ kind: 'end', stream: 1, discard: false }))
      const got = pieces.flatMap(events)
      expect(got.map((e) => e.eventId)).toEqual(expected.map((e) => e.eventId))
      expect(got.map((e) => e.eventTimeMs)).toEqual(expected.map((e) => e.eventTimeMs))
      // The record's own bytes differ from JSON.stringify's only in the raw column, the last one.
      expect(got.map((e) => e.row.split('\t').slice(0, -1))).toEqual(expected.map((e) => eventRow(e).split('\t').slice(0, -1)))
      expect(pieces.reduce((sum, piece) => sum + piece.values, 0)).toBe(RECORDS.length)
    }
  })

  it('rejects a message of one bad value whole, and a file in one message record by record', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const poison = bytes('{"eventName": nope}')
    const file = bytes({ Records: [record('a'), { eventName: 'NoTime', eventSource: 'iam.amazonaws.com' }, record('b')] })
    const decoded = decoder.run(messagesJob([bytes(record('first')), poison, new Uint8Array(0), file]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['first', 'a', 'b'])
    expect(decoded.values).toBe(6)
    expect(decoded.rejections.map(({ input, location, reason, size }) => ({ input, location, reason: reason.split(':')[0], size }))).toEqual([
      { input: 1, location: 'message', reason: 'invalid JSON', size: poison.length },
      { input: 2, location: 'message', reason: 'empty message', size: 0 },
      // Records are counted from 1, as people count them, whatever wraps them.
      { input: 3, location: 'record 2', reason: 'eventTime', size: JSON.stringify({ eventName: 'NoTime', eventSource: 'iam.amazonaws.com' }).length },
    ])
    expect(Buffer.from(decoded.rejections[0]?.bytes ?? []).toString()).toBe('{"eventName": nope}')
  })

  it('reads the records a log group’s subscription message carries, and nothing from a control message', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const logEvents = [record('cw-1'), record('cw-2')].map((r, i) => ({ id: String(i), timestamp: 1, message: JSON.stringify(r) }))
    const data = { messageType: 'DATA_MESSAGE', owner: '111122223333', logGroup: 'aws-cloudtrail-logs', logStream: '111122223333_CloudTrail_us-east-1', subscriptionFilters: ['all'], logEvents: [...logEvents, { id: '2', timestamp: 1, message: 'not a record' }] }
    const control = { messageType: 'CONTROL_MESSAGE', owner: 'CloudwatchLogs', logGroup: '', logStream: '', subscriptionFilters: [], logEvents: [{ id: '', timestamp: 1, message: 'CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.' }] }
    const decoded = decoder.run(messagesJob([bytes(data), bytes(control)]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['cw-1', 'cw-2'])
    expect(decoded.rejections.map(({ input, reason }) => ({ input, reason: reason.split(' (')[0] }))).toEqual([{ input: 0, reason: '1 of 3 log events are not CloudTrail records' }])
  })

  it('reads a gzipped subscription message as Kinesis carries it, and refuses gzip that inflates past its bound or is broken', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const data = { messageType: 'DATA_MESSAGE', owner: '111122223333', logGroup: 'trail', logStream: 's', subscriptionFilters: ['all'], logEvents: [{ id: '0', timestamp: 1, message: JSON.stringify(record('gz-1')) }] }
    // Spaces are JSON whitespace: only the bound stops this one.
    const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_MESSAGE_BYTES + 1, 0x20))
    const broken = gzipSync(Buffer.from(JSON.stringify(record('cut')))).subarray(0, 20)
    const decoded = decoder.run(messagesJob([new Uint8Array(gzipSync(bytes(data))), new Uint8Array(bomb), new Uint8Array(broken)]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['gz-1'])
    expect(decoded.rejections.map(({ input, reason, size }) => [input, reason.replace(/: .*/, ''), size])).toEqual([
      [1, 'gzip that inflates past 64 MiB', bomb.length],
      [2, 'gzip that cannot be read', broken.length],
    ])
  })

  it('takes GuardDuty findings apart from records, and rejects a finding that is not well formed', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const finding = guardDutyEvent({ id: 'gd-1', type: 'Recon:IAMUser/MaliciousIPCaller', severity: 5, updatedAt: '2026-11-20T10:00:00.000Z' })
    const decoded = decoder.run(messagesJob([bytes(finding), bytes(record('r-1')), bytes({ ...finding, detail: { ...finding.detail as object, severity: 'high' } })]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['r-1'])
    expect(decoded.findings.map((f) => [f.finding_id, f.severity, f.updated_at])).toEqual([['gd-1', 5, Date.parse('2026-11-20T10:00:00.000Z')]])
    expect(decoded.rejections.map((r) => [r.input, r.reason])).toEqual([[2, 'not a GuardDuty finding: detail.severity: Invalid input: expected number, received string']])
  })

  it('spends little on a message of millions of values: a bounded number rejected, then the rest skipped', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20, maxDocumentValues: 1000, maxDocumentRejects: 5 })
    const numbers = bytes(`[${'0,'.repeat(2_000_000)}0]`)
    const objects = bytes(`[${'{},'.repeat(500)}{}]`)
    const decoded = decoder.run(messagesJob([numbers, objects, bytes(record('after'))]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['after'])
    const reasons = (input: number) => decoded.rejections.filter((r) => r.input === input).map((r) => r.reason)
    // The first few bad values are kept as evidence; one more says the rest was skipped.
    expect(reasons(0)).toHaveLength(6)
    expect(reasons(0)[5]).toBe('more than 5 values of the message were rejected; the rest of it is skipped')
    expect(reasons(1)).toHaveLength(6)
  })

  it('stops a document at its budget of values', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20, maxDocumentValues: 3 })
    const decoded = decoder.run(messagesJob([bytes({ Records: [record('a'), record('b'), record('c'), record('d'), record('e')] })]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['a', 'b', 'c'])
    expect(decoded.rejections.map((r) => r.reason)).toEqual(['the document holds more than 3 values; the rest of it is skipped'])
  })

  it('gives a message no more time than its budget', () => {
    let now = 0
    // Each look at the clock finds 40 ms more gone: the third value is past a budget of 100 ms.
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20, maxMessageMs: 100 }, undefined, () => (now += 40))
    const decoded = decoder.run(messagesJob([bytes([record('a'), record('b'), record('c'), record('d')])]))
    expect(events(decoded).map((e) => e.eventId)).toEqual(['a', 'b'])
    expect(decoded.rejections.map((r) => r.reason)).toEqual(['decoding the message took longer than 100 ms; the rest of it is skipped'])
  })

  it('skips the rest of a file’s document once it has had its fill of rejections, and reads the next file whole', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20, maxDocumentRejects: 3 })
    const bad = Buffer.from(`{"Records":[${'1,'.repeat(300_000)}1]}`)
    const pieces: Decoded[] = []
    for (let at = 0; at < bad.length; at += 65_536) pieces.push(decoder.run({ kind: 'chunk', stream: 1, bytes: new Uint8Array(bad.subarray(at, at + 65_536)), lineDelimited: false }))
    pieces.push(decoder.run({ kind: 'end', stream: 1, discard: false }))
    const rejections = pieces.flatMap((p) => p.rejections)
    expect(rejections.map((r) => r.reason).at(-1)).toBe('more than 3 values of this document were rejected; the rest of it is skipped')
    expect(rejections).toHaveLength(4)
    const good = decoder.run({ kind: 'chunk', stream: 2, bytes: bytes({ Records: [record('next')] }), lineDelimited: false })
    expect(events(good).map((e) => e.eventId)).toEqual(['next'])
  })

  it('rejects what a file leaves open at its end, unless the rest of the file is discarded', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const cut = bytes(`{"Records":[${JSON.stringify(record('whole'))},{"eventID":"cut`)
    expect(events(decoder.run({ kind: 'chunk', stream: 1, bytes: cut, lineDelimited: false })).map((e) => e.eventId)).toEqual(['whole'])
    expect(decoder.run({ kind: 'end', stream: 1, discard: false }).rejections.map((r) => r.reason)).toEqual(['input ended inside a JSON value (truncated?)'])
    decoder.run({ kind: 'chunk', stream: 2, bytes: cut, lineDelimited: false })
    expect(decoder.run({ kind: 'end', stream: 2, discard: true }).rejections).toEqual([])
  })

  it('names lines in line-delimited files, records and lines in the others', () => {
    const decoder = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const lines = bytes(`${JSON.stringify(record('a'))}\nnot json\n`)
    expect(decoder.run({ kind: 'chunk', stream: 1, bytes: lines, lineDelimited: true }).rejections.map((r) => r.location)).toEqual(['line 2'])
    const array = bytes(`[${JSON.stringify(record('a'))},\n{"eventName":"x"}]`)
    expect(decoder.run({ kind: 'chunk', stream: 2, bytes: array, lineDelimited: false }).rejections.map((r) => r.location)).toEqual(['record 2, line 2'])
    // Several bad values on one line each keep a place of their own: rejected input is keyed by it.
    const several = bytes(`${JSON.stringify(record('b'))}\n[{"eventName":"x"},{"eventName":"y"},${JSON.stringify(record('c'))},{"eventName":"z"}]\n`)
    expect(decoder.run({ kind: 'chunk', stream: 3, bytes: several, lineDelimited: true }).rejections.map((r) => r.location)).toEqual(['line 2', 'line 2, value 2', 'line 2, value 4'])
  })
})

describe('Decoder', () => {
  let decoder: Decoder
  beforeAll(async () => {
    decoder = await Decoder.start({ maxRecordBytes: 1 << 20 })
  })
  afterAll(async () => {
    await decoder.close()
  })

  it('decodes on its thread what the same decoder makes here, enriched, answering jobs in order', async () => {
    const here = new InputDecoder({ maxRecordBytes: 1 << 20 })
    const values = RECORDS.slice(0, 40).map((r) => Buffer.from(JSON.stringify(r)))
    const halves = [values.slice(0, 20), values.slice(20)]
    const answers = await Promise.all(halves.map((half) => decoder.decodeMessages([...half, null])))
    answers.forEach((answer, i) => {
      const expected = here.run(messagesJob([...(halves[i] ?? []), new Uint8Array(0)]))
      expect(events(answer).map((e) => e.eventId)).toEqual(events(expected).map((e) => e.eventId))
      expect(answer.rejections.map((r) => [r.input, r.reason])).toEqual([[halves[i]?.length, 'empty message']])
    })
    // The thread looks addresses up (source_network); this side had no enricher.
    expect(new Set(events(answers[0] as Decoded).map((e) => e.row.split('\t')[22]))).toEqual(new Set(['aws-service', 'private', 'vpc-endpoint']))
  })

  it('keeps a file’s framing between pieces, and refuses work once closed', async () => {
    const stream = decoder.newStream()
    const text = JSON.stringify({ Records: [record('x'), record('y')] })
    const first = await decoder.decodeChunk(stream, Buffer.from(text.slice(0, 70)), false)
    const rest = await decoder.decodeChunk(stream, Buffer.from(text.slice(70)), false)
    expect([...events(first), ...events(rest)].map((e) => e.eventId)).toEqual(['x', 'y'])
    const spare = await Decoder.start({ maxRecordBytes: 1 << 20 })
    await spare.close()
    expect(spare.working).toBe(false)
    await expect(spare.decodeMessages([Buffer.from('{}')])).rejects.toThrow('the decoder is closed')
  })
})
