import { readdirSync, readFileSync, statSync } from 'node:fs'
import type { ClickHouseClient } from '@clickhouse/client'
import path from 'node:path'
import { LineCounter, parseAllDocuments, type Document } from 'yaml'
import { z } from 'zod'
import { errorMessage } from '../src/errors.js'
import { moduleLogger, type Logger } from '../src/logger.js'
import { packagePath } from '../src/package.js'
import { isoTime } from '../src/time.js'
import { defineDetector, type Detector } from './define.js'
import { GroupedRow, matchingEvents, peakCountQueries, stepsQueries, textArray } from './grouped-queries.js'
import { eventScanSql } from './event-scan.js'
import { fewest } from './windows.js'
import { LEVELS, ruleBasics, RuleHeader, Timespan, timespanMs, windowOf } from './rule-basics.js'
import { anyOf, compileCorrelation, compileDetection, UnsupportedRule } from './sigma.js'
import { TrailwatchRule, trailwatchDetector, trailwatchRuleType, type RuleType } from './trailwatch-rules.js'

const SigmaCorrelation = z.looseObject({
  ...RuleHeader,
  correlation: z.object({
    type: z.enum(['event_count', 'value_count', 'temporal', 'temporal_ordered'], { error: (issue) => `the correlation type ${String(issue.input)}: supported are event_count, value_count, temporal and temporal_ordered` }),
    rules: z.array(z.string()).min(1),
    'group-by': z.array(z.string()).default([]),
    timespan: Timespan,
    condition: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
    generate: z.boolean().default(false),
  }),
})

const SigmaRule = z.looseObject({
  ...RuleHeader,
  logsource: z.looseObject({ product: z.string().optional(), service: z.string().optional() }),
  detection: z.record(z.string(), z.unknown()),
})

const RuleRow = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  first_seen: z.string(),
  last_seen: z.string(),
  events: z.coerce.number(),
  event_names: z.array(z.string()),
  sources: z.array(z.string()),
  sample_event: z.string(),
})

/** A rule file that did not become a detector, and why: one line a person can act on. */
export interface SkippedRule {
  file: string
  line: number
  reason: string
}

/** A loaded rule: the detector it runs as, and what a careful reader would question in its logic. */
export interface LoadedRule {
  file: string
  /** The rule's own id and, when it has one, the name correlation rules use. */
  id: string
  name: string | undefined
  /** Sigma's single-event rules and correlations, or one of trailwatch's own types. */
  type: 'sigma' | 'correlation' | RuleType
  /** The rule's `detection` block as written; a correlation has none of its own. */
  detection: Record<string, unknown>
  detector: Detector
  author: string
  warnings: string[]
  /** The regular expressions of its `|re` fields, which only the engine that runs them can judge. */
  patterns: string[]
}

interface RuleDocument {
  file: string
  value: unknown
  skip: (reason: string, key?: string) => void
}

/**
 * Every `.yml`/`.yaml` file under the paths: Sigma rules for CloudTrail, several to a file when
 * separated by `---`, correlation rules over them, found by name or id in any of the files, and
 * trailwatch's own rule types.
 */
