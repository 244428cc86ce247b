import { describe, expect, it } from 'vitest'
import type { InventoryKey } from './inventory.js'
import { credentialLimits, DEFAULT_LIMITS, keyStanding } from './standing.js'

const NOW = new Date('2026-11-27T06:00:00Z')
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString().replace('T', ' ').slice(0, 19)

function key(fields: Partial<InventoryKey>): InventoryKey {
  return { account_id: '111122223333', user: 'alice', arn: 'arn:aws:iam::111122223333:user/alice', key: 'AKIAEXAMPLE', slot: 1, active: true, created: daysAgo(30), last_used: daysAgo(1), last_source: '', last_region: '', last_service: '', source: 'credential report', ...fields }
}

describe('keyStanding: the one rule for the detector and the report', () => {
  it.each([
    ['in order', key({}), undefined, []],
    ['past rotation', key({ created: daysAgo(120) }), 'medium', ['rotate']],
    ['unused past the limit', key({ last_used: daysAgo(50) }), 'medium', ['unused']],
    // IAM.22 counts a key never used as unused once it is as old as the limit: the report and the detector agree.
    ['never used, older than the unused limit', key({ created: daysAgo(60), last_used: null }), 'medium', ['unused']],
    ['never used, past the grace only', key({ created: daysAgo(10), last_used: null }), 'low', ['never used']],
    ['never used, within the grace', key({ created: daysAgo(3), last_used: null }), undefined, []],
    ['never used, the engine’s zero time', key({ created: daysAgo(3), last_used: '1970-01-01 00:00:00' }), undefined, []],
    ['a root key', key({ user: '<root_account>', arn: 'arn:aws:iam::111122223333:root', created: daysAgo(200) }), 'critical', ['delete root key', 'rotate']],
    ['inactive and old', key({ active: false, created: daysAgo(200), last_used: daysAgo(100) }), 'medium', ['inactive', 'rotate', 'unused']],
  ] as const)('%s', (_, inventoryKey, severity, actions) => {
    const standing = keyStanding(inventoryKey, NOW, DEFAULT_LIMITS)
    expect(standing.severity).toBe(severity)
    expect(standing.actions).toEqual(actions)
    expect(standing.problems).toHaveLength(actions.filter((a) => a !== 'inactive').length)
  })

  it('says what is wrong in numbers', () => {
    expect(keyStanding(key({ created: daysAgo(60), last_used: null }), NOW, DEFAULT_LIMITS).problems).toEqual(['never used in its 60 days (limit 45)'])
    expect(keyStanding(key({ created: daysAgo(120), last_used: daysAgo(50) }), NOW, DEFAULT_LIMITS).problems).toEqual(['120 days old (rotation limit 90)', 'unused for 50 days (limit 45)'])
  })

  it('takes the limits configured for the detector, and names the setting that is wrong', () => {
    expect(credentialLimits({ 'stale-access-key': { rotationDays: 30 } })).toEqual({ ...DEFAULT_LIMITS, rotationDays: 30 })
    expect(() => credentialLimits({ 'stale-access-key': { unusedDays: 0 } })).toThrow(/TRAILWATCH_DETECTORS_FILE stale-access-key: unusedDays: /)
  })
})
