import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { z } from 'zod'
import type { Logger } from '../src/logger.js'
import { isoTime } from '../src/time.js'
import { defineDetector, type Detector, type Severity } from './define.js'
import { compileDetection, UnsupportedRule } from './sigma.js'

const LEVELS: Record<string, Severity> = { informational: 'info', low: 'low', medium: 'medium', high: 'high', critical: 'critical' }

const SigmaRule = z.looseObject({
  title: z.string().min(1),
  id: z.string().min(1),
  description: z.string().optional(),
  author: z.string().optional(),
  tags: z.array(z.string()).optional(),
  logsource: z.looseObject({ product: z.string().optional(), service: z.string().optional() }),
  detection: z.record(z.string(), z.unknown()),
  level: z.enum(['informational', 'low', 'medium', 'high', 'critical']).default('medium'),
  falsepositives: z.union([z.array(z.string()), z.string()]).optional(),
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
  detector: Detector
  author: string
  warnings: string[]
}

/** Every `.yml`/`.yaml` file under the paths, each a Sigma rule for CloudTrail. */
export function loadRuleFiles(paths: string[]): { rules: LoadedRule[]; skipped: SkippedRule[] } {
  const rules: LoadedRule[] = []
  const skipped: SkippedRule[] = []
  const seen = new Set<string>()
  for (const file of paths.flatMap(ruleFiles)) {
    const lines = new LineCounter()
    const document = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines })
    const lineOf = (key: string): number => {
      const node = document.contents && 'items' in document.contents ? document.contents.items.find((item) => String((item as { key?: unknown }).key) === key) : undefined
      const offset = (node as { key?: { range?: [number] } } | undefined)?.key?.range?.[0]
      return offset === undefined ? 1 : lines.linePos(offset).line
    }
    const skip = (reason: string, key = ''): void => {
      skipped.push({ file, line: key ? lineOf(key) : 1, reason })
    }
    if (document.errors.length > 0) {
      skipped.push({ file, line: document.errors[0]?.linePos?.[0].line ?? 1, reason: `not YAML: ${document.errors[0]?.message.split('\n')[0] ?? ''}` })
      continue
    }
    const value: unknown = document.toJS()
    if (typeof value === 'object' && value !== null && 'correlation' in value) {
      skip('a Sigma correlation rule: not supported yet', 'correlation')
      continue
    }
    const parsed = SigmaRule.safeParse(value)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue?.path.length ? issue.path.join('.') : 'rule'
      skip(`${where}: ${issue?.message ?? 'invalid'}`, String(issue?.path[0] ?? ''))
      continue
    }
    const rule = parsed.data
    if (rule.logsource.product !== 'aws' || rule.logsource.service !== 'cloudtrail') {
      skip('not a rule for AWS CloudTrail (logsource product aws, service cloudtrail)', 'logsource')
      continue
    }
    if (seen.has(rule.id)) {
      skip(`the id ${rule.id} is taken by another rule`, 'id')
      continue
    }
    try {
      rules.push({ file, detector: ruleDetector(rule), author: rule.author ?? 'unknown', warnings: logicWarnings(rule.detection) })
      seen.add(rule.id)
    } catch (err) {
      if (!(err instanceof UnsupportedRule)) throw err
      skip(err.message, 'detection')
    }
  }
  return { rules, skipped }
}

function ruleFiles(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target]
  return readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(target, name))
}

function ruleDetector(rule: z.output<typeof SigmaRule>): Detector {
  const { sql, params } = compileDetection(rule.detection)
  const author = rule.author ?? 'unknown'
  const falsePositives = typeof rule.falsepositives === 'string' ? [rule.falsepositives] : (rule.falsepositives ?? [])
  return defineDetector({
    id: `rule:${rule.id}`,
    title: rule.title,
    severity: LEVELS[rule.level] ?? 'medium',
    schedule: '*/5 * * * *',
    window: '1h',
    lookback: '1h',
    attack: (rule.tags ?? []).filter((tag) => /^attack\.t\d{4}/.test(tag)).map((tag) => tag.slice('attack.'.length).toUpperCase()),
    runbook: [rule.description ?? rule.title, ...falsePositives.map((fp) => `Known to be benign when: ${fp}`)].map((line) => line.trim()),
    config: z.object({}),
    sql: `
      SELECT account_id, principal_arn, toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen,
             uniqExact(event_id) AS events, groupUniqArray(5)(toString(event_name)) AS event_names,
             groupUniqArray(5)(coalesce(source_ip, source_host)) AS sources, min(event_id) AS sample_event
      FROM events
      WHERE event_time >= {from:DateTime64(3)} AND event_time < {now:DateTime64(3)} AND ${sql}
      GROUP BY account_id, principal_arn
      ORDER BY account_id, principal_arn`,
    params: () => params,
    row: RuleRow,
    toFinding: (r) => ({
      severity: LEVELS[rule.level] ?? 'medium',
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

const FIELD_PATH = /^(requestParameters|responseElements|userIdentity|additionalEventData|serviceEventDetails)\.[A-Za-z0-9_.]+$/

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

/** The rules of TRAILWATCH_RULES_DIR as detectors; each file that cannot run is one warning naming it. */
export function configuredRules(dir: string | undefined, logger: Logger): Detector[] {
  if (!dir) return []
  const { rules, skipped } = loadRuleFiles([dir])
  for (const skip of skipped) logger.warn({ module: 'rules' }, `${skip.file}:${String(skip.line)}: ${skip.reason}; rule skipped`)
  return rules.map((rule) => rule.detector)
}
