import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { openEmbeddedStore, type Store } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { ConfigError, errorMessage } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { EventWriter } from '../ingest/event-writer.js'
import { principalsFrom } from '../src/principals.js'
import { durationMs } from './define.js'
import { runDetector } from './engine.js'
import type { LoadedRule } from './rule-files.js'

/** Beside `rule.yml`, `rule.examples.json`: per rule id or name, records it must match and records it must not. */
const ExampleRecord = z.record(z.string(), z.unknown())
const Examples = z.record(z.string(), z.object({ match: z.array(ExampleRecord).default([]), miss: z.array(ExampleRecord).default([]) }))

export interface RuleTestResult {
  rule: LoadedRule
  /** Undefined when the rule has no examples; otherwise what went wrong, empty when it passed. */
  failures: string[] | undefined
  examples: number
}

const MATCH_ACCOUNT = '000000000001'
const MISS_ACCOUNT = '000000000002'

/** A store of its own on the real engine, thrown away after `work`: for commands that judge rules without the user's store. */
export async function withScratchStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-'))
  const store = await openEmbeddedStore(dir, 'rules_scratch')
  try {
    return await work(store)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Runs each rule over its own examples on the real engine, in a store of its own that is thrown
 * away: the match records, put in one account, must give a finding there; the miss records, in
 * another, must not. The window ends at the last example; a first-seen rule's window is its last
 * hour, and the examples before it are its history. `onProgress` hears how many rules are done.
 */
export function testRules(rules: LoadedRule[], logger: Logger, onProgress?: (done: number, total: number) => void): Promise<RuleTestResult[]> {
  return withScratchStore((store) => testRulesOn(store, rules, logger, onProgress))
}

async function testRulesOn(store: Store, rules: LoadedRule[], logger: Logger, onProgress?: (done: number, total: number) => void): Promise<RuleTestResult[]> {
  // Stored as ingest stores them: with each address's network and country.
  const enricher = await loadSourceEnricher()
  await migrate(store, { retentionDays: 400 }, logger)
  const results: RuleTestResult[] = []
  // Several rules may share a file, and so its examples: each file is read once.
  const examplesOf = new Map<string, z.output<typeof Examples>>()
  for (const [done, rule] of rules.entries()) {
    onProgress?.(done, rules.length)
    const examples = examplesOf.get(rule.file) ?? readExamples(rule.file)
    examplesOf.set(rule.file, examples)
    const mine = examples[rule.id] ?? (rule.name ? examples[rule.name] : undefined)
    if (!mine) {
      results.push({ rule, failures: undefined, examples: 0 })
      continue
    }
    for (const table of ['events', 'rule_seen_values', 'rule_seen_coverage']) await store.client.command({ query: `TRUNCATE TABLE ${table}` })
    const failures: string[] = []
    const records: Record<string, unknown>[] = [...mine.match.map((r) => ({ ...r, recipientAccountId: MATCH_ACCOUNT })), ...mine.miss.map((r) => ({ ...r, recipientAccountId: MISS_ACCOUNT }))]
    // Stored as ingest stores events: through its writer.
    const writer = new EventWriter(store, { maxBatch: 10_000, logger })
    const times: number[] = []
    for (const [i, record] of records.entries()) {
      const decoded = decodeEvent(Buffer.from(JSON.stringify({ eventID: `example-${String(i)}`, ...record })), enricher)
      if (!decoded.ok) {
        failures.push(`example ${String(i + 1)} is not a CloudTrail record: ${decoded.reason}`)
        continue
      }
      times.push(decoded.event.eventTimeMs)
      await writer.add(decoded.event)
    }
    if (times.length === 0) {
      results.push({ rule, failures, examples: records.length })
      continue
    }
    await writer.flush()
    const now = Math.max(...times) + 1
    // A first-seen rule learns from the examples before its window: the window holds the latest only.
    const from = rule.type === 'first-seen' ? now - durationMs(rule.detector.window) : Math.min(...times)
    const window = { from: new Date(from), now: new Date(now) }
    const findings = await runDetector(store, rule.detector, window, { detectors: {}, principals: principalsFrom({}) })
    const accounts = new Set(findings.map((f) => f.account))
    if (mine.match.length > 0 && !accounts.has(MATCH_ACCOUNT)) failures.push(`the ${String(mine.match.length)} match examples gave no finding`)
    if (mine.miss.length > 0 && accounts.has(MISS_ACCOUNT)) failures.push(`the ${String(mine.miss.length)} miss examples gave a finding`)
    results.push({ rule, failures, examples: records.length })
  }
  return results
}

/** The examples beside a rule file; none when there is no such file, a clear error when it is not valid. */
function readExamples(ruleFile: string): z.output<typeof Examples> {
  const file = ruleFile.replace(/\.ya?ml$/, '.examples.json')
  if (!existsSync(file)) return {}
  try {
    return Examples.parse(JSON.parse(readFileSync(file, 'utf8')))
  } catch (err) {
    const problem = err instanceof z.ZodError ? `${err.issues[0]?.path.join('.') ?? ''}: ${err.issues[0]?.message ?? ''}` : errorMessage(err)
    throw new ConfigError(`${file}: expected {"<rule id or name>": {"match": [records], "miss": [records]}}; ${problem}`)
  }
}

