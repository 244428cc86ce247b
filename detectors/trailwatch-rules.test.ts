import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testSettings } from '../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, type RawEvent } from '../test/helpers/events.js'
import { openTestStore, queryRows, type TestStore } from '../test/helpers/store.js'
import type { Finding } from './define.js'
import { clickHouseTime } from '../src/time.js'
import { runDetector } from './engine.js'
import { builtInRulesDir, loadRuleFiles } from './rule-files.js'

const T = Date.parse('2026-11-20T11:00:00Z')
const MINUTE = 60_000
const DAY = 86_400_000
const ADDRESS = '198.51.100.7'

const call = (at: number, user: string, eventName: string, extra: RawEvent = {}) =>
  apiCall(at, iamUser(user), ADDRESS, { eventSource: 'secretsmanager.amazonaws.com', eventName, ...extra })
const readSecret = (at: number, user: string, secretId: string) => call(at, user, 'GetSecretValue', { requestParameters: { secretId } })

const RULES = `
title: One identity reads many secrets
id: tw-test-threshold
author: trailwatch tests
level: medium
detection:
  read: {eventSource: secretsmanager.amazonaws.com, eventName: [GetSecretValue, BatchGetSecretValue]}
  condition: read
threshold: {group-by: [userIdentity.arn], distinct: requestParameters.secretId, gte: 5, timespan: 10m}
why: '{{userIdentity.userName}} read {{distinct}} secrets in 10 minutes, among them {{values}}, from {{sourceIPAddress}}'
severity: {from: '{{distinct}}', at-least: {20: high, 50: critical}}
---
title: A principal calls an API it has not called before
id: tw-test-first-seen
level: low
detection:
  own: {userIdentity.type: IAMUser}
  condition: own
first-seen: {group-by: [userIdentity.arn], field: eventName, history: 10d, learn: 2d}
severity: {from: '{{eventName}}', equals: {GetSecretValue: high}}
---
title: A principal calls an API it has not called before, judged from its first call
id: tw-test-first-seen-at-once
detection:
  own: {userIdentity.type: IAMUser}
  condition: own
first-seen: {group-by: [userIdentity.arn], field: eventName, history: 10d, learn: 0s}
---
title: Secrets listed, then read
id: tw-test-sequence
detection:
  list: {eventName: ListSecrets}
  read: {eventName: GetSecretValue}
sequence: {steps: {listed: list, read: read}, within: 30m}
dedup: '{{userIdentity.userName}}'
---
title: Two types at once
id: tw-test-two-types
detection: {all: {eventName: ListSecrets}, condition: all}
threshold: {gte: 2, timespan: 1h}
sequence: {steps: [all, all], within: 1h}
---
title: A template that computes
id: tw-test-bad-template
detection: {all: {eventName: ListSecrets}, condition: all}
threshold: {gte: 2, timespan: 1h}
why: 'seen {{ count + 1 }} times'
---
title: A threshold with a word it does not know
id: tw-test-unknown-key
detection: {all: {eventName: ListSecrets}, condition: all}
threshold: {gte: 2, timespan: 1h, per: user}
---
title: A first-seen rule that would never judge
id: tw-test-learn-too-long
detection: {listed: {eventName: ListSecrets}, condition: listed}
first-seen: {field: sourceIPAddress, history: 30s, learn: 1d}
`

const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-own-rules-'))
writeFileSync(path.join(dir, 'own.yml'), RULES)
const { rules, skipped } = loadRuleFiles([dir])

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
})
afterAll(async () => {
  await store.close()
})

/** A run over [from, now); given `touchedFrom`, the pass on a batch stored from then. */
const run = (id: string, now: number, from = now - 3_600_000, touchedFrom?: number): Promise<Finding[]> => {
  const rule = rules.find((r) => r.id === id)
  if (!rule) throw new Error(`no rule ${id}`)
  return runDetector(store, rule.detector, { now: new Date(now), from: new Date(from) }, testSettings(), touchedFrom === undefined ? undefined : new Date(touchedFrom))
}

