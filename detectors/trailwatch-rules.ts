/**
 * trailwatch's own rule types, for what Sigma cannot say: `threshold` (a count or a distinct count
 * per group in a window), `first-seen` (a value new for its group within a history the store keeps)
 * and `sequence` (steps in order by one identity within a time). They share Sigma's header and its
 * `detection` selections; title, why, dedup key and severity may be templates over what matched.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Store } from '../src/clickhouse/client.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { clickHouseTime, isoTime } from '../src/time.js'
import { defineDetector, type Detector, type DetectorContext, type Severity } from './define.js'
import { GroupedRow, matchingEvents, peakCountQueries, SHOWN, stepsQueries, textArray } from './grouped-queries.js'
import { keys, windowFrom, windowQueries } from './windows.js'
import { LEVELS, Level, ruleBasics, RuleHeader, Timespan, timespanMs, windowOf } from './rule-basics.js'
import { anyOf, compileDetection, eventsMatching, fieldExpression, UnsupportedRule } from './sigma.js'
import { renderTemplate, templatedSeverity, templateNames } from './templates.js'

export const RULE_TYPES = ['threshold', 'first-seen', 'sequence'] as const
export type RuleType = (typeof RULE_TYPES)[number]

const SeverityLevel = Level.transform((level): Severity => LEVELS[level])

/** History older than this has left the store's memory (rule_seen_values keeps 400 days). */
const MAX_HISTORY_DAYS = 365

const Threshold = z.strictObject({
  'group-by': z.array(z.string()).default([]),
  /** Count the distinct values of this field instead of the events. */
  distinct: z.string().optional(),
  gte: z.number().int().positive(),
  timespan: Timespan,
})

const FirstSeen = z.strictObject({
  'group-by': z.array(z.string()).default([]),
  field: z.string(),
  history: Timespan.refine((span) => timespanMs(span) <= MAX_HISTORY_DAYS * 86_400_000, `at most ${String(MAX_HISTORY_DAYS)}d`),
  /**
   * A group is judged once its history spans this long: before that, every value is new to it.
   * With 0 (`0s`), a group is judged from its first value, which is then always new.
   */
  learn: Timespan.default('1d'),
}).refine((spec) => timespanMs(spec.learn) <= timespanMs(spec.history), { error: 'learn is longer than history: no group would ever be judged', path: ['learn'] })

const Sequence = z.strictObject({
  /** What makes the steps one identity's: the user or role, whichever of its sessions took each step. */
  by: z.array(z.string()).min(1).default(['trailwatch.principal']),
  /** Conditions over the rule's selections, in the order they must happen; named, when a map. */
  steps: z.union([z.array(z.string()).min(2), z.record(z.string(), z.string()).refine((steps) => Object.keys(steps).length >= 2, 'expected at least 2 steps')]),
  within: Timespan,
})

export const TrailwatchRule = z.looseObject({
  ...RuleHeader,
  logsource: z.looseObject({ product: z.literal('aws').optional(), service: z.literal('cloudtrail').optional() }).optional(),
  detection: z.record(z.string(), z.unknown()),
  threshold: Threshold.optional(),
  'first-seen': FirstSeen.optional(),
  sequence: Sequence.optional(),
  /** The finding's title; by default the rule's title and what matched. */
  summary: z.string().optional(),
  why: z.string().optional(),
  /** What makes two findings one alert, within the account. */
  dedup: z.string().optional(),
  severity: z
    .strictObject({
      from: z.string(),
      equals: z.record(z.string(), SeverityLevel).optional(),
      'at-least': z.record(z.string().regex(/^\d+(\.\d+)?$/, 'expected a number'), SeverityLevel).optional(),
    })
    .optional(),
})
export type TrailwatchRule = z.output<typeof TrailwatchRule>

/** Whether a rule file's document is one of trailwatch's types rather than Sigma's. */
export function trailwatchRuleType(value: unknown): RuleType | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  return RULE_TYPES.find((type) => type in value)
}


/** Names every template may use beside field paths. */
const BUILT_IN = new Set(['account', 'principal', 'group', 'count', 'first_seen', 'last_seen', 'event_names', 'sources', 'distinct', 'values', 'value', 'known', 'steps'])


