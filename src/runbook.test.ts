import { describe, expect, it } from 'vitest'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { IDENTITY_KINDS, identityKind, runbookFor, runbookLine, runbookLineText } from './runbook.js'

const ACCOUNT = 'arn:aws:iam::111122223333'

describe('identityKind', () => {
  it('tells root, a user’s key, a user’s session, an instance role, SSO, another role and a service apart', () => {
    expect(identityKind(`${ACCOUNT}:root`, { access_key_id: 'AKIAROOTKEY000000001' })).toBe('root')
    expect(identityKind(`${ACCOUNT}:user/anna`, { access_key_id: 'AKIAANNAEXAMPLE00001' })).toBe('user-key')
    expect(identityKind(`${ACCOUNT}:user/anna`, { long_term_key: true })).toBe('user-key')
    expect(identityKind(`${ACCOUNT}:user/anna`, { long_term_key: false })).toBe('user')
    expect(identityKind(`${ACCOUNT}:role/web`, { instance_role_outside_aws: true })).toBe('instance-role')
    expect(identityKind(`${ACCOUNT}:role/web`, { session: 'i-0abc1234def567890' })).toBe('instance-role')
    expect(identityKind(`${ACCOUNT}:role/web`, { session: 'deploy-4711' })).toBe('role')
    expect(identityKind(`${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef`, {})).toBe('sso')
    expect(identityKind('cloudtrail.amazonaws.com', {})).toBe('service')
    expect(identityKind(`${ACCOUNT}:role/web`, { actor_kind: 'aws-service' })).toBe('service')
    // What the evidence says cannot make a user's key into root's.
    expect(identityKind(`${ACCOUNT}:user/root`, { access_key_id: 'AKIAUSERKEY000000001' })).toBe('user-key')
  })
})

describe('runbooks per kind', () => {
  const lines = ['[user-key,user] Ask the owner.', '[root] Delete the root key now.', 'List what it did.']
  it('keeps the lines for the identity’s kind and those for every kind, without their tags', () => {
    expect(runbookFor(lines, 'user-key')).toEqual(['Ask the owner.', 'List what it did.'])
    expect(runbookFor(lines, 'root')).toEqual(['Delete the root key now.', 'List what it did.'])
    expect(runbookFor(lines, 'instance-role')).toEqual(['List what it did.'])
    expect(runbookLineText('[root] Delete the root key now.')).toBe('For the root user: Delete the root key now.')
  })

  it('names only kinds that exist, in every built-in detector and rule', () => {
    const runbooks = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((r) => r.detector)].flatMap((d) => d.runbook.map((line) => [d.id, line] as const))
    const unknown = runbooks.filter(([, line]) => line.startsWith("[") && (runbookLine(line).kinds ?? []).length !== (/^\[([^\]]*)\]/.exec(line)?.[1] ?? '').split(',').length)
    expect(unknown).toEqual([])
    expect(runbooks.filter(([, line]) => runbookLine(line).kinds !== undefined).length).toBeGreaterThan(5)
    expect(Object.keys(IDENTITY_KINDS)).toContain('instance-role')
  })
})