describe('trailwatch rule files', () => {
  it('loads each type and skips, with a reason, a rule of two types, a template that computes, an unknown option and a history too short to learn', () => {
    expect(rules.map((r) => [r.id, r.type])).toEqual([
      ['tw-test-threshold', 'threshold'],
      ['tw-test-first-seen', 'first-seen'],
      ['tw-test-first-seen-at-once', 'first-seen'],
      ['tw-test-sequence', 'sequence'],
    ])
    expect(rules.filter((r) => r.warnings.length > 0).map((r) => [r.id, r.warnings])).toEqual([
      ['tw-test-threshold', [expect.stringMatching(/^threshold\.group-by: userIdentity\.arn counts each role session apart/)]],
    ])
    const file = path.join(dir, 'own.yml')
    expect(skipped).toEqual([
      { file, line: 40, reason: 'a rule is one of threshold, first-seen or sequence, not threshold and sequence' },
      { file, line: 47, reason: 'why: {{ count + 1 }} is not a value\'s name or a field path' },
      { file, line: 52, reason: expect.stringMatching(/^threshold: Unrecognized key: "per"/) as string },
      { file, line: 57, reason: 'first-seen.learn: learn is longer than history: no group would ever be judged' },
    ])
  })
})

describe('threshold', () => {
  const at = T + 2 * DAY
  beforeAll(async () => {
    await ingestRecords(store, [
      // mallory: six secrets in five minutes; bob: one secret ten times; ann: six secrets over an hour.
      ...['db', 'api', 'ssh', 'tls', 'smtp', 'ldap'].map((secret, i) => readSecret(at + i * MINUTE, 'mallory', secret)),
      ...Array.from({ length: 10 }, (_, i) => readSecret(at + i * MINUTE, 'bob', 'db')),
      ...['db', 'api', 'ssh', 'tls', 'smtp', 'ldap'].map((secret, i) => readSecret(at + i * 12 * MINUTE, 'ann', secret)),
      // Twenty-five secrets by one more: the count raises the severity.
      ...Array.from({ length: 25 }, (_, i) => readSecret(at + i * 10_000, 'eve', `app-${String(i)}`)),
    ])
  })

  it('counts distinct values per group within the timespan, and templates the why and the severity from them', async () => {
    const findings = await run('tw-test-threshold', at + 10 * MINUTE)
    expect(findings.map((f) => [f.principal, f.severity, f.evidence.count])).toEqual([
      [`arn:aws:iam::${ACCOUNT}:user/eve`, 'high', 25],
      [`arn:aws:iam::${ACCOUNT}:user/mallory`, 'medium', 6],
    ])
    const mallory = findings[1]
    expect(mallory?.why).toMatch(/^mallory read 6 secrets in 10 minutes, among them (\w+, ){4}\w+, from 198\.51\.100\.7$/)
    expect(mallory?.title).toBe(`One identity reads many secrets: arn:aws:iam::${ACCOUNT}:user/mallory (6 distinct requestParameters.secretId in 10m)`)
    expect(mallory?.evidence.group).toEqual({ 'userIdentity.arn': `arn:aws:iam::${ACCOUNT}:user/mallory` })
  })

  it('does not count a burst the timespan does not hold', async () => {
    // Ann's six reads span an hour: no ten minutes of them reach five.
    for (let minute = 10; minute <= 70; minute += 5) {
      const findings = await run('tw-test-threshold', at + minute * MINUTE, at + (minute - 10) * MINUTE)
      expect(findings.map((f) => f.principal)).not.toContain(`arn:aws:iam::${ACCOUNT}:user/ann`)
    }
    // Nor does a run whose window is longer than the timespan, as runs that allow for late events are.
    const wide = await run('tw-test-threshold', at + 75 * MINUTE, at - 5 * MINUTE)
    expect(wide.map((f) => f.principal.split('/')[1])).toEqual(['eve', 'mallory'])
  })

  it('on a stored batch judges the groups the batch touched, each as the whole window would', async () => {
    const whole = await run('tw-test-threshold', at + 10 * MINUTE)
    // A batch from the fifth minute holds mallory's last read; eve's reads ended at four minutes.
    const pass = await run('tw-test-threshold', at + 10 * MINUTE, at - 50 * MINUTE, at + 5 * MINUTE)
    expect(pass).toEqual(whole.filter((f) => f.principal.endsWith('/mallory')))
    expect(await run('tw-test-threshold', at + 10 * MINUTE, at - 50 * MINUTE, at + 6 * MINUTE)).toEqual([])
  })
})

