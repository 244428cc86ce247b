import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS } from '../test/helpers/datasets.js'
import { testSettings } from '../test/helpers/detect.js'
import { ingestRecords, type RawEvent } from '../test/helpers/events.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { runDetector } from './engine.js'
import { loadRuleFiles, type LoadedRule } from './rule-files.js'

const SIGMA = path.join(DATASETS, 'sigma-cloudtrail')
const AT = Date.parse('2026-11-20T11:30:00Z')
const { rules, skipped } = loadRuleFiles([SIGMA])

type Selection = Record<string, unknown>

/** A value of the field that each of the key's modifiers accepts. */
function satisfying(key: string, values: unknown[]): unknown {
  const modifiers = key.split('|').slice(1)
  const texts = values.map((v) => String(v).replace(/\\?[*?]/g, (w) => (w.length === 2 ? (w[1] as string) : 'x')))
  if (values[0] === null) return undefined
  if (modifiers.includes('re')) {
    const source = texts[0] as string
    const candidate = source.replace(/\.\+/g, 'x').replace(/\.\*/g, '').replace(/\\(.)/g, '$1')
    if (!new RegExp(source).test(candidate)) throw new Error(`no example for ${key}`)
    return candidate
  }
  const joined = modifiers.includes('all') ? texts.join('x') : (texts[0] as string)
  if (modifiers.includes('contains')) return `x${joined}x`
  if (modifiers.includes('startswith')) return `${joined}x`
  if (modifiers.includes('endswith')) return `x${joined}`
  return typeof values[0] === 'string' ? joined : values[0]
}

function setPath(record: RawEvent, field: string, value: unknown): void {
  const keys = field.split('.')
  let node = record
  for (const key of keys.slice(0, -1)) node = (node[key] = typeof node[key] === 'object' && node[key] !== null ? node[key] : {}) as RawEvent
  node[keys.at(-1) as string] = value
}

/** The selections a record must satisfy for the condition to hold: the positive ones, the first of each `1 of`. */
function positiveSelections(rule: LoadedRule, detection: Record<string, unknown>): Selection[] {
  const names = Object.keys(detection).filter((n) => n !== 'condition')
  const tokens = String(detection.condition).split(/\s+/)
  const chosen: Selection[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string
    if (token === 'not') {
      i += tokens[i + 1] === '1' ? 3 : 1
      continue
    }
    if (token === '1' && tokens[i + 1] === 'of') {
      const pattern = new RegExp(`^${(tokens[i + 2] as string).replace(/\*/g, '.*')}$`)
      const first = names.find((n) => pattern.test(n))
      if (first) chosen.push(selectionMap(detection[first]))
      i += 2
      continue
    }
    if (names.includes(token)) chosen.push(selectionMap(detection[token]))
  }
  if (chosen.length === 0) throw new Error(`no positive selection in ${rule.file}`)
  return chosen
}

const selectionMap = (selection: unknown): Selection => (Array.isArray(selection) ? (selection[0] as Selection) : (selection as Selection))

/** A record the rule must match, and one, differing in a single field, it must not. */
function examples(rule: LoadedRule, detection: Record<string, unknown>, account: (kind: 1 | 2) => string): [RawEvent, RawEvent] {
  const base = (kind: 1 | 2): RawEvent => ({
    eventVersion: '1.09',
    eventTime: new Date(AT).toISOString(),
    eventSource: 'example.amazonaws.com',
    eventName: 'ExampleCall',
    eventID: `${rule.detector.id}-${String(kind)}`,
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9',
    recipientAccountId: account(kind),
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account(kind)}:user/tester`, accountId: account(kind), userName: 'tester' },
  })
  const [match, miss] = [base(1), base(2)]
  const selections = positiveSelections(rule, detection)
  for (const selection of selections) {
    for (const [key, value] of Object.entries(selection)) {
      const values = Array.isArray(value) ? (value as unknown[]) : [value]
      const field = key.split('|')[0] as string
      if (key.includes('|fieldref')) {
        for (const record of [match, miss]) {
          setPath(record, field, 'same-value')
          setPath(record, String(values[0]), 'same-value')
        }
        continue
      }
      const example = satisfying(key, values)
      if (example !== undefined) for (const record of [match, miss]) setPath(record, field, example)
    }
  }
  // The miss differs from the match in the first field of the first selection.
  const [firstKey = '', firstValue] = Object.entries(selections[0] ?? {})[0] ?? []
  const firstField = firstKey.split('|')[0] as string
  if (firstKey.includes('|fieldref')) setPath(miss, String(firstValue), 'another-value')
  else setPath(miss, firstField, firstValue === null ? 'present' : 'zzz-no-such-value')
  return [match, miss]
}

const detections = new Map<string, Record<string, unknown>>()
let store: TestStore
beforeAll(async () => {
  const { parse } = await import('yaml')
  const { readFileSync } = await import('node:fs')
  const records: RawEvent[] = []
  rules.forEach((rule, i) => {
    const detection = (parse(readFileSync(rule.file, 'utf8')) as { detection: Record<string, unknown> }).detection
    detections.set(rule.detector.id, detection)
    records.push(...examples(rule, detection, (kind) => `${String(kind)}${String(i).padStart(11, '0')}`))
  })
  store = await openTestStore()
  await ingestRecords(store, records)
}, 60_000)
afterAll(async () => {
  await store.close()
})

describe('the SigmaHQ CloudTrail rules', () => {
  it('all load and compile; the two whose logic cannot hold are named with the reason', () => {
    expect(skipped).toEqual([])
    expect(rules).toHaveLength(57)
    expect(rules.filter((r) => r.warnings.length > 0).map((r) => [path.basename(r.file), r.warnings])).toEqual([
      ['aws_iam_backdoor_users_keys.yml', ['filter: userIdentity.arn|contains compares with the literal text "responseElements.accessKey.userName", which names a field; |fieldref was meant?']],
      ['aws_update_login_profile.yml', ['filter_main_user_identity: userIdentity.arn|fieldref compares an ARN with requestParameters.userName, a name: the two are never equal']],
    ])
  })

  it.each(rules.map((rule, i) => [path.basename(rule.file), rule, i] as const))('%s matches its example and not the one that differs', async (_, rule, i) => {
    const findings = await runDetector(store, rule.detector, { now: new Date(AT + 30 * 60_000), from: new Date(AT - 30 * 60_000) }, testSettings())
    const accounts = findings.map((f) => f.account)
    expect(accounts).toContain(`1${String(i).padStart(11, '0')}`)
    expect(accounts).not.toContain(`2${String(i).padStart(11, '0')}`)
    const finding = findings.find((f) => f.account === `1${String(i).padStart(11, '0')}`)
    expect(finding?.detector).toBe(rule.detector.id)
    expect(finding?.why).toContain(`by ${rule.author} (Detection Rule License 1.1)`)
  })
})
