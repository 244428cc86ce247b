import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAuthorizationDetails } from './authorization.js'
import { awsManagedDocument, catalogueOf, managedPolicyCatalogue } from './managed-policies.js'
import { postureFindings } from './posture.js'

const ACCOUNT = '111122223333'

describe('the catalogue of AWS managed policies', () => {
  it('is made from the dataset’s policy files: sorted, dated by the newest update, deprecated ones without an ARN left out', () => {
    const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:Get*', Resource: '*' }] }
    const catalogue = catalogueOf(
      [
        { arn: 'arn:aws:iam::aws:policy/ZReader', name: 'ZReader', version: 'v3', updatedate: '2026-05-01T10:00:00+00:00', document, deprecated: false },
        { arn: 'arn:aws:iam::aws:policy/service-role/AReader', name: 'AReader', version: 'v1', updatedate: '2019-01-01T00:00:00+00:00', document },
        { arn: null, name: 'Retired', version: null, updatedate: null, document: null, deprecated: true },
      ],
      'a test',
    )
    expect(Object.keys(catalogue.policies)).toEqual(['arn:aws:iam::aws:policy/service-role/AReader', 'arn:aws:iam::aws:policy/ZReader'])
    expect(catalogue.as_of).toBe('2026-05-01')
    expect(catalogue.policies['arn:aws:iam::aws:policy/ZReader']).toMatchObject({ version: 'v3', updated: '2026-05-01' })
    expect(() => catalogueOf([{ arn: 'arn:aws:iam::111122223333:policy/Mine', version: 'v1', updatedate: '2026-01-01', document }], 'a test')).toThrow()
  })

  it('ships with the policies people attach, in every partition', () => {
    const shipped = managedPolicyCatalogue()
    // The README says what it ships: kept true on every refresh.
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8').replace(/\s+/g, ' ')
    const [, count, asOf] = /the documents of ([\d,]+) AWS managed policies as of (\d{4}-\d{2}-\d{2})/.exec(readme) ?? []
    expect([Object.keys(shipped.policies).length, shipped.as_of]).toEqual([Number(count?.replace(/,/g, '')), asOf])
    expect(awsManagedDocument('arn:aws:iam::aws:policy/AdministratorAccess')?.Statement).toEqual([{ Action: ['*'], Effect: 'Allow', Resource: '*' }])
    expect(awsManagedDocument('arn:aws-us-gov:iam::aws:policy/AdministratorAccess')).toEqual(awsManagedDocument('arn:aws:iam::aws:policy/AdministratorAccess'))
    expect(awsManagedDocument('arn:aws:iam::aws:policy/job-function/ViewOnlyAccess')).toBeDefined()
    expect(awsManagedDocument('arn:aws:iam::aws:policy/NoSuchPolicy')).toBeUndefined()
    expect(awsManagedDocument(`arn:aws:iam::${ACCOUNT}:policy/AdministratorAccess`)).toBeUndefined()
  })

  it('judges an attachment the snapshot has no document for: a user holding AdministratorAccess by name is an administrator', () => {
    const user = (name: string, policy: string) => ({ UserName: name, UserId: `AIDA${name.toUpperCase()}`, Arn: `arn:aws:iam::${ACCOUNT}:user/${name}`, Path: '/', CreateDate: '2026-01-05T10:00:00Z', GroupList: [], UserPolicyList: [], AttachedManagedPolicies: [{ PolicyName: policy, PolicyArn: `arn:aws:iam::aws:policy/${policy}` }] })
    // Filtered to local policies, as `--filter LocalManagedPolicy` exports it: no AWS policy documents.
    const snapshot = parseAuthorizationDetails(JSON.stringify({ UserDetailList: [user('root-ish', 'AdministratorAccess'), user('viewer', 'ReadOnlyAccess')], GroupDetailList: [], RoleDetailList: [], Policies: [] }), 'test')
    const findings = postureFindings(ACCOUNT, '2026-11-30T06:00:00.000Z', snapshot, undefined, { organisationAccounts: [], unusedDays: 90 })
    expect(findings.filter((f) => f.check === 'administrator-user').map((f) => [f.subject, f.severity])).toEqual([[`arn:aws:iam::${ACCOUNT}:user/root-ish`, 'high']])
  })
})
