import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeEvent } from './decode.js'
import { JsonFramer, memberValue, type Framed } from './framing.js'

const INVICTUS = path.resolve(import.meta.dirname, '../../datasets/invictus-aws-dataset')

function frame(input: Buffer | string, options: { lineDelimited?: boolean; chunkSize?: number; maxValueBytes?: number; maxDepth?: number } = {}): Framed[] {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input)
  const framer = new JsonFramer({ maxValueBytes: options.maxValueBytes ?? 1 << 20, lineDelimited: options.lineDelimited ?? false, maxDepth: options.maxDepth })
  const size = options.chunkSize ?? bytes.length
  const out: Framed[] = []
  for (let offset = 0; offset < bytes.length; offset += size) out.push(...framer.push(bytes.subarray(offset, offset + size)))
  out.push(...framer.end())
  return out
}

const values = (framed: Framed[]) => framed.filter((f) => f.kind === 'value').map((f) => f.bytes.toString())
const rejects = (framed: Framed[]) => framed.flatMap((f) => (f.kind === 'reject' ? [f] : []))

describe('JsonFramer', () => {
  it('hands out each record of a real S3 log file as its original bytes, whatever the chunking', () => {
    // invictus-ir/aws_dataset (MIT): a CloudTrail log file exactly as delivered to S3.
    const file = readdirSync(INVICTUS).find((name) => name.endsWith('.json')) as string
    const bytes = readFileSync(path.join(INVICTUS, file))
    const expected = (JSON.parse(bytes.toString()) as { Records: unknown[] }).Records
    const whole = values(frame(bytes))
    expect(whole.map((v) => JSON.parse(v) as unknown)).toEqual(expected)
    // Every value is a verbatim slice of the file.
    for (const v of whole) expect(bytes.includes(v)).toBe(true)
    for (const chunkSize of [1, 7, 64, 4096]) expect(values(frame(bytes, { chunkSize }))).toEqual(whole)
  })

  it('frames a single record, a top-level array, pretty-printed and concatenated documents', () => {
    const record = '{"eventName":"A","n":{"x":[1,2]}}'
    expect(values(frame(record))).toEqual([record])
    expect(values(frame(`[${record}, {"eventName":"B"}]`))).toEqual([record, '{"eventName":"B"}'])
    expect(values(frame(`{\n  "Records": [\n    ${record}\n  ]\n}\n${record}`))).toEqual([record, record])
  })

  it('counts values from 0 in every shape: an S3 wrapper is not a value of its own', () => {
    const indexes = (input: string) => frame(input).map((f) => f.location.index)
    expect(indexes('[{"a":1},{"b":2}]')).toEqual([0, 1])
    expect(indexes('{"Records":[{"a":1},{"b":2}]}')).toEqual([0, 1])
    expect(indexes('{"Records":[{"a":1}]}\n{"Records":[{"b":2}]}\n{"c":3}')).toEqual([0, 1, 2])
  })

  it('keeps escaped quotes and backslashes inside strings, split at any byte', () => {
    const record = String.raw`{"a":"quote \" and backslash \\","b":"\\\\\"}","Records":"not an array"}`
    for (const chunkSize of [1, 2, 3, 5]) expect(values(frame(record, { chunkSize }))).toEqual([record])
  })

  it('recognises Records only as a key of the top-level object', () => {
    const nested = '{"detail":{"Records":[{"a":1}]}}'
    expect(values(frame(nested))).toEqual([nested])
    const valueNotKey = '{"k":"Records","v":[{"a":1}]}'
    expect(values(frame(valueNotKey))).toEqual([valueNotKey])
  })

  it('rejects one broken NDJSON line and carries on with the next', () => {
    const input = '{"eventName":"A"}\n{"eventName": "B\n{"eventName":"C", \nnot json at all\n{"eventName":"D"}\n'
    const framed = frame(input, { lineDelimited: true })
    expect(values(framed)).toEqual(['{"eventName":"A"}', '{"eventName":"D"}'])
    expect(rejects(framed).map((r) => r.location.line)).toEqual([2, 3, 4])
    expect(rejects(framed)[2]?.reason).toBe('not JSON')
  })

  it('skips a value larger than the limit with bounded memory, keeping a prefix and the size', () => {
    const big = `{"eventName":"${'x'.repeat(5_000_000)}"}`
    const framed = frame(`${big}\n{"eventName":"after"}\n`, { lineDelimited: true, chunkSize: 65_536, maxValueBytes: 1 << 20 })
    expect(values(framed)).toEqual(['{"eventName":"after"}'])
    const [reject] = rejects(framed)
    expect(reject?.reason).toMatch(/larger than 1048576 bytes/)
    expect(reject?.size).toBe(big.length)
    expect(reject?.prefix.length).toBe(64 * 1024)
  })

  it('hands out at most its budget of values per document, then skips the rest of it, and the next document afresh', () => {
    const framer = new JsonFramer({ maxValueBytes: 1024, lineDelimited: true, maxDocumentValues: 2 })
    const out = framer.push(Buffer.from('[1,2,3,4]\n{"a":1}\n'))
    expect(out.map((f) => (f.kind === 'value' ? f.bytes.toString() : f.reason))).toEqual(['1', '2', 'the document holds more than 2 values; the rest of it is skipped', '{"a":1}'])
    expect(out.map((f) => f.location.document)).toEqual([0, 0, 0, 1])
  })

  it('skips the rest of a document when told, across chunks', () => {
    const framer = new JsonFramer({ maxValueBytes: 1024, lineDelimited: false })
    const first = framer.push(Buffer.from('{"Records":[{"a":1},{"a":2}'))
    expect(first).toHaveLength(2)
    framer.skipDocument(first[0]?.location.document ?? -1)
    expect(framer.push(Buffer.from(',{"a":3}]}[{"b":1}]'))).toMatchObject([{ kind: 'value', location: { document: 1 } }])
  })

  it('rejects absurd nesting without recursion', () => {
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
    const framed = frame(`${deep}\n{"ok":1}`, { lineDelimited: true, maxDepth: 64 })
    expect(rejects(framed)[0]?.reason).toMatch(/nested deeper than 64/)
    expect(values(framed)).toEqual(['{"ok":1}'])
  })

  it('reports a truncated file', () => {
    const framed = frame('{"Records":[{"eventName":"A"},{"eventName":"B"')
    expect(values(framed)).toEqual(['{"eventName":"A"}'])
    expect(rejects(framed)[0]?.reason).toMatch(/truncated/)
  })
})

describe('memberValue', () => {
  it('finds a top-level member by structure, not by text', () => {
    const detail = '{\n  "eventID": "e1",  "note": "a \\"detail\\": {} inside"\n}'
    const envelope = Buffer.from(`{"detail-type":"AWS API Call via CloudTrail","nested":{"detail":1},"detail": ${detail} ,"region":"us-east-1"}`)
    expect(memberValue(envelope, 'detail')?.toString()).toBe(detail)
    expect(memberValue(Buffer.from('{"a":1}'), 'detail')).toBeUndefined()
  })

  it('lets an EventBridge record keep its own bytes, spacing and all', () => {
    const detail = '{ "eventID": "eb-1", "eventTime": "2026-11-02T09:15:00Z", "eventName": "ListUsers",\n  "eventSource": "iam.amazonaws.com" }'
    const decoded = decodeEvent(Buffer.from(`{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":${detail}}`))
    expect(decoded.ok && decoded.event.raw).toBe(detail)
  })
})