export function loadRuleFiles(paths: string[]): { rules: LoadedRule[]; skipped: SkippedRule[] } {
  const rules: LoadedRule[] = []
  const skipped: SkippedRule[] = []
  const documents = paths.flatMap(ruleFiles).flatMap((file) => readDocuments(file, skipped))
  const ids = new Set<string>()
  const bases = new Map<string, { document: RuleDocument; rule: z.output<typeof SigmaRule> }>()
  const correlations: { document: RuleDocument; rule: z.output<typeof SigmaCorrelation> }[] = []
  for (const document of documents) {
    const isCorrelation = typeof document.value === 'object' && document.value !== null && 'correlation' in document.value
    const ownType = trailwatchRuleType(document.value)
    const parsed = (ownType ? TrailwatchRule : isCorrelation ? SigmaCorrelation : SigmaRule).safeParse(document.value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue?.path.length ? issue.path.join('.') : 'rule'
      document.skip(`${where}: ${issue?.message ?? 'invalid'}`, String(issue?.path[0] ?? ''))
      continue
    }
    if (ids.has(parsed.data.id)) {
      document.skip(`the id ${parsed.data.id} is taken by another rule`, 'id')
      continue
    }
    ids.add(parsed.data.id)
    if (ownType) {
      const rule = parsed.data as TrailwatchRule
      try {
        const { type, detector } = trailwatchDetector(rule)
        const warnings = [...logicWarnings(rule.detection), ...groupingWarnings(rule)]
        rules.push({ file: document.file, id: rule.id, name: rule.name, type, detection: rule.detection, detector, author: rule.author ?? 'unknown', warnings, patterns: detectionPatterns(rule.detection) })
      } catch (err) {
        document.skip(ruleError(err), (err instanceof UnsupportedRule ? err.key : undefined) ?? ownType)
      }
    } else if ('correlation' in parsed.data) correlations.push({ document, rule: parsed.data as z.output<typeof SigmaCorrelation> })
    else {
      const rule = parsed.data as z.output<typeof SigmaRule>
      if (rule.logsource.product !== 'aws' || rule.logsource.service !== 'cloudtrail') {
        document.skip('not a rule for AWS CloudTrail (logsource product aws, service cloudtrail)', 'logsource')
        continue
      }
      const base = { document, rule }
      bases.set(rule.id, base)
      if (rule.name) bases.set(rule.name, base)
    }
  }
  // A rule a correlation uses alerts on its own only when the correlation says `generate: true`.
  const quiet = new Set(correlations.filter((c) => !c.rule.correlation.generate).flatMap((c) => c.rule.correlation.rules.map((ref) => bases.get(ref)?.rule.id)))
  for (const { document, rule } of new Set(bases.values())) {
    try {
      const detector = ruleDetector(rule)
      if (!quiet.has(rule.id)) rules.push({ file: document.file, id: rule.id, name: rule.name, type: 'sigma', detection: rule.detection, detector, author: rule.author ?? 'unknown', warnings: logicWarnings(rule.detection), patterns: detectionPatterns(rule.detection) })
    } catch (err) {
      document.skip(ruleError(err), 'detection')
    }
  }
  for (const { document, rule } of correlations) {
    const missing = rule.correlation.rules.filter((ref) => !bases.has(ref))
    if (missing.length > 0) {
      document.skip(`correlation: no CloudTrail rule named ${missing.join(', ')}`, 'correlation')
      continue
    }
    try {
      const detector = correlationDetector(rule, rule.correlation.rules.map((ref) => bases.get(ref)?.rule.detection ?? {}))
      rules.push({ file: document.file, id: rule.id, name: rule.name, type: 'correlation', detection: {}, detector, author: rule.author ?? 'unknown', warnings: [], patterns: [] })
    } catch (err) {
      document.skip(ruleError(err), 'correlation')
    }
  }
  return { rules, skipped: skipped.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line) }
}

/** A rule file is a few kilobytes; one far larger is not a rule, and is not parsed. */
const MAX_RULE_FILE_BYTES = 1024 * 1024
/** Aliases one document may expand: a few are a convenience, many are an expansion attack. */
const MAX_ALIASES = 50