describe('first-seen', () => {
  const day0 = T + 10 * DAY
  const window = { from: day0 + 12 * DAY, now: day0 + 12 * DAY + 3_600_000 }
  const alice = `arn:aws:iam::${ACCOUNT}:user/alice`
  beforeAll(async () => {
    await ingestRecords(store, [
      // alice lists secrets every day for eleven days, and described one twelve days ago only: beyond the history.
      ...Array.from({ length: 11 }, (_, i) => call(day0 + i * DAY, 'alice', 'ListSecrets')),
      call(day0, 'alice', 'DescribeSecret'),
      // In the window: the usual, and two calls she has not made within ten days.
      call(window.from + 5 * MINUTE, 'alice', 'ListSecrets'),
      call(window.from + 6 * MINUTE, 'alice', 'DescribeSecret'),
      readSecret(window.from + 7 * MINUTE, 'alice', 'db'),
      readSecret(window.from + 8 * MINUTE, 'alice', 'db'),
      // A user seen for the first time: everything is new to them, nothing is judged yet.
      readSecret(window.from + 9 * MINUTE, 'newcomer', 'db'),
    ])
  })

  it('finds each value new for its group within the history, once the group has history enough to judge', async () => {
    const findings = await run('tw-test-first-seen', window.now, window.from)
    expect(findings.map((f) => [f.principal, f.evidence.value, f.severity, f.evidence.known_values])).toEqual([
      [alice, 'DescribeSecret', 'low', 1],
      [alice, 'GetSecretValue', 'high', 1],
    ])
    expect(findings[1]?.why).toMatch(/^arn:aws:iam::111122223333:user\/alice had not shown eventName "GetSecretValue" in the 10d before, among 1 values it had shown\./)
    // The same window again finds the same alerts: remembering twice changes nothing.
    expect((await run('tw-test-first-seen', window.now, window.from)).map((f) => f.alertId)).toEqual(findings.map((f) => f.alertId))
  })

  it('judges a group from its first value when it need not learn first', async () => {
    const findings = await run('tw-test-first-seen-at-once', window.now, window.from)
    expect(findings.map((f) => [f.principal.split('/')[1], f.evidence.value])).toEqual([
      ['alice', 'DescribeSecret'],
      ['alice', 'GetSecretValue'],
      ['newcomer', 'GetSecretValue'],
    ])
    expect(findings[2]?.why).toMatch(/^arn:aws:iam::111122223333:user\/newcomer had shown no eventName in the 10d before: "GetSecretValue" is its first\./)
  })

  it('keeps its history in the store: a later run judges by it without the events it was learned from', async () => {
    const later = { from: window.now, now: window.now + 3_600_000 }
    await ingestRecords(store, [call(later.from + MINUTE, 'alice', 'GetSecretValue'), call(later.from + 2 * MINUTE, 'alice', 'TagResource')])
    await store.client.command({ query: 'SYSTEM START MERGES events' })
    await store.client.command({ query: 'ALTER TABLE events DELETE WHERE event_time < {before:DateTime64(3)} SETTINGS mutations_sync = 1', query_params: { before: clickHouseTime(later.from) } })
    const findings = await run('tw-test-first-seen', later.now, later.from)
    // GetSecretValue was new an hour ago and is known now; the history of ListSecrets survives its events.
    expect(findings.map((f) => [f.evidence.value, f.evidence.known_values])).toEqual([['TagResource', 3]])
    const remembered = await queryRows<{ values: string[] }>(store, "SELECT groupUniqArray(value) AS values FROM rule_seen_values WHERE startsWith(rule_key, 'tw-test-first-seen:')")
    expect(remembered[0]?.values.sort()).toEqual(['DescribeSecret', 'GetSecretValue', 'ListSecrets', 'TagResource'])
  })
})

