import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertCredentialReport, parseCredentialReport } from '../../src/credentials/credential-report.js'
import { parsePasswordPolicy, storeSnapshot } from '../../src/iam/snapshots.js'
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
  const weak = parsePasswordPolicy(readFileSync(path.resolve(import.meta.dirname, '../../test/fixtures/iam/password-policy.json'), 'utf8'), 'fixture')
  await storeSnapshot(store, ACCOUNT, SECOND, later(), SECOND, weak)
  await insertCredentialReport(store, parseCredentialReport(REPORT), SECOND, SECOND)
})

const HEADER = 'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated'
/** A credential-report line: password enabled, MFA, first key active, the password's last use. */
const line = (user: string, password: boolean, mfa: boolean, key: boolean, signedIn = 'N/A'): string =>
  `${user},arn:aws:iam::${ACCOUNT}:${user === '<root_account>' ? 'root' : `user/${user}`},2024-01-01T00:00:00+00:00,${user === '<root_account>' ? 'not_supported' : String(password)},${signedIn},N/A,N/A,${String(mfa)},${String(key)},${key ? '2025-01-01T00:00:00+00:00' : 'N/A'},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`
const REPORT = [
  HEADER,
  line('<root_account>', false, false, true),
  line('alice', true, false, false),
  line('bob', true, true, false, '2026-11-29T08:00:00+00:00'),
  line('carol', false, false, false),
  line('erin', true, true, false, '2026-06-01T08:00:00+00:00'),
].join('\n')
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

  it('holds the latest credential report to MFA and use: root without MFA and with a key, alice’s password alone, users unused for 90 days; not bob (MFA, signed in yesterday)', async () => {
    const findings = (await run(SECOND + 60_000)).filter((f) => f.evidence.source === 'credential report')
    expect(findings.map((f) => `${String(f.evidence.check)} ${f.title} ${f.severity}`).sort()).toEqual([
      'console-user-without-mfa User alice signs in to the console without MFA high',
      `root-access-key The root user of ${ACCOUNT} has an active access key critical`,
      `root-without-mfa The root user of ${ACCOUNT} has no MFA critical`,
      'unused-user User alice never used low',
      'unused-user User carol never used low',
      'unused-user User erin unused since 2026-06-01 low',
    ])
    expect((await run(SECOND + 60_000, { unusedDays: 365 })).filter((f) => f.evidence.check === 'unused-user').map((f) => f.title)).toEqual(['User alice never used', 'User carol never used'])
    // Before any report, nothing of the kind.
    expect((await run(FIRST + 60_000)).filter((f) => f.evidence.source === 'credential report')).toEqual([])
  })

  it('holds the password policy to the standard in its settings, once a snapshot carries one', async () => {
    expect((await run(FIRST + 60_000)).filter((f) => f.evidence.check === 'weak-password-policy')).toEqual([])
    const [weak] = (await run(SECOND + 60_000)).filter((f) => f.evidence.check === 'weak-password-policy')
    expect(weak).toMatchObject({ principal: ACCOUNT, severity: 'medium', firstSeen: new Date(SECOND).toISOString() })
    const relaxed = await run(SECOND + 60_000, { passwordPolicy: { minimumLength: 8, reusePrevention: 5, requireUppercase: false } })
    expect(relaxed.filter((f) => f.evidence.check === 'weak-password-policy')).toEqual([])
  })

  it('takes the organisation’s accounts from its settings, and shows mitigations in why', async () => {
    const findings = await run(SECOND + 60_000, { organisationAccounts: ['444455556666'] })
    expect(findings.filter((f) => f.evidence.check === 'trust-outside-organisation').map((f) => f.title)).toEqual(['Role partner-audit trusts account 999988887777, outside the organisation'])
    expect(findings.find((f) => f.principal.endsWith('user/ops/dana'))?.why).toContain('Narrowed by: Bool aws:MultiFactorAuthPresent true.')
  })
})
