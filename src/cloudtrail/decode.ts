import { isUtf8 } from 'node:buffer'
import type { z } from 'zod'
import type { SourceEnricher } from './enrich.js'
import { normaliseAggregated, normaliseEvent, type NormalisedEvent } from './normalise.js'
import { memberValue, parsedWhenMarked } from './framing.js'
import { AggregatedRecord, CloudTrailRecord } from './schema.js'

const EARLIEST_EVENT_MS = Date.UTC(2000, 0, 1)
const LATEST_EVENT_MS = Date.UTC(2100, 0, 1)

export type DecodeResult = { ok: true; event: NormalisedEvent } | { ok: false; reason: string }

/**
 * One framed JSON value to a normalised event: a CloudTrail record, or an EventBridge envelope
 * ("AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", …) carrying one in `detail`.
 * Without an enricher the source's country and network stay empty: for callers that only route.
 */
export function decodeEvent(bytes: Buffer, enricher?: SourceEnricher): DecodeResult {
  if (!isUtf8(bytes)) return { ok: false, reason: 'invalid UTF-8' }
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'a CloudTrail record must be a JSON object' }
  }

  let candidate: unknown = value
  let raw = text
  if (isEnvelope(value)) {
    candidate = value.detail
    // The record as it sits inside the envelope, byte for byte.
    raw = memberValue(bytes, 'detail')?.toString('utf8') ?? JSON.stringify(value.detail)
  }
  if ((candidate as { eventType?: unknown }).eventType === 'AwsAggregatedEvent') return decodeAggregated(candidate, raw)
  const parsed = CloudTrailRecord.safeParse(candidate)
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error.issues) }
  const eventTimeMs = Date.parse(parsed.data.eventTime)
  if (!(eventTimeMs >= EARLIEST_EVENT_MS && eventTimeMs < LATEST_EVENT_MS)) {
    return { ok: false, reason: 'eventTime: not a real date between 2000 and 2100' }
  }
  return { ok: true, event: normaliseEvent(parsed.data, raw, eventTimeMs, enricher) }
}

/** An aggregated data event, stored as an event of its own shape at the start of its window. */
function decodeAggregated(candidate: unknown, raw: string): DecodeResult {
  const parsed = AggregatedRecord.safeParse(candidate)
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error.issues) }
  const eventTimeMs = Date.parse(parsed.data.timeWindow.windowStart)
  if (!(eventTimeMs >= EARLIEST_EVENT_MS && eventTimeMs < LATEST_EVENT_MS)) {
    return { ok: false, reason: 'timeWindow.windowStart: not a real date between 2000 and 2100' }
  }
  return { ok: true, event: normaliseAggregated(parsed.data, raw, eventTimeMs) }
}

function isEnvelope(value: object): value is { 'detail-type': unknown; detail: object } {
  return 'detail-type' in value && 'detail' in value && typeof value.detail === 'object' && value.detail !== null
}

function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message.endsWith('received undefined') ? 'missing' : issue.message}`)
    .join('; ')
}

const MESSAGE_TYPE = Buffer.from('"messageType"')

/**
 * The CloudTrail records a CloudWatch Logs subscription message carries (as Kinesis and Firehose
 * deliver a trail's log group: `logEvents`, each record a JSON string in `message`); none for a
 * `CONTROL_MESSAGE`; undefined when the value is not such a message.
 */
export function logGroupRecords(bytes: Buffer): Buffer[] | undefined {
  const message = parsedWhenMarked(bytes, MESSAGE_TYPE) as { messageType?: unknown; logEvents?: unknown } | undefined
  if (message === undefined) return undefined
  if (message.messageType === 'CONTROL_MESSAGE') return []
  if (message.messageType !== 'DATA_MESSAGE' || !Array.isArray(message.logEvents)) return undefined
  return (message.logEvents as { message?: unknown }[]).map((event) => Buffer.from(typeof event.message === 'string' ? event.message : JSON.stringify(event.message ?? null)))
}
