import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeSnapshot } from '../../src/iam/snapshots.js'
import { testSettings } from '../../test/helpers/detect.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { runDetector } from '../engine.js'
import detector from './detector.js'

const ACCOUNT = '111122223333'
const FIRST = Date.parse('2026-11-23T06:00:00Z')
const SECOND = Date.parse('2026-11-30T06:00:00Z')
const TEXT = readFileSync(path.resolve(import.meta.dirname, '../../test/fixtures/iam/authorization-details.json'), 'utf8')

/** The fixture a week later: alice made an administrator. */
function later(): string {
  const details = JSON.parse(TEXT) as { UserDetailList: { UserName: string; AttachedManagedPolicies: unknown[] }[] }
  details.UserDetailList.find((u) => u.UserName === 'alice')?.AttachedManagedPolicies.push({ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' })
  return JSON.stringify(details)
}

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await storeSnapshot(store, ACCOUNT, FIRST, TEXT, FIRST)
  await storeSnapshot(store, ACCOUNT, SECOND, later(), SECOND)
})
afterAll(async () => {
  await store.close()
})

const run = (at: number, config: Record<string, unknown> = {}) => runDetector(store, detector, { from: new Date(at - 3_600_000), now: new Date(at) }, testSettings({ 'iam-posture': config }))

describe('iam-posture', () => {
  it('reads the snapshot in force at the run: the first alone says nothing changed', async () => {
    const findings = await run(FIRST + 60_000)
    expect(findings.filter((f) => String(f.evidence.check).startsWith('new-'))).toEqual([])
    expect(findings.map((f) => f.evidence.check)).toEqual(expect.arrayContaining(['administrator-user', 'trust-any-principal', 'full-access-policy', 'unused-role']))
    expect(await run(FIRST - 60_000)).toEqual([])
  })

  it('compares the latest snapshot with the one before: alice became an administrator', async () => {
    const findings = await run(SECOND + 60_000)
    const promoted = findings.find((f) => f.evidence.check === 'new-administrator')
    expect(promoted).toMatchObject({ severity: 'high', principal: `arn:aws:iam::${ACCOUNT}:user/alice`, title: 'User alice became an administrator', firstSeen: new Date(SECOND).toISOString() })
    // The same state found again is the same alert: posture findings keep their ids across runs.
    const again = await run(SECOND + 3_600_000)
    expect(again.map((f) => f.alertId).sort()).toEqual(findings.map((f) => f.alertId).sort())
  })

  it('takes the organisation’s accounts from its settings, and shows mitigations in why', async () => {
    const findings = await run(SECOND + 60_000, { organisationAccounts: ['444455556666'] })
    expect(findings.filter((f) => f.evidence.check === 'trust-outside-organisation').map((f) => f.title)).toEqual(['Role partner-audit trusts account 999988887777, outside the organisation'])
    expect(findings.find((f) => f.principal.endsWith('user/ops/dana'))?.why).toContain('Narrowed by: Bool aws:MultiFactorAuthPresent true.')
  })
})