/** A trailwatch rule as a detector; throws UnsupportedRule with what is wrong in it. */
export function trailwatchDetector(rule: TrailwatchRule): { type: RuleType; detector: Detector } {
  const types = RULE_TYPES.filter((type) => rule[type] !== undefined)
  if (types.length !== 1) throw new UnsupportedRule(`a rule is one of threshold, first-seen or sequence, not ${types.join(' and ')}`)
  const templates = { summary: rule.summary, why: rule.why, dedup: rule.dedup, severity: rule.severity?.from }
  const names = Object.entries(templates).flatMap(([key, template]) => {
    try {
      return template === undefined ? [] : templateNames(template)
    } catch (err) {
      throw new UnsupportedRule(`${key}: ${(err as Error).message}`, key)
    }
  })
  const fields = [...new Set(names)].filter((name) => !BUILT_IN.has(name))
  const params: Record<string, unknown> = {}
  const fieldsSql = textArray(fields.map((field) => `toString(${fieldExpression(field, params)})`))
  const type = types[0] as RuleType
  const spec = { rule, fields, fieldsSql, params }
  const detector = type === 'threshold' ? thresholdDetector(spec) : type === 'first-seen' ? firstSeenDetector(spec) : sequenceDetector(spec)
  return { type, detector }
}

interface Spec {
  rule: TrailwatchRule
  fields: string[]
  fieldsSql: string
  params: Record<string, unknown>
}

/** What the type adds to a finding: its template values, its default texts and evidence. */
interface Shown {
  values: Record<string, string>
  summary: string
  why: string
  dedup: string
  evidence: Record<string, unknown>
}

function thresholdDetector({ rule, fieldsSql, params, fields }: Spec): Detector {
  const spec = rule.threshold as z.output<typeof Threshold>
  const condition = compileDetection(rule.detection, params)
  const groups = spec['group-by'].map((field) => fieldExpression(field, params))
  const distinct = spec.distinct === undefined ? undefined : fieldExpression(spec.distinct, params)
  params.gte = spec.gte
  return ruleDetector(rule, windowOf(spec.timespan), {
    immediate: 'window',
    touches: { ...condition, params },
    ...peakCountQueries(condition, { groups, fields: fieldsSql }, distinct, timespanMs(spec.timespan), 'measure >= {gte:UInt64}'),
    params: () => params,
    fields,
    groupBy: spec['group-by'],
    shown: (r, group) => {
      const what = spec.distinct ? `distinct ${spec.distinct}` : 'events'
      return {
        values: { distinct: spec.distinct ? String(r.measure) : '', values: r.samples.join(', ') },
        summary: `${rule.title}: ${group} (${String(r.measure)} ${what} in ${spec.timespan})`,
        why: `${String(r.measure)} ${what} within ${spec.timespan} for ${group}, where the rule asks for at least ${String(spec.gte)}.`,
        dedup: `${r.groups.join('|')}|${r.first_seen.slice(0, 13)}`,
        evidence: { count: r.measure, counted: what, at_least: spec.gte, ...(spec.distinct ? { values: r.samples } : {}) },
      }
    },
  })
}

const Coverage = z.object({ n: z.coerce.number(), from_ms: z.coerce.number(), to_ms: z.coerce.number() })

/** In a replay, the window number of table `of`, selected as `run`. */
const runOf = (replay: boolean, of: string): string => (replay ? `${of}.run AS run, ` : '')

