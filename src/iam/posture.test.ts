import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAuthorizationDetails, type AuthorizationDetails } from './authorization.js'
import { parsePasswordPolicy } from './snapshots.js'
import { passwordPolicyFindings, PasswordStandard, postureFindings, type PostureSettings } from './posture.js'

const FIXTURE = path.resolve(import.meta.dirname, '../../test/fixtures/iam/authorization-details.json')
const TEXT = readFileSync(FIXTURE, 'utf8')
const ACCOUNT = '111122223333'
const TAKEN = '2026-11-30T06:00:00.000Z'
const SETTINGS: PostureSettings = { organisationAccounts: [], unusedDays: 90 }
const details = (): AuthorizationDetails => parseAuthorizationDetails(TEXT, 'fixture')

/** Each finding as `check subject-name severity`, sorted. */
function lines(found: ReturnType<typeof postureFindings>, check?: string): string[] {
  return found
    .filter((f) => !check || f.check === check)
    .map((f) => `${f.check} ${f.subject.split(/[/#]/).pop() ?? ''} ${f.severity}`)
    .sort()
}

const run = (settings: Partial<PostureSettings> = {}, latest = details(), previous?: AuthorizationDetails) => postureFindings(ACCOUNT, TAKEN, latest, previous, { ...SETTINGS, ...settings })

