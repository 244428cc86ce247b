/**
 * The queries of rules that judge a group of events over a span of time: a count that reaches a
 * bound, steps within a time. A run's window may be longer than the span (it reaches back for late
 * events, and further after a pause), so each query finds the span inside the window, never the
 * window as a whole.
 */
import { z } from 'zod'
import { anyOf, type Part } from './sigma.js'
import { fewest, keys, windowed, windowQueries, type WindowQueries } from './windows.js'

/** One group's row, whatever judged it. */
export const GroupedRow = z.object({
  account_id: z.string(),
  // Not aliased principal_arn: the alias would shadow the column that trailwatch.principal reads.
  principal: z.string(),
  groups: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  events: z.coerce.number(),
  /** A count: the largest within the span; first-seen: how many values the group had shown. */
  measure: z.coerce.number(),
  /** Distinct values counted: some of them; first-seen: the new value. */
  samples: z.array(z.string()),
  /** Steps: when each happened, in the order of the steps. */
  step_times: z.array(z.string()),
  event_names: z.array(z.string()),
  sources: z.array(z.string()),
  /** Fields a rule asked for, in its order. */
  fields: z.array(z.string()),
})
export type GroupedRow = z.output<typeof GroupedRow>

export const textArray = (expressions: string[]): string => `CAST([${expressions.join(', ')}], 'Array(String)')`

/**
 * The events matching a condition, with the columns every grouped query shows and `columns` more,
 * computed on each event before a replay repeats it (see windowed).
 */
export function matchingEvents(condition: Part, columns: string, replay: boolean): string {
  return windowed({ columns: `account_id, principal_arn, event_time, event_id, event_name, coalesce(source_ip, source_host) AS origin${columns ? `, ${columns}` : ''}`, ...condition }, replay)
}

/**
 * The columns every grouped query selects over a group's events (from matchingEvents, with
 * `field_values`, the fields a rule shows of one event). What a group shows is the same whichever
 * of its events a run reads first: the principal and fields of its first event, the least names.
 */
export const SHOWN = `toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen, uniqExact(event_id) AS events,
             ${fewest('groupUniqArray(toString(event_name))')} AS event_names, ${fewest('groupUniqArray(origin)')} AS sources,
             argMin(principal_arn, (event_time, event_id)) AS principal, argMin(field_values, (event_time, event_id)) AS fields`

export interface Grouping {
  /** What makes a group, as expressions over an event. */
  groups: string[]
  /** An array of the fields a rule shows, as an expression over one event. */
  fields: string
}

/** The queries of a grouped rule: those of windowQueries, and `liveSql` for a pass on a stored batch. */
export interface GroupedQueries extends WindowQueries {
  /**
   * `sql` judging only the groups with a matching event from `{touchedFrom}`: a group the batch did
   * not touch found what it finds on an earlier pass, and reading its events again is the cost of a pass.
   */
  liveSql: string
}

/** The account and groups of the events matching `condition` from `start` to the window's end, as a condition on an event. */
function inGroupsMatching(condition: Part, groups: string[], start: string): string {
  const span = `event_time >= ${start} AND event_time < {now:DateTime64(3)}${condition.pre ? ` AND ${condition.pre}` : ''}`
  return `(account_id, ${textArray(groups)}) IN (SELECT account_id, ${textArray(groups)} FROM events PREWHERE ${span} WHERE ${condition.sql})`
}

/** A condition kept to events that also meet `first`, read first so the rest is judged only for them. */
const keptTo = (condition: Part, first: string): Part => ({ sql: `${first} AND (${condition.sql})`, pre: condition.pre })

/** The same query for a window, a replay and a pass on a stored batch, from one told which. */
function groupedQueries(query: (replay: boolean, live: boolean) => string): GroupedQueries {
  return { ...windowQueries((replay) => query(replay, false)), liveSql: query(false, true) }
}

const TOUCHED_FROM = '{touchedFrom:DateTime64(3)}'

/** The columns matchingEvents adds for a grouping. */
const groupingColumns = ({ groups, fields }: Grouping): string => `${textArray(groups)} AS groups, ${fields} AS field_values`

/**
 * Per group, the most events (or distinct values of `counted`) within any span of `spanMs` that
 * ends at one of its events, as `measure`; the groups whose measure meets `bounds`.
 */
