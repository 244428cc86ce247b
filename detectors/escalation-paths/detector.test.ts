import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/alerts/table.js'
import { postureConfig } from '../../src/iam/assessment.js'
import { identityKey, reachOf, recordReach } from '../../src/iam/reach.js'
import { iamPostureReport } from '../../src/reports/iam-posture.js'
import { storeSnapshot } from '../../src/iam/snapshots.js'
import { testSettings } from '../../test/helpers/detect.js'
import { openTestStore, queryRows, recordAt, type TestStore } from '../../test/helpers/store.js'
import { alertId, runDetector } from '../engine.js'
import detector from './detector.js'

const ACCOUNT = '444455556666'
const FIRST = Date.parse('2026-11-23T06:00:00Z')
const SECOND = Date.parse('2026-11-30T06:00:00Z')
const THIRD = Date.parse('2026-12-01T06:00:00Z')
const TEXT = readFileSync(path.resolve(import.meta.dirname, '../../test/fixtures/iam/escalation-444455556666.json'), 'utf8')
const arn = (kind: string, name: string): string => `arn:aws:iam::${ACCOUNT}:${kind}/${name}`

interface Details {
  UserDetailList: { UserName: string; UserPolicyList: { PolicyName: string; PolicyDocument: { Statement: { Sid: string; Resource: string }[] } }[] }[]
}

/** The fixture changed: `change` edits its users. */
function changed(change: (details: Details) => void): string {
  const details = JSON.parse(TEXT) as Details
  change(details)
  return JSON.stringify(details)
}
// A week later the analyst may pass every Lambda role (a new path); a day after, the intern's key grant is gone.
const widened = (d: Details): void => {
  const statement = d.UserDetailList.find((u) => u.UserName === 'analyst')?.UserPolicyList[0]?.PolicyDocument.Statement[0]
  if (statement) statement.Resource = arn('role', 'lambda-*')
}
const SECOND_TEXT = changed(widened)
const THIRD_TEXT = changed((d) => {
  widened(d)
  const intern = d.UserDetailList.find((u) => u.UserName === 'intern')
  if (intern) intern.UserPolicyList = []
})

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  for (const [at, text] of [[FIRST, TEXT], [SECOND, SECOND_TEXT], [THIRD, THIRD_TEXT]] as const) {
    await storeSnapshot(store, ACCOUNT, at, text, at)
    await recordReach(store, new Date(at), new Date(at))
  }
})
afterAll(async () => {
  await store.close()
})

const run = (at: number): Promise<Finding[]> => runDetector(store, detector, { from: new Date(at - 3_600_000), now: new Date(at) }, testSettings())
const lines = (findings: Finding[]): string[] => findings.map((f) => `${f.severity} ${f.title}`).sort()

describe('escalation-paths on the real engine', () => {
  it('the first computation: each identity that can become administrator, the one hanging on MFA a level lower; nothing is new yet', async () => {
    expect(lines(await run(FIRST + 60_000))).toEqual([
      'high Role deploy can become administrator in 1 step',
      'high User ci-bot can become administrator in 2 steps',
      'high User intern can become administrator in 3 steps',
      'medium User dev can become administrator in 1 step',
    ])
    expect(await run(FIRST - 60_000)).toEqual([])
  })

  it('says the path, what it depends on and the smallest cut', async () => {
    const dev = (await run(FIRST + 60_000)).find((f) => f.principal === arn('user', 'dev'))
    expect(dev?.why).toContain('user dev --[iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction]--> role lambda-admin')
    expect(dev?.why).toContain('It depends on: Bool aws:MultiFactorAuthPresent true.')
    expect(dev?.why).toContain('The smallest change that cuts every path: take away user dev iam:PassRole')
    expect(dev?.evidence.cut).toHaveLength(2)
    expect(dev?.kind).toBe('posture')
  })

  it('a path that appeared since the computation before is a finding of its own: the analyst, once widened', async () => {
    const found = await run(SECOND + 60_000)
    expect(found.filter((f) => f.evidence.check === 'new-escalation-path').map((f) => `${f.severity} ${f.title}`)).toEqual(['high A new path to administrator: user analyst can become administrator in 1 step'])
    expect(found.find((f) => f.evidence.check === 'new-escalation-path')?.firstSeen).toBe(new Date(SECOND).toISOString())
    // The standing finding keeps the day it was first computed.
    expect(found.find((f) => f.principal === arn('user', 'dev'))?.firstSeen).toBe(new Date(FIRST).toISOString())
  })

  it('a path taken away is no longer found: the intern without its key grant', async () => {
    const principals = (await run(THIRD + 60_000)).map((f) => f.principal)
    expect(principals).not.toContain(arn('user', 'intern'))
    expect(principals).toContain(arn('user', 'analyst'))
  })
})