function readDocuments(file: string, skipped: SkippedRule[]): RuleDocument[] {
  const size = statSync(file).size
  if (size > MAX_RULE_FILE_BYTES) {
    skipped.push({ file, line: 1, reason: `larger than ${String(MAX_RULE_FILE_BYTES)} bytes (${String(size)}): not read` })
    return []
  }
  const lines = new LineCounter()
  let documents: Document.Parsed[]
  try {
    documents = parseAllDocuments(readFileSync(file, 'utf8'), { lineCounter: lines })
  } catch (err) {
    skipped.push({ file, line: 1, reason: `not loaded: ${err instanceof RangeError ? 'nested too deeply' : errorMessage(err)}` })
    return []
  }
  return documents.flatMap((document): RuleDocument[] => {
    if (document.errors.length > 0) {
      skipped.push({ file, line: document.errors[0]?.linePos?.[0].line ?? 1, reason: `not YAML: ${document.errors[0]?.message.split('\n')[0] ?? ''}` })
      return []
    }
    let value: unknown
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIASES })
    } catch (err) {
      skipped.push({ file, line: lines.linePos(document.range[0]).line, reason: `not loaded: ${errorMessage(err).split('\n')[0] ?? ''}` })
      return []
    }
    // A trailing `---` leaves an empty document: nothing to load, nothing wrong.
    if (value === null) return []
    const lineOf = (key: string): number => {
      const node = document.contents && 'items' in document.contents ? document.contents.items.find((item) => String((item as { key?: unknown }).key) === key) : undefined
      const offset = (node as { key?: { range?: [number] } } | undefined)?.key?.range?.[0] ?? document.range[0]
      return lines.linePos(offset).line
    }
    return [{ file, value, skip: (reason, key = '') => skipped.push({ file, line: key ? lineOf(key) : lines.linePos(document.range[0]).line, reason }) }]
  })
}

/** Whatever went wrong making one rule is that rule's problem alone: the others still load. */
function ruleError(err: unknown): string {
  if (err instanceof UnsupportedRule) return err.message
  if (err instanceof RangeError) return 'too deeply nested to compile'
  return `cannot compile: ${errorMessage(err)}`
}

function ruleFiles(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target]
  return readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(target, name))
}

