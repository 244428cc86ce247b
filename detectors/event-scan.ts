/**
 * Single-event rules replayed together: one scan of a range's events answers for every rule whose
 * condition it tests, instead of a query per rule each paying the engine's fixed cost.
 */
import type { CompiledCondition } from './sigma.js'
import { fewest, slice, WINDOWS_OF_SLICE } from './windows.js'

/**
 * A condition's query parameters under names of its own (`prefix` before each), added to `into`:
 * conditions compiled apart each number theirs from p0, and one query must tell them apart.
 */
export function ownParameters(text: string, own: Record<string, unknown>, prefix: string, into: Record<string, unknown>): string {
  return text.replace(/\{(\w+):/g, (placeholder, name: string) => {
    if (!(name in own)) return placeholder
    into[`${prefix}${name}`] = own[name]
    return `{${prefix}${name}:`
  })
}

/**
 * Every window's matches of each condition over a replay's span (see windows.ts), a row per window
 * (`run`), rule (`rule`, 1-based in the order given), account and principal: the events, names and
 * addresses matched, summed per slice of the span first so a rule matching most calls repeats a row
 * per principal and slice, not per call.
 */
export function eventScanSql(conditions: CompiledCondition[]): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = {}
  const own = (text: string, i: number): string => ownParameters(text, conditions[i]?.params ?? {}, `r${String(i + 1)}_`, params)
  const matches = conditions.map((condition, i) => `if(${own(condition.sql, i)}, ${String(i + 1)}, 0)`)
  // A row the weaker condition of every rule rules out is never read whole; one rule without one reads them all.
  const pres = conditions.map((condition, i) => (condition.pre ? `(${own(condition.pre, i)})` : undefined))
  const pre = pres.every((p) => p !== undefined) ? ` AND (${pres.join(' OR ')})` : ''
  const sql = `
      SELECT run, rule, account_id, principal_arn, toString(minMerge(first)) AS first_seen, toString(maxMerge(last)) AS last_seen,
             uniqExactMerge(ids) AS events, ${fewest('groupUniqArrayMerge(names)')} AS event_names,
             ${fewest('groupUniqArrayMerge(origins)')} AS sources, minMerge(sample) AS sample_event
      FROM (
        SELECT rule, account_id, principal_arn, ${slice()} AS slice, minState(event_time) AS first, maxState(event_time) AS last, uniqExactState(event_id) AS ids,
               groupUniqArrayState(toString(event_name)) AS names, groupUniqArrayState(coalesce(source_ip, source_host)) AS origins, minState(event_id) AS sample
        FROM (
          SELECT account_id, principal_arn, event_time, event_id, event_name, source_ip, source_host, arrayFilter(i -> i > 0, [${matches.join(', ')}]) AS rules
          FROM events PREWHERE event_time >= {from:DateTime64(3)} AND event_time < {now:DateTime64(3)}${pre}
          WHERE notEmpty(rules)
        )
        ARRAY JOIN rules AS rule
        GROUP BY rule, account_id, principal_arn, slice
      )
      ARRAY JOIN ${WINDOWS_OF_SLICE} AS run
      GROUP BY run, rule, account_id, principal_arn
      ORDER BY run, rule, account_id, principal_arn`
  return { sql, params }
}
