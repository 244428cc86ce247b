import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { credentialAgeReport, credentialUsersCsv, type CredentialAgeReport } from '../src/reports/credential-age.js'
import { openTestStore, type TestStore } from './helpers/store.js'

const FIXTURE = readFileSync(path.resolve(import.meta.dirname, 'fixtures/credential-age/credential-report.csv'), 'utf8').trimEnd()
// frank: a console password nobody has used for 60 days, with MFA.
const FRANK = 'frank,arn:aws:iam::111122223333:user/frank,2025-01-01T00:00:00+00:00,true,2026-09-24T00:00:00+00:00,2025-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A'
const AT = new Date('2026-11-23T07:00:00Z')

let store: TestStore
let report: CredentialAgeReport
beforeAll(async () => {
  store = await openTestStore()
  await insertCredentialReport(store, parseCredentialReport(`${FIXTURE}\n${FRANK}\n`), Date.parse('2026-11-23T05:00:00Z'), Date.parse('2026-11-23T05:00:00Z'))
  report = await credentialAgeReport(store, AT)
})
afterAll(async () => {
  await store.close()
})

describe('the credential-age report’s users', () => {
  it('gives every user’s password (age, last sign-in) and MFA, and what to do about them', () => {
    expect(report.users.map((u) => `${u.user} ${u.password ? String(u.password_age_days) : 'none'} ${String(u.days_since_sign_in)} ${u.mfa_active ? 'mfa' : 'no-mfa'} ${u.standing}`)).toEqual([
      '<root_account> null 81 no-mfa enable MFA',
      'alice 174 2 mfa ok',
      'bob 2518 1 no-mfa enable MFA',
      'ci-deploy none null no-mfa ok',
      'dan 116 1 mfa ok',
      'frank 691 60 mfa remove unused password',
    ])
    expect(report.usersWithoutMfa.map((u) => u.user)).toEqual(['<root_account>', 'bob'])
  })

  it('writes them as a CSV a spreadsheet reads as data', () => {
    const rows = parse<Record<string, string>>(credentialUsersCsv(report), { columns: true })
    expect(rows.find((r) => r.user === 'frank')).toMatchObject({ password: 'true', password_age_days: '691', days_since_sign_in: '60', mfa_active: 'true', standing: 'remove unused password' })
    expect(Object.keys(rows[0] ?? {})).toEqual(['account', 'user', 'arn', 'password', 'password_age_days', 'password_last_used', 'days_since_sign_in', 'mfa_active', 'standing'])
  })
})