describe('the weekly IAM posture report', () => {
  it('lists who can become administrator beside the checks, since the computation that first found it', async () => {
    const report = await iamPostureReport(store, new Date(THIRD + 60_000), postureConfig({}))
    const paths = report.findings.filter((f) => f.check === 'escalation-path')
    expect(paths.map((f) => `${f.severity} ${f.title}`).sort()).toEqual([
      'high Role deploy can become administrator in 1 step',
      'high User analyst can become administrator in 1 step',
      'high User ci-bot can become administrator in 2 steps',
      'medium User dev can become administrator in 1 step',
    ])
    expect(paths.find((f) => f.subject === arn('user', 'dev'))).toMatchObject({ since: new Date(FIRST).toISOString(), mitigations: 'Bool aws:MultiFactorAuthPresent true' })
    expect(paths.find((f) => f.subject === arn('user', 'analyst'))?.since).toBe(new Date(SECOND).toISOString())
  })
})

describe('alerts weighed by reach', () => {
  it('knows a role by its sessions and a user by its ARN; anything else is no identity', () => {
    expect(identityKey(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy/release-42`)).toBe(`${ACCOUNT}|role|deploy`)
    expect(identityKey(`arn:aws:iam::${ACCOUNT}:role/service/deploy`)).toBe(`${ACCOUNT}|role|deploy`)
    expect(identityKey(`arn:aws:iam::${ACCOUNT}:user/dev`)).toBe(`${ACCOUNT}|user|dev`)
    expect(identityKey(`arn:aws:iam::${ACCOUNT}:root`)).toBeUndefined()
  })

  it('reads the computation in force at the time asked', async () => {
    expect([...(await reachOf(store, [arn('user', 'intern'), arn('user', 'ops')], new Date(FIRST + 1))).keys()]).toEqual([arn('user', 'intern')])
    expect((await reachOf(store, [arn('user', 'intern')], new Date(THIRD + 1))).size).toBe(0)
    expect((await reachOf(store, [arn('user', 'dev')], new Date(FIRST - 1))).size).toBe(0)
  })

  it('a finding on a session of a role that can become administrator is stored one level higher, saying how; one on an identity that cannot keeps its level', async () => {
    const at = new Date(THIRD + 3_600_000)
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/release-42`
    const finding = (principal: string, key: string): Finding => ({
      detector: 'unusual-source-ip',
      kind: 'threat',
      alertId: alertId('unusual-source-ip', key),
      severity: 'medium',
      principal,
      account: ACCOUNT,
      title: 'A call from a network never seen',
      firstSeen: at.toISOString(),
      lastSeen: at.toISOString(),
      evidence: {},
      why: 'First call from AS64500.',
      dedupKey: key,
      attack: [],
      runbook: [],
    })
    await recordAt(store, [finding(session, 'weighed-deploy'), finding(arn('user', 'intern'), 'weighed-intern')], at)
    const rows = await queryRows<{ dedup_key: string; severity: string; why: string }>(store, "SELECT dedup_key, severity, why FROM alerts FINAL WHERE dedup_key LIKE 'weighed-%' ORDER BY dedup_key")
    expect(rows.map((r) => `${r.dedup_key} ${r.severity}`)).toEqual(['weighed-deploy high', 'weighed-intern medium'])
    expect(rows[0]?.why).toBe('First call from AS64500. Raised one level: this identity can become administrator in 1 step, role deploy --[iam:UpdateAssumeRolePolicy + sts:AssumeRole]--> role lambda-admin.')
  })
})