describe('sequence', () => {
  const at = T + 30 * DAY
  beforeAll(async () => {
    await ingestRecords(store, [
      // carl lists, then reads; dora reads, then lists; lists by fred and reads by gina; hal reads 40 minutes after listing.
      call(at, 'carl', 'ListSecrets'),
      readSecret(at + 2 * MINUTE, 'carl', 'db'),
      readSecret(at, 'dora', 'db'),
      call(at + MINUTE, 'dora', 'ListSecrets'),
      call(at, 'fred', 'ListSecrets'),
      readSecret(at + MINUTE, 'gina', 'db'),
      call(at - 40 * MINUTE, 'hal', 'ListSecrets'),
      readSecret(at, 'hal', 'db'),
    ])
  })

  it('finds the steps in order, by one identity, within the time', async () => {
    const findings = await run('tw-test-sequence', at + 10 * MINUTE, at + 10 * MINUTE - 30 * MINUTE)
    expect(findings.map((f) => f.principal)).toEqual([`arn:aws:iam::${ACCOUNT}:user/carl`])
    expect(findings[0]?.evidence.steps).toEqual({ listed: '2026-12-20T11:00:00.000Z', read: '2026-12-20T11:02:00.000Z' })
    expect(findings[0]?.why).toMatch(/^listed at 2026-12-20T11:00:00\.000Z, then read at 2026-12-20T11:02:00\.000Z, by \S+user\/carl: in that order within 30m\./)
    // A window longer than the time holds hal's list and read, 40 minutes apart: not within 30.
    expect((await run('tw-test-sequence', at + 10 * MINUTE, at - 50 * MINUTE)).map((f) => f.principal)).toEqual([`arn:aws:iam::${ACCOUNT}:user/carl`])
    // The dedup key is the template's: the same identity's sequence later is the same alert.
    const later = await run('tw-test-sequence', at + 20 * MINUTE, at - 10 * MINUTE)
    expect(later.map((f) => f.alertId)).toEqual(findings.map((f) => f.alertId))
  })

  it('on a stored batch judges the identities whose steps the batch holds', async () => {
    const whole = await run('tw-test-sequence', at + 10 * MINUTE, at - 20 * MINUTE)
    // Carl's read at two minutes is in a batch from then; gina's and dora's a minute before are not, nor would they be a sequence.
    expect(await run('tw-test-sequence', at + 10 * MINUTE, at - 20 * MINUTE, at + 2 * MINUTE)).toEqual(whole)
    expect(await run('tw-test-sequence', at + 10 * MINUTE, at - 20 * MINUTE, at + 3 * MINUTE)).toEqual([])
  })
})

describe('the built-in rules', () => {
  it('are shown in the README as they ship: each rule there is a document of its file, less the comment that opens it', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8')
    const shown = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map(([, block = '']) => block).filter((block) => /^id: trailwatch-/m.test(block))
    const builtIn = loadRuleFiles([builtInRulesDir()])
    expect(builtIn.skipped).toEqual([])
    const files = [...new Set(builtIn.rules.map((r) => r.file))]
    const documents = files.flatMap((file) => readFileSync(file, 'utf8').split(/^---\n/m)).map((doc) => doc.replace(/^# .*\n/gm, ''))
    expect(documents).toHaveLength(builtIn.rules.length)
    // One worked example of each type.
    expect(shown.length).toBeGreaterThanOrEqual(3)
    for (const block of shown) expect(documents).toContain(block)
    // And each one in the README's table.
    for (const rule of builtIn.rules) expect(readme).toContain(`| \`${rule.id}\` | ${rule.type === 'sigma' ? 'Sigma' : rule.type} |`)
  })
})
