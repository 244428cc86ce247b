import { Readable } from 'node:stream'
import { StorageError, errorMessage } from '../errors.js'
import { EVENT_COLUMNS, clickHouseTime } from '../cloudtrail/normalise.js'
import type { Store } from './client.js'

/** Which of these event ids are stored already; the time range keeps the look-up to a few parts. */
export async function findStoredEventIds(store: Store, ids: string[], fromMs: number, toMs: number): Promise<Set<string>> {
  const result = await store.client.query({
    query: `SELECT DISTINCT event_id FROM events
            WHERE event_time BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)} AND event_id IN {ids:Array(String)}`,
    query_params: { from: clickHouseTime(fromMs), to: clickHouseTime(toMs), ids },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ event_id: string }>()
  return new Set(rows.map((row) => row.event_id))
}

const INSERT_EVENTS = `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) FORMAT TabSeparated`

/** Writes lines built by `prepareEvent`; resolves once the store has acknowledged them. */
export async function insertEventLines(store: Store, lines: string[]): Promise<void> {
  if (lines.length === 0) return
  try {
    await store.client.exec({
      query: INSERT_EVENTS,
      values: Readable.from([lines.join('')]),
      clickhouse_settings: {
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

/** The engine's messages quote the input they choked on; events hold addresses and ARNs, so cut that off. */
function firstLine(message: string): string {
  return (message.split(/\n| before: /)[0] ?? '').slice(0, 300)
}
