import { z } from 'zod'
import { StorageError, errorMessage } from '../errors.js'
import type { GuardDutyRow } from '../cloudtrail/guardduty.js'
import type { NormalisedEvent } from '../cloudtrail/normalise.js'
import { clickHouseTime } from '../time.js'
import type { Store } from './client.js'
import { selectRows } from './rows.js'

type Cell = string | number | boolean | null

/** The columns of `events` that ingest writes, each with the event's value for it, in the order of each line. */
const EVENT_COLUMNS: [column: string, value: (event: NormalisedEvent) => Cell][] = [
  ['event_id', (e) => e.eventId],
  // JavaScript and ClickHouse must agree on the instant: store the one computed at ingest.
  ['event_time', (e) => unixSeconds(e.eventTimeMs)],
  ['event_name', (e) => e.eventName],
  ['event_source', (e) => e.eventSource],
  ['event_type', (e) => e.eventType],
  ['event_category', (e) => e.eventCategory],
  ['event_version', (e) => e.eventVersion],
  ['account_id', (e) => e.accountId],
  ['aws_region', (e) => e.awsRegion],
  ['principal_arn', (e) => e.principalArn],
  ['principal_type', (e) => e.principalType],
  ['principal_account_id', (e) => e.principalAccountId],
  ['user_name', (e) => e.userName],
  ['session_name', (e) => e.sessionName],
  ['actor_kind', (e) => e.actorKind],
  ['invoked_by', (e) => e.invokedBy],
  ['access_key_id', (e) => e.accessKeyId],
  ['access_key_kind', (e) => e.accessKeyKind],
  ['mfa_authenticated', (e) => e.mfaAuthenticated],
  ['console_session', (e) => e.consoleSession],
  ['source_ip', (e) => e.sourceIp],
  ['source_host', (e) => e.sourceHost],
  ['source_network', (e) => e.sourceNetwork],
  ['source_country', (e) => e.sourceCountry],
  ['source_asn', (e) => e.sourceAsn],
  ['source_as_org', (e) => e.sourceAsOrg],
  // List names are lower-case letters, digits and dashes (LIST_NAME): quoted, they need no escaping.
  ['source_lists', (e) => `[${e.sourceLists.map((name) => `'${name}'`).join(',')}]`],
  ['user_agent', (e) => e.userAgent],
  ['error_code', (e) => e.errorCode],
  ['error_message', (e) => e.errorMessage],
  ['read_only', (e) => e.readOnly],
  ['management_event', (e) => e.managementEvent],
  ['request_id', (e) => e.requestId],
  ['vpc_endpoint_id', (e) => e.vpcEndpointId],
  ['raw', (e) => e.raw],
]

/** An event ready to be written: what the writer needs to batch it, and its row as the store reads it. */
export interface EventLine {
  eventId: string
  eventTimeMs: number
  /** A TabSeparated line (UTF-8) holding EVENT_COLUMNS, the original record verbatim in `raw`. */
  line: Buffer
}

/**
 * The events row as a TabSeparated line: the format the engine reads fastest among those it
 * accepts as text, and the original record needs escaping only where it holds a backslash, tab or
 * newline, which a native search finds quickly.
 */
export function eventRow(event: NormalisedEvent): string {
  return `${EVENT_COLUMNS.map(([, value]) => tsvCell(value(event))).join('\t')}\n`
}

/**
 * An instant (epoch ms, 2000 to 2100) as Unix seconds with milliseconds, which the engine reads
 * into DateTime64(3) in any time zone, at a sixth of the cost of formatting a date.
 */
function unixSeconds(ms: number): string {
  const millis = ms % 1000
  return `${String((ms - millis) / 1000)}.${String(millis).padStart(3, '0')}`
}

export function eventLine(event: NormalisedEvent): EventLine {
  return { eventId: event.eventId, eventTimeMs: event.eventTimeMs, line: Buffer.from(eventRow(event)) }
}

const TSV_SPECIAL_ALL = /[\\\t\n\r]/g
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

function tsvCell(value: Cell): string {
  if (value === null) return '\\N'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number') return String(value)
  // Four native searches take a tenth of the time of one regular expression over a whole record.
  const special = value.includes('\\') || value.includes('\t') || value.includes('\n') || value.includes('\r')
  return special ? value.replace(TSV_SPECIAL_ALL, (c) => TSV_ESCAPES[c] ?? c) : value
}

/**
 * Which of these event ids are stored already; the time range keeps the look-up to a few parts.
 * New history, the common case, has nothing stored in its time range: a count finds that at a
 * fraction of the cost of matching the ids.
 */
export async function findStoredEventIds(store: Pick<Store, 'client'>, ids: string[], fromMs: number, toMs: number): Promise<Map<string, EventIdentity>> {
  const span = { from: clickHouseTime(fromMs), to: clickHouseTime(toMs) }
  const [inSpan] = await selectRows(
    store,
    'SELECT count() AS stored FROM events WHERE event_time BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}',
    span,
    z.object({ stored: z.coerce.number() }),
  )
  if (!inSpan?.stored) return new Map()
  const rows = await selectRows(
    store,
    `SELECT event_id, any(toUnixTimestamp64Milli(event_time)) AS time_ms, any(event_name) AS name, any(event_source) AS source FROM events
     WHERE event_time BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)} AND event_id IN {ids:Array(String)}
     GROUP BY event_id`,
    { ...span, ids },
    z.object({ event_id: z.string(), time_ms: z.coerce.number(), name: z.string(), source: z.string() }),
  )
  return new Map(rows.map((row) => [row.event_id, { timeMs: row.time_ms, name: tsvCell(row.name), source: tsvCell(row.source) }]))
}

