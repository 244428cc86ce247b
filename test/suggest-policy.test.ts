import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { backfill } from '../ingest/backfill.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { actionOf, suggestPolicy, usedActions } from '../src/iam/least-privilege.js'
import { evaluate, statementsOf, type NamedPolicy } from '../src/iam/policy.js'
import { INVICTUS } from './helpers/datasets.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'

const BERT_JAN = 'arn:aws:iam::123837392027:user/bert-jan'
const RANGE = { from: new Date('2023-07-01T00:00:00Z'), to: new Date('2023-07-11T00:00:00Z') }

const Call = z.object({ principal: z.string(), event_source: z.string(), event_name: z.string(), error_code: z.string(), resources: z.array(z.string()) })
type Call = z.output<typeof Call>

let store: TestStore
let calls: Call[]
let policy: NamedPolicy
beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
  calls = await selectRows(
    store,
    `SELECT principal_arn AS principal, event_source, event_name, error_code,
            arrayFilter(a -> a != '', arrayMap(r -> JSONExtractString(r, 'ARN'), JSONExtractArrayRaw(raw, 'resources'))) AS resources
     FROM events WHERE event_source != 'signin.amazonaws.com' AND event_type != 'AwsConsoleSignIn'`,
    {},
    Call,
  )
  policy = { name: 'suggested', document: suggestPolicy(await usedActions(store, BERT_JAN, RANGE)) }
}, 120_000)
afterAll(async () => {
  await store.close()
})

const refused = (call: Call): boolean => /AccessDenied|Unauthorized|Forbidden|NotAuthorized/i.test(call.error_code)
const decision = (action: string, resource: string): string => evaluate({ action, resource }, { identity: [policy] }).decision

describe('suggest-policy on bert-jan in the invictus-ir dataset', () => {
  it('allows every call he made there, on the resources each call named', () => {
    const his = calls.filter((c) => c.principal === BERT_JAN && !refused(c))
    expect(his.length).toBeGreaterThan(2000)
    const denied = his.flatMap((c) => (c.resources.length ? c.resources : ['*']).filter((resource) => decision(actionOf(c.event_source, c.event_name), resource) !== 'allowed').map((r) => `${c.event_name} ${r}`))
    expect(denied).toEqual([])
  })

  it('allows nothing he did not do: not what others did, not what AWS refused him', () => {
    const his = new Set(calls.filter((c) => c.principal === BERT_JAN && !refused(c)).map((c) => actionOf(c.event_source, c.event_name)))
    const others = [...new Set(calls.filter((c) => !refused(c) || c.principal === BERT_JAN).map((c) => actionOf(c.event_source, c.event_name)))].filter((a) => !his.has(a))
    // Refused him (Cost Explorer), and what his roles and other principals did.
    expect(others).toEqual(expect.arrayContaining(['ce:GetCostAndUsage', 'iam:ListUsers', 'iam:GetAccountAuthorizationDetails']))
    expect(others.length).toBeGreaterThan(10)
    expect(others.filter((action) => decision(action, '*') !== 'implicit-deny')).toEqual([])
  })

  it('narrows an action to the resources its calls named, and says * only where calls named none', () => {
    const statements = statementsOf(policy.document)
    const kms = statements.find((s) => [s.Action].flat().includes('kms:Decrypt'))
    expect(kms?.Resource).not.toBe('*')
    expect([kms?.Resource].flat().every((r) => r?.startsWith('arn:aws:kms:'))).toBe(true)
    expect(decision('kms:Decrypt', 'arn:aws:kms:us-east-1:123837392027:key/not-one-of-his')).toBe('implicit-deny')
    // An IAM call records no resource: the action is granted on *.
    expect(statements.find((s) => [s.Action].flat().includes('iam:CreateUser'))?.Resource).toBe('*')
    // CloudTrail's names become IAM's.
    expect(decision('lambda:GetFunction', '*')).toBe('allowed')
    expect(decision('lambda:GetFunction20150331v2', '*')).toBe('implicit-deny')
  })
})
