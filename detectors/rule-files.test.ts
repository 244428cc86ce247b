import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS } from '../test/helpers/datasets.js'
import { testSettings } from '../test/helpers/detect.js'
import { ingestRecords } from '../test/helpers/events.js'
import { sigmaExamples } from '../test/helpers/sigma-examples.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { runDetector } from './engine.js'
import { checkRulePatterns, loadRuleFiles } from './rule-files.js'

const SIGMA = path.join(DATASETS, 'sigma-cloudtrail')
const AT = Date.parse('2026-11-20T11:30:00Z')
const { rules, skipped } = loadRuleFiles([SIGMA])

let store: TestStore
beforeAll(async () => {
  const records = rules.flatMap((rule, i) => sigmaExamples(rule, AT, (kind) => `${String(kind)}${String(i).padStart(11, '0')}`))
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

describe('rule files written to break the loader', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-hostile-rules-'))
  const rule = (id: string, detection: string) => `title: ${id}\nid: ${id}\nlogsource: { product: aws, service: cloudtrail }\nlevel: high\ndetection:\n${detection}\n`
  writeFileSync(path.join(dir, 'a-alias-bomb.yml'), `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`)
  writeFileSync(path.join(dir, 'b-deep-condition.yml'), rule('deep', `  sel: { eventName: X }\n  condition: ${'('.repeat(5000)}sel${')'.repeat(5000)}`))
  writeFileSync(path.join(dir, 'c-long-list.yml'), rule('long-list', `  sel:\n    eventName:\n${Array.from({ length: 20_000 }, (_, i) => `      - Name${String(i)}`).join('\n')}\n  condition: sel`))
  writeFileSync(path.join(dir, 'd-bad-regex.yml'), rule('bad-regex', `  sel: { eventName|re: 'Get(Object' }\n  condition: sel`))
  writeFileSync(path.join(dir, 'e-fine.yml'), rule('fine', `  sel: { eventName|re: '^Get(Object|Bucket)$' }\n  condition: sel`))

  it('skips each broken file with its reason and loads the rest, a long list in linear time', async () => {
    const loaded = await checkRulePatterns(store.client, loadRuleFiles([dir]))
    expect(loaded.rules.map((r) => r.id)).toEqual(['long-list', 'fine'])
    expect(loaded.skipped.map((s) => [path.basename(s.file), s.reason.split(':')[0]])).toEqual([
      ['a-alias-bomb.yml', 'not loaded'],
      ['b-deep-condition.yml', 'condition'],
      ['d-bad-regex.yml', 'bad-regex'],
    ])
    expect(loaded.skipped[0]?.reason).toMatch(/alias/i)
    expect(loaded.skipped[1]?.reason).toBe('condition: nested deeper than 64 levels')
    expect(loaded.skipped[2]?.reason).toMatch(/^bad-regex: the regular expression "Get\(Object" does not compile: .*cannot compile re2: Get\(Object, error: missing \)/)
  })
})