/** What a re-delivered event must share with the first one to be the same event: when, what and where (as row cells). */
export interface EventIdentity {
  timeMs: number
  name: string
  source: string
}

/** An event row's identity, from its first cells (EVENT_COLUMNS' order: id, time, name, source). */
export function lineIdentity(event: EventLine): EventIdentity {
  let end = -1
  for (let cell = 0; cell < 4; cell++) end = event.line.indexOf(0x09, end + 1)
  const [, , name = '', source = ''] = event.line.toString('utf8', 0, end).split('\t')
  return { timeMs: event.eventTimeMs, name, source }
}

export function sameEvent(a: EventIdentity, b: EventIdentity): boolean {
  return a.timeMs === b.timeMs && a.name === b.name && a.source === b.source
}

const EVENT_COLUMN_NAMES = EVENT_COLUMNS.map(([column]) => column)

/** Writes lines built by `eventRow`; resolves once the store has acknowledged them. */
export async function insertEventLines(store: Store, lines: Buffer[]): Promise<void> {
  if (lines.length === 0) return
  try {
    await store.insertRows({
      table: 'events',
      columns: EVENT_COLUMN_NAMES,
      rows: lines.length === 1 ? (lines[0] as Buffer) : Buffer.concat(lines),
      settings: {
        // We batch ourselves, and an acknowledged insert must be stored, not queued.
        async_insert: 0,
        // Duplicates are dropped before the insert; merges collapse any that race in.
        optimize_on_insert: 0,
        // One parsing thread leaves the other core to the JavaScript that prepares the next batch.
        input_format_parallel_parsing: 0,
      },
    })
  } catch (err) {
    // The engine's message quotes the data it choked on: keep it out of the message.
    throw new StorageError(`inserting ${lines.length} events failed: ${firstLine(errorMessage(err))}`, { cause: err })
  }
}

export interface RejectedInput {
  source: string
  location: string
  reason: string
  /** The original bytes, or their first part when `size` is larger. */
  bytes: Buffer
  size: number
}

/** Rejected input keeps its exact bytes, valid UTF-8 or not: they travel as base64 parameters. */
export async function insertRejected(store: Store, rejected: RejectedInput[], atMs: number): Promise<void> {
  if (rejected.length === 0) return
  try {
    await store.client.command({
      query: `INSERT INTO rejected_input (rejected_at, source, location, reason, size_bytes, truncated, raw)
              SELECT {at:DateTime64(3)}, r.1, r.2, r.3, r.4, r.4 > length(r.5), base64Decode(r.5)
              FROM (SELECT arrayJoin(arrayZip({sources:Array(String)}, {locations:Array(String)}, {reasons:Array(String)},
                                               {sizes:Array(UInt64)}, {raws:Array(String)})) AS r)`,
      query_params: {
        at: clickHouseTime(atMs),
        sources: rejected.map((r) => r.source),
        locations: rejected.map((r) => r.location),
        reasons: rejected.map((r) => r.reason),
        sizes: rejected.map((r) => r.size),
        raws: rejected.map((r) => r.bytes.toString('base64')),
      },
      clickhouse_settings: { async_insert: 0 },
    })
  } catch (err) {
    throw new StorageError(`storing ${rejected.length} rejected inputs failed: ${firstLine(errorMessage(err))}`, { cause: err })
  }
}

/** An update of a finding: the same one delivered twice is stored once. */
function findingUpdate(finding: Pick<GuardDutyRow, 'account_id' | 'finding_id' | 'updated_at'>): string {
  return `${finding.account_id}|${finding.finding_id}|${String(finding.updated_at)}`
}

/** The findings' updates not stored yet, each once. */
export async function unstoredFindings(store: Store, findings: GuardDutyRow[]): Promise<GuardDutyRow[]> {
  const distinct = new Map(findings.map((finding) => [findingUpdate(finding), finding]))
  const stored = await selectRows(
    store,
    `SELECT account_id, finding_id, toUnixTimestamp64Milli(updated_at) AS updated_at FROM guardduty_findings
     WHERE finding_id IN {ids:Array(String)}`,
    { ids: [...new Set(findings.map((finding) => finding.finding_id))] },
    z.object({ account_id: z.string(), finding_id: z.string(), updated_at: z.coerce.number() }),
  )
  for (const finding of stored) distinct.delete(findingUpdate(finding))
  return [...distinct.values()]
}

/** GuardDuty findings into their table. */
export async function insertGuardDutyFindings(store: Store, findings: GuardDutyRow[]): Promise<void> {
  if (findings.length === 0) return
  const values = findings.map((f) => ({ ...f, first_seen: clickHouseTime(f.first_seen), last_seen: clickHouseTime(f.last_seen), updated_at: clickHouseTime(f.updated_at) }))
  try {
    await store.client.insert({ table: 'guardduty_findings', values, format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
  } catch (err) {
    throw new StorageError(`storing ${String(findings.length)} GuardDuty findings failed: ${firstLine(errorMessage(err))}`, { cause: err })
  }
}

/** The engine's messages quote the input they choked on; events hold addresses and ARNs, so cut that off. */
function firstLine(message: string): string {
  return (message.split(/\n| before: /)[0] ?? '').slice(0, 300)
}
