import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCredentialReport } from './credential-report.js'

const FIXTURE = path.resolve(import.meta.dirname, '../../test/fixtures/credential-report.csv')
const at = (iso: string) => Date.parse(iso) / 1000

describe('parseCredentialReport', () => {
  const rows = parseCredentialReport(readFileSync(FIXTURE, 'utf8'))

  it('reads every user with its account', () => {
    expect(rows.map((r) => [r.user, r.account_id])).toEqual([
      ['<root_account>', '111122223333'],
      ['alice', '111122223333'],
      ['ci-deploy', '111122223333'],
      ['bob', '111122223333'],
    ])
  })

  it("reads the root user's not_supported password fields as unknown", () => {
    expect(rows[0]).toMatchObject({ password_enabled: null, password_last_changed: null, password_last_used: at('2026-10-02T08:11:00Z'), mfa_active: true })
  })

  it('reads N/A and no_information as absent, and real times as times', () => {
    expect(rows[1]).toMatchObject({
      access_key_1_active: true,
      access_key_1_last_rotated: at('2025-01-15T10:00:00Z'),
      access_key_1_last_used_date: at('2026-11-26T16:20:00Z'),
      access_key_1_last_used_region: 'us-east-1',
      access_key_2_active: false,
      access_key_2_last_rotated: null,
      access_key_2_last_used_region: '',
    })
    // ci-deploy's second key is active and has never been used.
    expect(rows[2]).toMatchObject({ access_key_2_active: true, access_key_2_last_rotated: at('2026-09-01T00:00:00Z'), access_key_2_last_used_date: null })
    expect(rows[3]).toMatchObject({ password_enabled: true, password_last_used: null })
  })

  it('refuses the whole file, naming each line and column that is wrong', () => {
    const bad = readFileSync(FIXTURE, 'utf8').replace('alice,arn:aws:iam::111122223333:user/alice,2021-05-10T12:00:00+00:00,true', 'alice,arn:aws:iam::111122223333:user/alice,last tuesday,maybe')
    expect(() => parseCredentialReport(bad)).toThrow(/line 3, user_creation_time: expected an ISO 8601 time[\s\S]*line 3, password_enabled: expected true, false or not_supported/)
    expect(() => parseCredentialReport('user,arn\n"unterminated')).toThrow(/not a credential report CSV/)
  })
})
