import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostureConfig } from '../src/iam/assessment.js'
import { parsePasswordPolicy, storeSnapshot } from '../src/iam/snapshots.js'
import { composePostureEmail, iamPostureReport, postureReportCsv, postureReportText, type PostureReport } from '../src/reports/iam-posture.js'
import { openTestStore, type TestStore } from './helpers/store.js'

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/iam')
const TAKEN = Date.parse('2026-11-30T06:00:00Z')

let store: TestStore
let report: PostureReport
beforeAll(async () => {
  store = await openTestStore()
  const details = readFileSync(path.join(FIXTURES, 'authorization-details.json'), 'utf8')
  await storeSnapshot(store, '111122223333', TAKEN, details, TAKEN, parsePasswordPolicy(readFileSync(path.join(FIXTURES, 'password-policy.json'), 'utf8'), 'fixture'))
  report = await iamPostureReport(store, new Date(TAKEN + 3_600_000), PostureConfig.parse({}))
})
afterAll(async () => {
  await store.close()
})

describe('the IAM posture report', () => {
  it('lists every finding worst first, with the conditions that narrow each, and never an ExternalId', () => {
    const text = postureReportText(report)
    expect(text.split('\n').slice(0, 4)).toEqual([
      'IAM posture report at 2026-11-30T07:00:00.000Z',
      '  12 findings in 1 account: 1 critical, 4 high, 5 medium, 2 low',
      '',
      'CRITICAL 111122223333  trust-any-principal  Role anyone may be assumed by any AWS principal',
    ])
    expect(text).toContain('         narrowed by: Bool aws:MultiFactorAuthPresent true')
    expect(text).toContain('narrowed by: StringEquals sts:ExternalId (set)')
    expect(text).not.toContain('b7e1c2d9-backup')
    expect(report.findings.map((f) => f.severity)).toEqual([...report.findings.map((f) => f.severity)].sort((a, b) => ['critical', 'high', 'medium', 'low', 'info'].indexOf(a) - ['critical', 'high', 'medium', 'low', 'info'].indexOf(b)))
  })

  it('is an email with the findings in its body and every one in the CSV, and nothing before the first snapshot', async () => {
    const { composed, attachments } = composePostureEmail(report)
    expect(composed.subject).toBe('[trailwatch] IAM posture report 2026-11-30: 12 findings in 1 account: 1 critical, 4 high, 5 medium, 2 low')
    expect(composed.html).toContain('<strong>CRITICAL</strong> 111122223333 · Role anyone may be assumed by any AWS principal')
    expect(attachments.map((a) => a.filename)).toEqual(['iam-posture-2026-11-30.csv'])
    const rows = parse<Record<string, string>>(postureReportCsv(report), { columns: true })
    expect(rows).toHaveLength(12)
    expect(Object.keys(rows[0] ?? {})).toEqual(['account', 'severity', 'check', 'subject', 'title', 'mitigations', 'since'])
    expect((await iamPostureReport(store, new Date(TAKEN - 1), PostureConfig.parse({}))).findings).toEqual([])
  })
})
