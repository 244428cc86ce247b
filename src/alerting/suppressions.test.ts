import { describe, expect, it } from 'vitest'
import type { StoredAlert } from '../alerts/table.js'
import { matchingSuppression, validateSuppression, type SuppressionRule } from './suppressions.js'

const NOW = new Date('2026-11-20T12:00:00Z')

const alert = (overrides: Partial<StoredAlert>): StoredAlert => ({
  alert_id: 'a1',
  detector: 'unusual-source-ip',
  kind: 'threat',
  severity: 'high',
  principal: 'arn:aws:iam::111122223333:user/carol',
  account: '111122223333',
  title: 't',
  first_seen: NOW.toISOString(),
  last_seen: NOW.toISOString(),
  evidence: {},
  why: '',
  attack: [],
  runbook: [],
  dedup_key: 'k',
  detected_at: NOW.toISOString(),
  ...overrides,
})

const rule = (overrides: Partial<SuppressionRule>): SuppressionRule => ({
  rule_id: 'r1',
  detector: '',
  principal: '',
  cidr: '',
  account: '',
  owner: 'pat',
  reason: 'expected',
  created_at: NOW.toISOString(),
  expires_at: NOW.toISOString(),
  removed_at: null,
  removed_by: '',
  version: 1,
  ...overrides,
})

describe('suppression rules', () => {
  it('match on every field they set; a CIDR only when every address of the alert is inside', () => {
    const scanner = rule({ cidr: '203.0.113.0/24', detector: 'unusual-source-ip' })
    expect(matchingSuppression([scanner], alert({ evidence: { address: '203.0.113.9' } }))).toBe(scanner)
    expect(matchingSuppression([scanner], alert({ evidence: { sources: ['203.0.113.9', '198.51.100.1'] } }))).toBeUndefined()
    expect(matchingSuppression([scanner], alert({ evidence: {} }))).toBeUndefined()
    expect(matchingSuppression([scanner], alert({ detector: 'root-account-usage', evidence: { address: '203.0.113.9' } }))).toBeUndefined()
    const people = rule({ principal: '*:user/car*' })
    expect(matchingSuppression([people], alert({}))).toBe(people)
    expect(matchingSuppression([people], alert({ principal: 'arn:aws:iam::111122223333:user/dan' }))).toBeUndefined()
    expect(matchingSuppression([rule({ cidr: '2001:db8::/32' })], alert({ evidence: { source: '2001:db8::7' } }))).toBeDefined()
  })

  it('need an owner, a reason, a matcher and an expiry within a year', () => {
    const base = { owner: 'pat', reason: 'scanner', detector: 'x', expiresAt: new Date(NOW.getTime() + 86_400_000) }
    expect(() => { validateSuppression(base, NOW); }).not.toThrow()
    expect(() => { validateSuppression({ ...base, detector: undefined }, NOW); }).toThrow(/name at least one of --detector/)
    expect(() => { validateSuppression({ ...base, owner: ' ' }, NOW); }).toThrow(/--owner is required/)
    expect(() => { validateSuppression({ ...base, cidr: '10.0.0.0/33' }, NOW); }).toThrow(/--cidr 10.0.0.0\/33 is not an address or CIDR block/)
    expect(() => { validateSuppression({ ...base, expiresAt: new Date(NOW.getTime() - 1) }, NOW); }).toThrow(/--expires must be in the future/)
    expect(() => { validateSuppression({ ...base, expiresAt: new Date(NOW.getTime() + 400 * 86_400_000) }, NOW); }).toThrow(/within 365 days/)
  })
})