function ruleDetector(rule: z.output<typeof SigmaRule>): Detector {
  const condition = compileDetection(rule.detection)
  const scan = eventScanSql([condition])
  const author = rule.author ?? 'unknown'
  return defineDetector({
    ...ruleBasics(rule, '1h'),
    immediate: 'event',
    touches: condition,
    sql: `
      SELECT account_id, principal_arn, toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen,
             uniqExact(event_id) AS events, ${fewest('groupUniqArray(toString(event_name))')} AS event_names,
             ${fewest('groupUniqArray(origin)')} AS sources, min(event_id) AS sample_event
      FROM (${matchingEvents(condition, '', false)})
      GROUP BY account_id, principal_arn
      ORDER BY account_id, principal_arn`,
    // The same over every window of a replay: the scan that answers for all such rules at once, holding this one alone.
    replaySql: scan.sql,
    eachEvent: condition,
    params: () => ({ ...condition.params, ...scan.params }),
    row: RuleRow,
    toFinding: (r) => ({
      severity: LEVELS[rule.level],
      principal: r.principal_arn || r.account_id,
      account: r.account_id,
      title: `${rule.title}: ${r.principal_arn || `account ${r.account_id}`} (${r.event_names.join(', ')}${r.events > 1 ? `, ${String(r.events)} events` : ''})`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { rule: { id: rule.id, title: rule.title, author, level: rule.level }, events: r.events, event_names: r.event_names, sources: r.sources, sample_event: r.sample_event },
      why: `Matches the Sigma rule "${rule.title}" by ${author} (Detection Rule License 1.1)${rule.description ? `: ${rule.description.trim()}` : '.'}`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.first_seen.slice(0, 13)}`,
    }),
  })
}

/** A correlation rule as a detector whose window is its timespan: one finding per group. */
function correlationDetector(rule: z.output<typeof SigmaCorrelation>, detections: Record<string, unknown>[]): Detector {
  const { type, timespan, condition } = rule.correlation
  const groupBy = rule.correlation['group-by']
  const { rules, groups, counted, bounds, params } = compileCorrelation({ type, detections, groupBy, condition })
  const author = rule.author ?? 'unknown'
  const grouping = { groups, fields: textArray([]) }
  const spanMs = timespanMs(timespan)
  const counting = counted ? `distinct ${String(condition.field)}` : 'events'
  return defineDetector({
    ...ruleBasics(rule, windowOf(timespan)),
    immediate: 'window',
    touches: { ...anyOf(rules), params },
    ...(bounds === undefined ? stepsQueries(rules, grouping, spanMs, type === 'temporal_ordered') : peakCountQueries(anyOf(rules), grouping, counted, spanMs, bounds)),
    params: () => params,
    row: GroupedRow,
    toFinding: (r) => {
      const group = groupBy.map((field, i) => `${field}=${r.groups[i] ?? ''}`).join(', ')
      return {
        severity: LEVELS[rule.level],
        principal: r.principal || r.account_id,
        account: r.account_id,
        title: `${rule.title}: ${group || `account ${r.account_id}`} (${bounds === undefined ? `${String(r.events)} events` : `${String(r.measure)} ${counting}`} in ${timespan})`,
        firstSeen: isoTime(r.first_seen),
        lastSeen: isoTime(r.last_seen),
        evidence: { rule: { id: rule.id, title: rule.title, author, level: rule.level, correlation: type }, group: Object.fromEntries(groupBy.map((f, i) => [f, r.groups[i] ?? ''])), events: r.events, ...(bounds === undefined ? {} : { count: r.measure, counted: counting }), event_names: r.event_names, sources: r.sources },
        why: `Matches the Sigma correlation rule "${rule.title}" by ${author} (${type} over ${timespan}${group ? `, grouped by ${groupBy.join(', ')}` : ''})${rule.description ? `: ${rule.description.trim()}` : '.'}`,
        dedupKey: `${r.account_id}|${r.groups.join('|')}|${r.first_seen.slice(0, 13)}`,
      }
    },
  })
}

const FIELD_PATH = /^(requestParameters|responseElements|userIdentity|additionalEventData|serviceEventDetails)\.[A-Za-z0-9_.]+$/

/** Fields that differ per role session: a role's thirty sessions are thirty groups of one. */
const SESSION_FIELDS = new Set(['userIdentity.arn', 'userIdentity.principalId'])

/** A count or sequence kept per session, which a sweep spread over sessions never reaches. */
function groupingWarnings(rule: TrailwatchRule): string[] {
  const grouped = [...(rule.threshold ? [['threshold.group-by', rule.threshold['group-by']] as const] : []), ...(rule.sequence ? [['sequence.by', rule.sequence.by] as const] : [])]
  return grouped.flatMap(([key, fields]) =>
    fields.filter((field) => SESSION_FIELDS.has(field)).map((field) => `${key}: ${field} counts each role session apart, so a sweep spread over sessions is never counted; trailwatch.principal counts the role (keep ${field} only when one session is the point)`),
  )
}

/** What compiles but cannot mean what its author meant. */
function logicWarnings(detection: Record<string, unknown>): string[] {
  const warnings: string[] = []
  for (const [name, selection] of Object.entries(detection)) {
    for (const map of (Array.isArray(selection) ? selection : [selection]) as unknown[]) {
      if (typeof map !== 'object' || map === null) continue
      for (const [key, value] of Object.entries(map)) {
        const [field = '', ...modifiers] = key.split('|')
        for (const v of (Array.isArray(value) ? value : [value]) as unknown[]) {
          if (typeof v !== 'string') continue
          if (!modifiers.includes('fieldref') && FIELD_PATH.test(v)) warnings.push(`${name}: ${key} compares with the literal text "${v}", which names a field; |fieldref was meant?`)
          if (modifiers.includes('fieldref') && /\.arn$/i.test(field) && /name$/i.test(v)) warnings.push(`${name}: ${key} compares an ARN with ${v}, a name: the two are never equal`)
        }
      }
    }
  }
  return warnings
}

/** Every regular expression of a detection block: the values of its fields with the `re` modifier. */
function detectionPatterns(detection: Record<string, unknown>): string[] {
  const patterns: string[] = []
  for (const selection of Object.values(detection)) {
    for (const map of (Array.isArray(selection) ? selection : [selection]) as unknown[]) {
      if (typeof map !== 'object' || map === null) continue
      for (const [key, value] of Object.entries(map)) {
        if (!key.split('|').slice(1).includes('re')) continue
        for (const v of (Array.isArray(value) ? value : [value]) as unknown[]) if (typeof v === 'string' || typeof v === 'number') patterns.push(String(v))
      }
    }
  }
  return patterns
}

/**
 * Rules whose regular expressions the engine that will run them compiles, and the others skipped
 * with the engine's own word: a rule that would fail each time it runs never starts.
 */
export async function checkRulePatterns(client: ClickHouseClient, loaded: { rules: LoadedRule[]; skipped: SkippedRule[] }): Promise<{ rules: LoadedRule[]; skipped: SkippedRule[] }> {
  const refused = new Map<string, string>()
  for (const pattern of new Set(loaded.rules.flatMap((rule) => rule.patterns))) {
    try {
      await client.query({ query: "SELECT match('', {pattern:String}) AS matched", query_params: { pattern }, format: 'JSONEachRow' }).then((r) => r.json())
    } catch (err) {
      // The engine's first sentence says what is wrong; the rest is general advice.
      refused.set(pattern, errorMessage(err).split(/\.(?:\s|$)/)[0] ?? '')
    }
  }
  const rules: LoadedRule[] = []
  const skipped = [...loaded.skipped]
  for (const rule of loaded.rules) {
    const bad = rule.patterns.find((pattern) => refused.has(pattern))
    if (bad === undefined) rules.push(rule)
    else skipped.push({ file: rule.file, line: 1, reason: `${rule.id}: the regular expression ${JSON.stringify(bad)} does not compile: ${refused.get(bad) ?? ''}` })
  }
  return { rules, skipped }
}

/** The rules trailwatch ships, beside its code. */
export function builtInRulesDir(): string {
  return packagePath('rules')
}

/** Where rules are read from: the built-in ones, and TRAILWATCH_RULES_DIR when it is set. */
export function rulePaths(dir: string | undefined): string[] {
  return [builtInRulesDir(), ...(dir ? [dir] : [])]
}

/**
 * The built-in rules and those of TRAILWATCH_RULES_DIR as detectors, and the files that cannot run:
 * each is a warning in the log and, through the `rule-files` detector, a finding until it is mended.
 */
export async function configuredRules(client: ClickHouseClient, dir: string | undefined, logger: Logger): Promise<{ detectors: Detector[]; skipped: SkippedRule[] }> {
  const { rules, skipped } = await checkRulePatterns(client, loadRuleFiles(rulePaths(dir)))
  for (const skip of skipped) moduleLogger(logger, 'rules').warn(`${skip.file}:${String(skip.line)}: ${skip.reason}; rule skipped`)
  return { detectors: [...rules.map((rule) => rule.detector), ...(skipped.length > 0 ? [skippedRulesDetector(skipped)] : [])], skipped }
}

/** Where a skipped rule is, and why: one line. */
export function skippedRuleLine(skip: SkippedRule): string {
  return `${skip.file}:${String(skip.line)}: ${skip.reason}`
}

/** A rule that does not run is a hole in detection nobody sees unless told: a finding per skipped rule file. */
function skippedRulesDetector(skipped: SkippedRule[]): Detector {
  return defineDetector({
    id: 'rule-files',
    title: 'A rule file could not be loaded, so its rule does not run',
    severity: 'medium',
    schedule: '0 * * * *',
    window: '1h',
    lookback: '1h',
    attack: [],
    runbook: ['trailwatch rules check names the file, the line and the reason.', 'Mend the file (or remove it) and restart trailwatch: rules are read at start.'],
    config: z.object({}),
    sql: 'SELECT arrayJoin({skipped:Array(String)}) AS problem',
    params: () => ({ skipped: skipped.map(skippedRuleLine) }),
    row: z.object({ problem: z.string() }),
    toFinding: (r, _config, { now }) => ({
      severity: 'medium',
      principal: 'trailwatch',
      account: '',
      title: `A rule does not run: ${r.problem}`,
      firstSeen: now.toISOString(),
      lastSeen: now.toISOString(),
      evidence: { problem: r.problem },
      why: 'The rule file could not be loaded when trailwatch started, so nothing it would find is found.',
      // Once per problem and day: a reminder, not a flood.
      dedupKey: `${r.problem}|${now.toISOString().slice(0, 10)}`,
    }),
  })
}