export function peakCountQueries(condition: Part, grouping: Grouping, counted: string | undefined, spanMs: number, bounds: string): GroupedQueries {
  const touched = keptTo(condition, inGroupsMatching(condition, grouping.groups, TOUCHED_FROM))
  return groupedQueries(
    (replay, live) => `
      SELECT ${keys(replay, 'account_id')}, groups, ${SHOWN},
             max(in_span) AS measure, ${counted ? fewest("groupUniqArrayIf(counted, counted != '')") : textArray([])} AS samples, ${textArray([])} AS step_times
      FROM (
        SELECT *, uniqExactIf(counted, counted != '') OVER (PARTITION BY ${keys(replay, 'account_id, groups')} ORDER BY at_ms RANGE BETWEEN ${String(spanMs)} PRECEDING AND CURRENT ROW) AS in_span
        FROM (${matchingEvents(live ? touched : condition, `${groupingColumns(grouping)}, ${counted ?? 'event_id'} AS counted, toUnixTimestamp64Milli(event_time) AS at_ms`, replay)})
      )
      GROUP BY ${keys(replay, 'account_id, groups')}
      HAVING ${bounds}
      ORDER BY ${keys(replay, 'account_id, groups')}`,
  )
}

/**
 * Per group, every step within `withinMs`: in the order given when `ordered`, each at its earliest
 * after the one before (the earliest next steps end a chain soonest, so a first step has a chain
 * within the time if this one is), or else in any order. A group whose fields are empty is none.
 */
export function stepsQueries(steps: Part[], grouping: Grouping, withinMs: number, ordered: boolean): GroupedQueries {
  const anyStep = anyOf(steps)
  const grouped = { sql: [anyStep.sql, ...grouping.groups.map((g) => `${g} != ''`)].join(' AND '), pre: anyStep.pre }
  // In order, a chain starts with the first step: only the groups that took it are read whole
  // (a rare command, then a common call, reads the common calls of the few who commanded).
  const started = ordered && steps[0] ? keptTo(grouped, inGroupsMatching(steps[0], grouping.groups, '{from:DateTime64(3)}')) : grouped
  const touched = keptTo(started, inGroupsMatching(anyStep, grouping.groups, TOUCHED_FROM))
  const chainFrom = (start: string): string[] =>
    steps.slice(1).reduce<string[]>((chain, _, i) => [...chain, `arrayMin(arrayFilter(t${String(i)} -> t${String(i)} > ${chain.at(-1) ?? ''}, lists[${String(i + 2)}]))`], [start])
  const chain = chainFrom('a')
  const start = ordered
    ? `arrayFirst(a -> ${[...chain.slice(1).map((t, i) => `${t} > ${chain[i] ?? ''}`), `${chain.at(-1) ?? ''} - a <= ${String(withinMs)}`].join(' AND ')}, lists[1])`
    : `arrayFirst(a -> arrayAll(l -> arrayExists(x -> x >= a AND x <= a + ${String(withinMs)}, l), lists), arraySort(arrayFlatten(lists)))`
  const times = ordered ? `[${chainFrom('start').join(', ')}]` : `arrayMap(l -> arrayFirst(x -> x >= start, l), lists)`
  // Which steps each event is, judged before a replay repeats it.
  const stepColumns = `[${steps.map((step) => step.sql).join(', ')}] AS step_of`
  return groupedQueries(
    (replay, live) => `
      SELECT ${keys(replay, 'account_id')}, principal, groups, first_seen, last_seen, events, ${String(steps.length)} AS measure, ${textArray([])} AS samples,
             arrayMap(t -> toString(fromUnixTimestamp64Milli(toInt64(t), 'UTC')), ${times}) AS step_times,
             event_names, sources, fields
      FROM (
        SELECT ${keys(replay, 'account_id')}, groups, ${SHOWN},
               [${steps.map((_, i) => `arraySort(groupArrayIf(toUnixTimestamp64Milli(event_time), step_of[${String(i + 1)}]))`).join(', ')}] AS lists,
               ${start} AS start
        FROM (${matchingEvents(live ? touched : started, `${groupingColumns(grouping)}, ${stepColumns}`, replay)})
        GROUP BY ${keys(replay, 'account_id, groups')}
      )
      WHERE start > 0
      ORDER BY ${keys(replay, 'account_id, groups')}`,
  )
}
