import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

/** What an event search may name: each given field must match, exactly (a resource: anywhere in the record). */
export interface EventFilter {
  principal?: string | undefined
  key?: string | undefined
  session?: string | undefined
  address?: string | undefined
  event?: string | undefined
  /** An error code, or `any` for every failed call. */
  error?: string | undefined
  /** An ARN or a name, found anywhere in the record: a request parameter, a resource, a response. */
  resource?: string | undefined
  account?: string | undefined
  /** A named address list the caller's address was on: tor-exit, or one of TRAILWATCH_ADDRESS_LISTS. */
  list?: string | undefined
}

export const SEARCH_FIELDS = ['principal', 'key', 'session', 'address', 'event', 'error', 'resource', 'account', 'list'] as const satisfies readonly (keyof EventFilter)[]

/** Longer than any ARN or name CloudTrail writes: a search term past it is refused rather than sent. */
export const MAX_TERM_LENGTH = 2048
/** A search is a person waiting: it stops rather than take the store with it. */
const SEARCH_SECONDS = 20

export const FoundEvent = z.object({
  time: isoFromMillis,
  event_id: z.string(),
  event: z.string(),
  service: z.string(),
  account: z.string(),
  region: z.string(),
  principal: z.string(),
  session: z.string(),
  key: z.string(),
  address: z.string(),
  country: z.string(),
  lists: z.array(z.string()),
  error: z.string(),
  user_agent: z.string(),
})
export type FoundEvent = z.output<typeof FoundEvent>

/** Where a page ends: events strictly before this time, or at it and ordered before this event id. */
export interface EventCursor {
  before: string
  beforeEvent: string
}

export interface EventPage {
  events: FoundEvent[]
  /** Where the next, older page starts; none when this one is the last. */
  older: EventCursor | undefined
}

const CONDITIONS: Record<keyof EventFilter, string> = {
  principal: 'principal_arn = {principal:String}',
  key: 'access_key_id = {key:String}',
  session: 'session_name = {session:String}',
  address: 'coalesce(source_ip, source_host) = {address:String}',
  event: 'event_name = {event:String}',
  error: "if({error:String} = 'any', error_code != '', error_code = {error:String})",
  resource: 'position(raw, {resource:String}) > 0',
  account: 'account_id = {account:String}',
  list: 'has(source_lists, {list:String})',
}

/** The fields given, trimmed; a term too long to be a real identifier is an error naming the field. */
export function searchTerms(filter: EventFilter): Partial<Record<keyof EventFilter, string>> {
  const terms: Partial<Record<keyof EventFilter, string>> = {}
  for (const field of SEARCH_FIELDS) {
    const value = filter[field]?.trim()
    if (!value) continue
    if (value.length > MAX_TERM_LENGTH) throw new AppError('USAGE', `the ${field} searched for is longer than ${String(MAX_TERM_LENGTH)} characters`)
    terms[field] = value
  }
  return terms
}

/**
 * The events matching every given field in [from, before), newest first, `limit` of them: a page,
 * and the cursor to the next (time and event id, so calls of one millisecond are never split or
 * skipped). Each term is a query parameter, never part of the SQL.
 */
export async function searchEvents(store: Store, filter: EventFilter, range: { from: Date; before: Date; beforeEvent?: string | undefined }, limit: number): Promise<EventPage> {
  const terms = searchTerms(filter)
  const where = (Object.keys(terms) as (keyof EventFilter)[]).map((field) => CONDITIONS[field])
  const rows = await selectRows(
    store,
    `SELECT toUnixTimestamp64Milli(event_time) AS time, event_id, event_name AS event, event_source AS service, account_id AS account,
            aws_region AS region, principal_arn AS principal, session_name AS session, access_key_id AS key,
            coalesce(source_ip, source_host, '') AS address, source_country AS country, source_lists AS lists, error_code AS error, user_agent
     FROM events
     WHERE event_time >= {from:DateTime64(3)} AND ${range.beforeEvent === undefined ? 'event_time < {before:DateTime64(3)}' : '(event_time, event_id) < ({before:DateTime64(3)}, {beforeEvent:String})'}${where.map((condition) => ` AND ${condition}`).join('')}
     ORDER BY event_time DESC, event_id DESC LIMIT 1 BY event_id LIMIT {limit:UInt32}
     SETTINGS max_execution_time = ${String(SEARCH_SECONDS)}`,
    { ...terms, from: clickHouseTime(range.from.getTime()), before: clickHouseTime(range.before.getTime()), beforeEvent: range.beforeEvent ?? '', limit: limit + 1 },
    FoundEvent,
  )
  const events = rows.slice(0, limit)
  const last = events.at(-1)
  return { events, older: rows.length > limit && last ? { before: last.time, beforeEvent: last.event_id } : undefined }
}