function firstSeenDetector({ rule, fieldsSql, params, fields }: Spec): Detector {
  const spec = rule['first-seen'] as z.output<typeof FirstSeen>
  const condition = compileDetection(rule.detection, params)
  const groups = textArray(spec['group-by'].map((field) => fieldExpression(field, params)))
  const value = fieldExpression(spec.field, params)
  const [historyMs, learnMs] = [timespanMs(spec.history), timespanMs(spec.learn)]
  // The memory belongs to the rule as written: change what it matches, groups or remembers, and it learns afresh.
  const ruleKey = `${rule.id}:${createHash('sha256').update(JSON.stringify([rule.detection, spec['group-by'], spec.field])).digest('hex').slice(0, 16)}`
  const matching = { sql: `${condition.sql} AND ${value} != ''`, pre: condition.pre }
  const remember = `
    INSERT INTO rule_seen_values (rule_key, account_id, group_key, value, day, first_seen, last_seen)
    SELECT {ruleKey:String}, account_id, ${groups} AS group_key, ${value} AS seen_value, toDate(event_time) AS day, min(event_time), max(event_time)
    ${eventsMatching(matching, 'fillFrom', 'fillTo')}
    GROUP BY account_id, group_key, seen_value, day`
  return ruleDetector(rule, '1h', {
    immediate: 'event',
    touches: { ...matching, params },
    ...windowQueries(
      (replay) => `
      WITH
        recent AS (
          SELECT ${keys(replay, 'account_id, group_key, seen_value')}, ${SHOWN}
          FROM (${matchingEvents(matching, `${groups} AS group_key, ${value} AS seen_value, ${fieldsSql} AS field_values`, replay)})
          GROUP BY ${keys(replay, 'account_id, group_key, seen_value')}
        ),
        -- Each group's remembered values by day in one row, so that each window takes its own history from it.
        remembered AS (
          SELECT account_id, group_key, groupArray((value, day, since)) AS seen
          FROM (
            SELECT account_id, group_key, value, day, min(first_seen) AS since
            FROM rule_seen_values
            WHERE rule_key = {ruleKey:String} AND day >= toDate({historyFrom:DateTime64(3)}) AND first_seen < {now:DateTime64(3)}
              AND (account_id, group_key) IN (SELECT account_id, group_key FROM recent)
            GROUP BY account_id, group_key, value, day
          )
          GROUP BY account_id, group_key
        ),
        -- What each window's group had shown before it, within the history reaching back from its start.
        judged AS (
          SELECT r.*, arrayFilter(s -> s.2 >= toDate(fromUnixTimestamp64Milli(toUnixTimestamp64Milli(${windowFrom(replay, 'r.run')}) - {historyMs:Int64}, 'UTC')) AND s.3 < ${windowFrom(replay, 'r.run')}, h.seen) AS before
          FROM recent AS r
          LEFT JOIN remembered AS h ON r.account_id = h.account_id AND r.group_key = h.group_key
        )
      SELECT ${runOf(replay, 'j')}j.account_id AS account_id, j.principal AS principal, j.group_key AS groups, j.first_seen AS first_seen, j.last_seen AS last_seen,
             j.events AS events, length(arrayDistinct(arrayMap(s -> s.1, j.before))) AS measure, [j.seen_value] AS samples, ${textArray([])} AS step_times,
             j.event_names AS event_names, j.sources AS sources, j.fields AS fields
      FROM judged AS j
      WHERE ((measure > 0 AND toUnixTimestamp64Milli(arrayMin(arrayMap(s -> s.3, j.before))) <= toUnixTimestamp64Milli(${windowFrom(replay, 'j.run')}) - {learnMs:Int64}) OR {judgeNewGroups:Bool})
        AND NOT has(arrayMap(s -> s.1, j.before), j.seen_value)
      ORDER BY ${keys(replay, 'account_id, groups, samples')}`,
    ),
    params: (context) => ({
      ...params,
      ruleKey,
      historyFrom: clickHouseTime(context.from.getTime() - historyMs),
      historyMs,
      learnMs,
      judgeNewGroups: learnMs === 0,
    }),
    prepare: async (store, query, context) => {
      for (const [from, to] of await unremembered(store, ruleKey, context, historyMs)) {
        await store.client.command({ query: remember, query_params: { ...query, fillFrom: clickHouseTime(from), fillTo: clickHouseTime(to) } })
      }
      const covered = { rule_key: ruleKey, covered_from: clickHouseTime(context.from.getTime() - historyMs), covered_to: clickHouseTime(context.now.getTime()) }
      await store.client.insert({ table: 'rule_seen_coverage', values: [covered], format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
    },
    fields,
    groupBy: spec['group-by'],
    shown: (r, group) => {
      const seen = r.samples[0] ?? ''
      return {
        values: { value: seen, known: String(r.measure) },
        summary: `${rule.title}: ${spec.field} ${seen} is new for ${group}`,
        why: r.measure > 0 ? `${group} had not shown ${spec.field} "${seen}" in the ${spec.history} before, among ${String(r.measure)} values it had shown.` : `${group} had shown no ${spec.field} in the ${spec.history} before: "${seen}" is its first.`,
        dedup: `${r.groups.join('|')}|${seen}|${r.first_seen.slice(0, 10)}`,
        evidence: { field: spec.field, value: seen, known_values: r.measure, history: spec.history },
      }
    },
  })
}

/**
 * The spans of events the rule's memory lacks for this window: all of its history when it has
 * none, the history before what it covers when a run goes further back, and the window itself
 * every time, since events arrive late. Remembering again is harmless: the memory keeps min and max.
 */
async function unremembered(store: Store, ruleKey: string, { from, now }: DetectorContext, historyMs: number): Promise<[number, number][]> {
  const wanted = from.getTime() - historyMs
  const [cover] = await selectRows(
    store,
    `SELECT count() AS n, toUnixTimestamp64Milli(min(covered_from)) AS from_ms, toUnixTimestamp64Milli(max(covered_to)) AS to_ms
     FROM rule_seen_coverage WHERE rule_key = {ruleKey:String}`,
    { ruleKey },
    Coverage,
  )
  if (!cover || cover.n === 0) return [[wanted, now.getTime()]]
  const spans: [number, number][] = []
  if (wanted < cover.from_ms) spans.push([wanted, cover.from_ms])
  spans.push([Math.min(from.getTime(), Math.max(cover.to_ms, wanted)), now.getTime()])
  return spans
}

function sequenceDetector({ rule, fieldsSql, params, fields }: Spec): Detector {
  const spec = rule.sequence as z.output<typeof Sequence>
  const steps = Array.isArray(spec.steps) ? spec.steps.map((condition) => ({ name: condition, condition })) : Object.entries(spec.steps).map(([name, condition]) => ({ name, condition }))
  const { condition: _, ...selections } = rule.detection
  const compiled = steps.map((step) => compileDetection({ ...selections, condition: step.condition }, params))
  const groups = spec.by.map((field) => fieldExpression(field, params))
  return ruleDetector(rule, windowOf(spec.within), {
    immediate: 'window',
    touches: { ...anyOf(compiled), params },
    ...stepsQueries(compiled, { groups, fields: fieldsSql }, timespanMs(spec.within), true),
    params: () => params,
    fields,
    groupBy: spec.by,
    shown: (r, group) => {
      const happened = steps.map((step, i) => `${step.name} at ${isoTime(r.step_times[i] ?? '')}`).join(', then ')
      return {
        values: { steps: happened },
        summary: `${rule.title}: ${group} (${steps.map((step) => step.name).join(', then ')})`,
        why: `${happened}, by ${group}: in that order within ${spec.within}.`,
        // The last step's time is the same in every overlapping window that sees the whole sequence.
        dedup: `${r.groups.join('|')}|${(r.step_times.at(-1) ?? r.first_seen).slice(0, 16)}`,
        evidence: { steps: Object.fromEntries(steps.map((step, i) => [step.name, isoTime(r.step_times[i] ?? '')])), within: spec.within },
      }
    },
  })
}

interface TypeParts {
  /** A count or sequence is judged over the window ending at a stored batch; a first-seen value by the batch's own events. */
  immediate: 'event' | 'window'
  /** The events any of its findings is made of. */
  touches: Detector['touches']
  sql: string
  replaySql?: string
  liveSql?: string
  params: (context: DetectorContext) => Record<string, unknown>
  prepare?: Detector['prepare']
  fields: string[]
  groupBy: string[]
  shown: (row: GroupedRow, group: string) => Shown
}

/** What the three types share: the row, the template values, the finding. */
function ruleDetector(rule: TrailwatchRule, window: string, parts: TypeParts): Detector {
  const author = rule.author ?? 'unknown'
  const level = LEVELS[rule.level]
  const severity = rule.severity && { from: rule.severity.from, equals: rule.severity.equals, atLeast: rule.severity['at-least'] }
  return defineDetector({
    ...ruleBasics(rule, window),
    immediate: parts.immediate,
    touches: parts.touches,
    sql: parts.sql,
    ...(parts.replaySql === undefined ? {} : { replaySql: parts.replaySql }),
    ...(parts.liveSql === undefined ? {} : { liveSql: parts.liveSql }),
    params: (_, context) => parts.params(context),
    ...(parts.prepare ? { prepare: parts.prepare } : {}),
    row: GroupedRow,
    toFinding: (r) => {
      const { groupBy } = parts
      // One field's value speaks for itself; several are named.
      const group = groupBy.length === 1 ? (r.groups[0] ?? '') : groupBy.map((field, i) => `${field} ${r.groups[i] ?? ''}`).join(', ') || `account ${r.account_id}`
      const shown = parts.shown(r, group)
      const values: Record<string, string> = {
        ...Object.fromEntries(parts.fields.map((field, i) => [field, r.fields[i] ?? ''])),
        account: r.account_id,
        principal: r.principal,
        group,
        count: String(r.events),
        first_seen: isoTime(r.first_seen),
        last_seen: isoTime(r.last_seen),
        event_names: r.event_names.join(', '),
        sources: r.sources.join(', '),
        ...shown.values,
      }
      const description = rule.description ? ` ${rule.description.trim()}` : ''
      return {
        severity: templatedSeverity(severity, values, level),
        principal: r.principal || r.account_id,
        account: r.account_id,
        title: rule.summary ? renderTemplate(rule.summary, values) : shown.summary,
        firstSeen: isoTime(r.first_seen),
        lastSeen: isoTime(r.last_seen),
        evidence: {
          rule: { id: rule.id, title: rule.title, author, level: rule.level, type: trailwatchRuleType(rule) },
          group: Object.fromEntries(groupBy.map((field, i) => [field, r.groups[i] ?? ''])),
          events: r.events,
          event_names: r.event_names,
          sources: r.sources,
          ...shown.evidence,
        },
        why: rule.why ? renderTemplate(rule.why, values) : `${shown.why} Rule "${rule.title}" by ${author}.${description}`,
        dedupKey: `${r.account_id}|${rule.dedup ? renderTemplate(rule.dedup, values) : shown.dedup}`,
      }
    },
  })
}
