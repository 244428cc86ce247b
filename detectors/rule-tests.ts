import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { openEmbeddedStore } from '../src/clickhouse/client.js'
import { eventLine, insertEventLines } from '../src/clickhouse/events.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import type { Logger } from '../src/logger.js'
import { principalsFrom } from '../src/principals.js'
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

/**
 * Runs each rule over its own examples on the real engine, in a store of its own that is thrown
 * away: the match records, put in one account, must give a finding there; the miss records, in
 * another, must not.
 */
export async function testRules(rules: LoadedRule[], logger: Logger): Promise<RuleTestResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-test-'))
  const store = await openEmbeddedStore(dir, 'rules_test')
  try {
    await migrate(store, { retentionDays: 400 }, logger)
    const results: RuleTestResult[] = []
    for (const rule of rules) {
      const examplesFile = rule.file.replace(/\.ya?ml$/, '.examples.json')
      const examples = existsSync(examplesFile) ? Examples.parse(JSON.parse(readFileSync(examplesFile, 'utf8'))) : {}
      const mine = examples[rule.id] ?? (rule.name ? examples[rule.name] : undefined)
      if (!mine) {
        results.push({ rule, failures: undefined, examples: 0 })
        continue
      }
      await store.client.command({ query: 'TRUNCATE TABLE events' })
      const failures: string[] = []
      const records: Record<string, unknown>[] = [...mine.match.map((r) => ({ ...r, recipientAccountId: MATCH_ACCOUNT })), ...mine.miss.map((r) => ({ ...r, recipientAccountId: MISS_ACCOUNT }))]
      const lines: string[] = []
      records.forEach((record, i) => {
        const decoded = decodeEvent(Buffer.from(JSON.stringify({ eventID: `example-${String(i)}`, ...record })))
        if (decoded.ok) lines.push(eventLine(decoded.event).line)
        else failures.push(`example ${String(i + 1)} is not a CloudTrail record: ${decoded.reason}`)
      })
      await insertEventLines(store, lines)
      const times = records.map((r) => Date.parse(String(r.eventTime)))
      const window = { from: new Date(Math.min(...times)), now: new Date(Math.max(...times) + 1) }
      const findings = await runDetector(store, rule.detector, window, { detectors: {}, principals: principalsFrom({}) })
      const accounts = new Set(findings.map((f) => f.account))
      if (mine.match.length > 0 && !accounts.has(MATCH_ACCOUNT)) failures.push(`the ${String(mine.match.length)} match examples gave no finding`)
      if (mine.miss.length > 0 && accounts.has(MISS_ACCOUNT)) failures.push(`the ${String(mine.miss.length)} miss examples gave a finding`)
      results.push({ rule, failures, examples: records.length })
    }
    return results
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
