import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testSettings } from '../test/helpers/detect.js'
import { ACCOUNT, apiCall, ingestRecords } from '../test/helpers/events.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { runDetector } from './engine.js'
import { loadRuleFiles } from './rule-files.js'

const T = Date.parse('2026-11-20T11:00:00Z')
const signIn = (minute: number, user: string, from: string, result: 'Success' | 'Failure') =>
  apiCall(T + minute * 60_000, { type: 'IAMUser', principalId: `AIDA${user}`, accountId: ACCOUNT, accessKeyId: '', userName: user }, from, {
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    responseElements: { ConsoleLogin: result },
  })

/** The sign-in rules of the fixture, and correlations over them. */
const RULES = `${readFileSync(path.resolve(import.meta.dirname, '../test/fixtures/rules/sign-ins.yml'), 'utf8')}---
title: Many failed sign-ins from one address
id: 0b8f1a2c-0000-4000-8000-000000000003
author: trailwatch tests
correlation: {type: event_count, rules: [failed_console_login], group-by: [sourceIPAddress], timespan: 1h, condition: {gte: 5}}
level: high
---
title: Failures, then a success, from one address
id: 0b8f1a2c-0000-4000-8000-000000000005
correlation: {type: temporal, rules: [failed_console_login, console_login], group-by: [sourceIPAddress], timespan: 1h}
level: critical
---
title: Failures, and after them a success, from one address
id: 0b8f1a2c-0000-4000-8000-000000000006
correlation: {type: temporal_ordered, rules: [failed_console_login, console_login], group-by: [sourceIPAddress], timespan: 1h}
---
title: A success, and after it failures, from one address
id: 0b8f1a2c-0000-4000-8000-000000000007
correlation: {type: temporal_ordered, rules: [console_login, failed_console_login], group-by: [sourceIPAddress], timespan: 1h}
---
title: Two failures, then a success, from one address
id: 0b8f1a2c-0000-4000-8000-000000000009
correlation: {type: temporal_ordered, rules: [failed_console_login, failed_console_login, console_login], group-by: [sourceIPAddress], timespan: 1h}
---
title: Three failures from one address within a minute
id: 0b8f1a2c-0000-4000-8000-000000000010
correlation: {type: event_count, rules: [failed_console_login], group-by: [sourceIPAddress], timespan: 1m, condition: {gte: 3}}
---
title: Three failures from one address within two minutes
id: 0b8f1a2c-0000-4000-8000-000000000011
correlation: {type: event_count, rules: [failed_console_login], group-by: [sourceIPAddress], timespan: 2m, condition: {gte: 3}}
---
title: Failures, then a success, within four minutes
id: 0b8f1a2c-0000-4000-8000-000000000012
correlation: {type: temporal_ordered, rules: [failed_console_login, console_login], group-by: [sourceIPAddress], timespan: 4m}
---
title: Failures, then a success, within five minutes
id: 0b8f1a2c-0000-4000-8000-000000000013
correlation: {type: temporal_ordered, rules: [failed_console_login, console_login], group-by: [sourceIPAddress], timespan: 5m}
---
title: A failure and a success, in any order, within four minutes
id: 0b8f1a2c-0000-4000-8000-000000000014
correlation: {type: temporal, rules: [console_login, failed_console_login], group-by: [sourceIPAddress], timespan: 4m}
---
title: Failed sign-ins summed
id: 0b8f1a2c-0000-4000-8000-000000000008
correlation: {type: value_sum, rules: [failed_console_login], timespan: 1h}
---
`

let store: TestStore
const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-correlation-'))
writeFileSync(path.join(dir, 'sign-ins.yml'), RULES)
const { rules, skipped } = loadRuleFiles([dir])

beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    ...['ann', 'ben', 'cat', 'ann', 'ben', 'cat'].map((user, i) => signIn(i, user, '185.220.101.1', 'Failure')),
    signIn(10, 'cat', '185.220.101.1', 'Success'),
    signIn(20, 'dan', '73.15.20.1', 'Failure'),
    signIn(21, 'dan', '73.15.20.1', 'Failure'),
  ])
})
afterAll(async () => {
  await store.close()
})

const run = async (id: string) => {
  const rule = rules.find((r) => r.detector.id === `rule:0b8f1a2c-0000-4000-8000-${id.padStart(12, '0')}`)
  if (!rule) throw new Error(`no rule ${id}`)
  return runDetector(store, rule.detector, { now: new Date(T + 3_600_000), from: new Date(T) }, testSettings())
}

describe('Sigma correlation rules', () => {
  it('loads the correlations, keeps the rules they use quiet, and names the type it cannot run', () => {
    expect(rules.map((r) => r.detector.id.slice(-2)).sort()).toEqual(['03', '04', '05', '06', '07', '09', '10', '11', '12', '13', '14'])
    expect(skipped).toEqual([{ file: path.join(dir, 'sign-ins.yml'), line: 67, reason: expect.stringMatching(/^correlation\.type: the correlation type value_sum: supported are/) as string }])
  })

  it('counts events per group (event_count) and distinct values per group (value_count)', async () => {
    const many = await run('3')
    expect(many.map((f) => [f.evidence.group, f.evidence.events, f.severity])).toEqual([[{ sourceIPAddress: '185.220.101.1' }, 6, 'high']])
    expect(many[0]?.why).toMatch(/^Matches the Sigma correlation rule "Many failed sign-ins from one address" by trailwatch tests \(event_count over 1h, grouped by sourceIPAddress\)/)
    expect((await run('4')).map((f) => f.evidence.group)).toEqual([{ sourceIPAddress: '185.220.101.1' }])
  })

  it('asks every rule to match within the group (temporal), and in the order given (temporal_ordered)', async () => {
    expect((await run('5')).map((f) => [f.evidence.group, f.severity])).toEqual([[{ sourceIPAddress: '185.220.101.1' }, 'critical']])
    expect((await run('6')).map((f) => f.evidence.group)).toEqual([{ sourceIPAddress: '185.220.101.1' }])
    expect(await run('7')).toEqual([])
    // A chain of three: the second failure must come after the first, the success after both.
    expect((await run('9')).map((f) => f.evidence.group)).toEqual([{ sourceIPAddress: '185.220.101.1' }])
  })

  it('judges within the timespan, not the whole of a longer window', async () => {
    // Six failures a minute apart: a minute holds two, two minutes hold three.
    expect(await run('10')).toEqual([])
    expect((await run('11')).map((f) => [f.evidence.group, f.evidence.count])).toEqual([[{ sourceIPAddress: '185.220.101.1' }, 3]])
    // The last failure at minute 5, the success at 10: five minutes apart, not four.
    expect(await run('12')).toEqual([])
    const ordered = await run('13')
    expect(ordered.map((f) => f.evidence.group)).toEqual([{ sourceIPAddress: '185.220.101.1' }])
    expect(await run('14')).toEqual([])
  })
})
