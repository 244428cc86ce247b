import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS } from '../test/helpers/datasets.js'
import { testSettings } from '../test/helpers/detect.js'
import { ingestRecords } from '../test/helpers/events.js'
import { sigmaExamples } from '../test/helpers/sigma-examples.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { runDetector } from './engine.js'
import { loadRuleFiles } from './rule-files.js'

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