describe('IAM posture checks on a snapshot written to get-account-authorization-details’ documented shape', () => {
  it('administrator access held by a user: bob outright, dana only with MFA (a mitigation), not alice’s read-only', () => {
    expect(lines(run(), 'administrator-user')).toEqual(['administrator-user bob high', 'administrator-user dana medium'])
    expect(run().find((f) => f.check === 'administrator-user' && f.subject.endsWith('/dana'))?.mitigations).toEqual(['Bool aws:MultiFactorAuthPresent true'])
  })

  it('a policy of the account’s own granting * on *: `everything`, the MFA-bound group policy (mitigated), not AWS’s AdministratorAccess nor carol’s narrow one', () => {
    expect(lines(run(), 'full-access-policy')).toEqual(['full-access-policy admin-with-mfa medium', 'full-access-policy everything high'])
    expect(run().find((f) => f.check === 'full-access-policy' && f.severity === 'medium')?.subject).toBe('arn:aws:iam::111122223333:group/admins-with-mfa#admin-with-mfa')
  })

  it('any principal trusted: the role `anyone`, and nothing else', () => {
    expect(lines(run(), 'trust-any-principal')).toEqual(['trust-any-principal anyone critical'])
  })

  it('trust outside the organisation: every foreign account until the organisation is listed, then only strangers', () => {
    expect(lines(run(), 'trust-outside-organisation')).toEqual(['trust-outside-organisation partner-audit medium', 'trust-outside-organisation vendor-backup medium'])
    expect(lines(run({ organisationAccounts: ['444455556666'] }), 'trust-outside-organisation')).toEqual(['trust-outside-organisation partner-audit high'])
  })

  it('a third party without an ExternalId: partner-audit, not vendor-backup which asks for one', () => {
    expect(lines(run(), 'third-party-without-external-id')).toEqual(['third-party-without-external-id partner-audit high'])
  })

  it('federated trust: an OIDC provider with no condition on the subject lets anyone of it in; with one it is an inventory line', () => {
    expect(lines(run(), 'federated-trust')).toEqual(['federated-trust github-deploy high'])
    const narrowed = details()
    const role = narrowed.RoleDetailList.find((r) => r.RoleName === 'github-deploy')
    const statement = [role?.AssumeRolePolicyDocument.Statement].flat()[0]
    if (statement) statement.Condition = { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:example/app:ref:refs/heads/main' } }
    expect(lines(run({}, narrowed), 'federated-trust')).toEqual(['federated-trust github-deploy low'])
  })

  it('roles unused for 90 days: old-batch; not app-runtime (used yesterday) nor anyone (too new to judge)', () => {
    expect(lines(run(), 'unused-role')).toEqual(['unused-role old-batch low'])
    expect(lines(run({ unusedDays: 400 }), 'unused-role')).toEqual([])
  })

  it('inline policies and no group: carol; not alice (in a group, no inline policy)', () => {
    expect(lines(run(), 'inline-policy-no-group')).toEqual(['inline-policy-no-group carol low'])
  })

  it('what changed since the previous snapshot: a new administrator and a new trust, and nothing that was there before', () => {
    const later = details()
    const alice = later.UserDetailList.find((u) => u.UserName === 'alice')
    alice?.AttachedManagedPolicies.push({ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' })
    const runtime = later.RoleDetailList.find((r) => r.RoleName === 'app-runtime')
    if (runtime) runtime.AssumeRolePolicyDocument.Statement = [[runtime.AssumeRolePolicyDocument.Statement].flat()[0], { Effect: 'Allow' as const, Principal: { AWS: 'arn:aws:iam::777766665555:root' }, Action: 'sts:AssumeRole' }].filter((s) => s !== undefined)
    const changes = run({}, later, details())
    expect(lines(changes, 'new-administrator')).toEqual(['new-administrator alice high'])
    expect(lines(changes, 'new-trust')).toEqual(['new-trust app-runtime high'])
    expect(changes.find((f) => f.check === 'new-trust')?.title).toBe('Role app-runtime now trusts arn:aws:iam::777766665555:root')
    // The same snapshot twice: nothing changed.
    expect(lines(run({}, details(), details())).filter((l) => l.startsWith('new-'))).toEqual([])
  })
})

describe('the password policy against the standard', () => {
  const STANDARD = PasswordStandard.parse({})
  const WEAK = JSON.stringify(parsePasswordPolicy(readFileSync(path.resolve(import.meta.dirname, '../../test/fixtures/iam/password-policy.json'), 'utf8'), 'fixture'))
  const STRONG = JSON.stringify({ MinimumPasswordLength: 16, RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true, PasswordReusePrevention: 24 })
  const at = (day: number): number => Date.parse(`2026-11-${String(day).padStart(2, '0')}T06:00:00Z`)

  it('names each shortfall of a weak policy, and finds nothing in one that meets the standard', () => {
    const [weak] = passwordPolicyFindings(ACCOUNT, JSON.stringify([[at(30), WEAK]]), STANDARD)
    expect(weak).toMatchObject({ check: 'weak-password-policy', severity: 'medium', subject: ACCOUNT })
    expect(weak?.title).toBe('The password policy of 111122223333 is weaker than the standard: minimum length 8 (standard 14); remembers 5 passwords (standard 24); does not require uppercase letters')
    expect(passwordPolicyFindings(ACCOUNT, JSON.stringify([[at(30), STRONG]]), STANDARD)).toEqual([])
    // A snapshot without the policy says nothing about it.
    expect(passwordPolicyFindings(ACCOUNT, JSON.stringify([[at(30), '']]), STANDARD)).toEqual([])
    expect(passwordPolicyFindings(ACCOUNT, JSON.stringify([[at(30), WEAK]]), PasswordStandard.parse({ minimumLength: 8, reusePrevention: 5, requireUppercase: false }))).toEqual([])
  })

  it('dates the finding from the first snapshot of the latest run with that policy, so importing it again is not news', () => {
    const history = [[at(9), WEAK], [at(16), STRONG], [at(23), WEAK], [at(30), WEAK]]
    expect(passwordPolicyFindings(ACCOUNT, JSON.stringify(history), STANDARD)[0]?.since).toBe(new Date(at(23)).toISOString())
  })
})

describe('parsing get-account-authorization-details', () => {
  it('reads URL-encoded policy documents as the API returns them, and names what is wrong', () => {
    const carol = details().UserDetailList.find((u) => u.UserName === 'carol')
    expect(carol?.UserPolicyList[0]?.PolicyDocument).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::carol-reports/*' }] })
    expect(() => parseAuthorizationDetails('{"UserDetailList": [{"UserName": "x"}]}', 'broken.json')).toThrow(/broken\.json is not the output of aws iam get-account-authorization-details:\n {2}UserDetailList\.0\.Arn/)
    expect(() => parseAuthorizationDetails('not json', 'broken.json')).toThrow('broken.json: not JSON')
  })
})
