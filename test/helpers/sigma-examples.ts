import type { LoadedRule } from '../../detectors/rule-files.js'
import type { RawEvent } from './events.js'

// CloudTrail records written from a Sigma rule's own selections: one it must match and one it
// must not. The rule tests and the check against pySigma (scripts/sigma-oracle.ts) share them.

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
function positiveSelections(rule: LoadedRule): Selection[] {
  const { detection } = rule
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

/** A record the rule must match, and one, differing in a single field, it must not, both at `at`. */
export function sigmaExamples(rule: LoadedRule, at: number, account: (kind: 1 | 2) => string): [RawEvent, RawEvent] {
  const base = (kind: 1 | 2): RawEvent => ({
    eventVersion: '1.09',
    eventTime: new Date(at).toISOString(),
    eventSource: 'example.amazonaws.com',
    eventName: 'ExampleCall',
    eventID: `${rule.detector.id}-${String(kind)}`,
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9',
    recipientAccountId: account(kind),
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account(kind)}:user/tester`, accountId: account(kind), userName: 'tester' },
  })
  const [match, miss] = [base(1), base(2)]
  const selections = positiveSelections(rule)
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

