import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { INVICTUS } from './helpers/datasets.js'

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/iam/authorization-details.json')

describe('trailwatch import iam, the posture detector and suggest-policy, as a user runs them', () => {
  it('stores a snapshot, finds what it holds, and refuses a file that is not one', async () => {
    const env = { TRAILWATCH_DATA_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-iam-')), 'data') }
    const imported = await runCli(['import', 'iam', FIXTURE, '--password-policy', path.resolve(import.meta.dirname, 'fixtures/iam/password-policy.json'), '--taken-at', '2026-11-30T06:00:00Z'], { env })
    expect(imported.stdout).toBe('stored the IAM snapshot of account 111122223333 taken at 2026-11-30T06:00:00.000Z: 4 users, 2 groups, 6 roles, 3 managed policies, the password policy\n0 identities of the organisation can become administrator without being one\n')
    const found = await runCli(['detect', '--once', '--detector', 'iam-posture', '--at', '2026-11-30T07:00:00Z', '--json'], { env })
    const checks = found.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { evidence: { check: string } }).evidence.check)
    expect(new Set(checks)).toEqual(new Set(['administrator-user', 'full-access-policy', 'trust-any-principal', 'trust-outside-organisation', 'third-party-without-external-id', 'federated-trust', 'unused-role', 'inline-policy-no-group', 'weak-password-policy']))

    const broken = await runCli(['import', 'iam', path.resolve(import.meta.dirname, 'fixtures/credential-age/cloudtrail.json')], { env })
    expect(broken.code).toBe(1)
    expect(broken.stderr).toContain('is not the output of aws iam get-account-authorization-details')
  }, 60_000)

  it('writes a least-privilege policy for bert-jan from what he called', async () => {
    const env = { TRAILWATCH_DATA_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-iam-')), 'data') }
    expect((await runCli(['backfill', INVICTUS], { env })).code).toBe(0)
    const suggested = await runCli(['suggest-policy', 'arn:aws:iam::123837392027:user/bert-jan', '--at', '2023-07-11T00:00:00Z', '--days', '30'], { env })
    expect(suggested.code).toBe(0)
    const policy = JSON.parse(suggested.stdout) as { Version: string; Statement: { Action: string[] }[] }
    expect(policy.Version).toBe('2012-10-17')
    expect(policy.Statement.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(['cloudtrail:DeleteTrail', 'iam:CreateUser', 'kms:Decrypt']))
    expect(suggested.stderr).toMatch(/^arn:aws:iam::123837392027:user\/bert-jan: \d+ actions of \d+ services from \d+ calls, 2023-06-11T00:00:00.000Z → 2023-07-11T00:00:00.000Z; \d+ narrowed to the resources their calls named\n$/)
    const nobody = await runCli(['suggest-policy', 'arn:aws:iam::123837392027:user/nobody', '--at', '2023-07-11T00:00:00Z'], { env })
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toContain('made no call trailwatch stored')
  }, 90_000)

  it('trailwatch paths names what it cannot answer: no ARN, no snapshot, an identity the snapshots lack', async () => {
    const env = { TRAILWATCH_DATA_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-iam-')), 'data') }
    const notArn = await runCli(['paths', 'intern'], { env })
    expect([notArn.code, notArn.stderr]).toEqual([1, 'trailwatch: intern is not a user or role ARN such as arn:aws:iam::111122223333:role/deploy\n'])
    const empty = await runCli(['paths', '--at', '2026-11-30T07:00:00Z'], { env })
    expect([empty.code, empty.stderr]).toEqual([1, 'trailwatch: no IAM snapshot at 2026-11-30T07:00:00.000Z: trailwatch aws sync, or trailwatch import iam FILE.json\n'])
    expect((await runCli(['import', 'iam', path.resolve(import.meta.dirname, 'fixtures/iam/escalation-444455556666.json'), '--taken-at', '2026-11-30T06:00:00Z'], { env })).code).toBe(0)
    const unknown = await runCli(['paths', 'arn:aws:iam::444455556666:user/nobody', '--at', '2026-11-30T07:00:00Z'], { env })
    expect([unknown.code, unknown.stderr]).toEqual([1, 'trailwatch: the latest IAM snapshots at 2026-11-30T07:00:00.000Z have no user or role arn:aws:iam::444455556666:user/nobody\n'])
    const all = await runCli(['paths', '--json', '--at', '2026-11-30T07:00:00Z'], { env })
    expect(all.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { from: string }).from.split('/').pop())).toEqual(['deploy', 'dev', 'ci-bot', 'intern'])
  }, 60_000)
})
