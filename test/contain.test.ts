import {
  AttachRolePolicyCommand,
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteUserPolicyCommand,
  GetLoginProfileCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { applyContainment, approveContainment, listContainments, planContainment, requestContainment, undoContainment, type ContainSettings } from '../src/contain/contain.js'
import { startMoto, type Moto } from './helpers/moto.js'
import { listIncidents, incidentById } from '../src/incidents/incidents.js'
import { openTestStore, recordAt, type TestStore } from './helpers/store.js'

/** moto's own account. */
const ACCOUNT = '123456789012'
const NOW = new Date('2026-11-30T02:30:00Z')
const SETTINGS: ContainSettings = { protected: [`arn:aws:iam::*:user/break-glass`], approvers: [] }
const policy = (statement: object) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] })
const arn = (kind: 'user' | 'role', name: string) => `arn:aws:iam::${ACCOUNT}:${kind}/${name}`

let moto: Moto
let store: TestStore
let setup: IAMClient
let annasKey = ''
let runner: { AccessKeyId?: string | undefined; SecretAccessKey?: string | undefined } | undefined

/** Everything containment may touch, read back from the emulator: keys, inline policies, passwords, attachments. */
async function iamState(): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {}
  for (const user of ['anna', 'bob', 'break-glass']) {
    const keys = (await setup.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? []
    const names = (await setup.send(new ListUserPoliciesCommand({ UserName: user }))).PolicyNames ?? []
    const documents = await Promise.all(names.map(async (name) => decodeURIComponent((await setup.send(new GetUserPolicyCommand({ UserName: user, PolicyName: name }))).PolicyDocument ?? '')))
    const password = await setup.send(new GetLoginProfileCommand({ UserName: user })).then(() => true, () => false)
    state[user] = { keys: keys.map((k) => `${k.AccessKeyId ?? ''} ${k.Status ?? ''}`), inline: Object.fromEntries(names.map((n, i) => [n, documents[i]])), password }
  }
  const names = (await setup.send(new ListRolePoliciesCommand({ RoleName: 'app-runtime' }))).PolicyNames ?? []
  const documents = await Promise.all(names.map(async (name) => decodeURIComponent((await setup.send(new GetRolePolicyCommand({ RoleName: 'app-runtime', PolicyName: name }))).PolicyDocument ?? '')))
  const attached = (await setup.send(new ListAttachedRolePoliciesCommand({ RoleName: 'app-runtime' }))).AttachedPolicies ?? []
  state['app-runtime'] = { inline: Object.fromEntries(names.map((n, i) => [n, documents[i]])), attached: attached.map((p) => p.PolicyArn) }
  return state
}

beforeAll(async () => {
  moto = await startMoto()
  Object.assign(process.env, moto.env)
  setup = new IAMClient({})
  // What trailwatch runs as.
  await setup.send(new CreateUserCommand({ UserName: 'trailwatch' }))
  await setup.send(new PutUserPolicyCommand({ UserName: 'trailwatch', PolicyName: 'respond', PolicyDocument: policy({ Effect: 'Allow', Action: '*', Resource: '*' }) }))
  const { AccessKey: own } = await setup.send(new CreateAccessKeyCommand({ UserName: 'trailwatch' }))
  for (const user of ['anna', 'bob', 'break-glass']) {
    await setup.send(new CreateUserCommand({ UserName: user }))
    await setup.send(new CreateLoginProfileCommand({ UserName: user, Password: 'Correct-Horse-9-battery' }))
  }
  annasKey = (await setup.send(new CreateAccessKeyCommand({ UserName: 'anna' }))).AccessKey?.AccessKeyId ?? ''
  await setup.send(new PutUserPolicyCommand({ UserName: 'anna', PolicyName: 'team-s3', PolicyDocument: policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }) }))
  await setup.send(new CreateRoleCommand({ RoleName: 'app-runtime', AssumeRolePolicyDocument: policy({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }) }))
  // A revocation from an earlier incident, still in place: an undo must put it back, not delete it.
  await setup.send(new PutRolePolicyCommand({ RoleName: 'app-runtime', PolicyName: 'trailwatch-revoke-sessions', PolicyDocument: policy({ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:00.000Z' } } }) }))
  const { Policy: added } = await setup.send(new CreatePolicyCommand({ PolicyName: 'added-during-incident', PolicyDocument: policy({ Effect: 'Allow', Action: 'iam:*', Resource: '*' }) }))
  await setup.send(new AttachRolePolicyCommand({ RoleName: 'app-runtime', PolicyArn: added?.Arn }))
  // A runner that may do nothing but become the responder role, which may contain.
  await setup.send(new CreateUserCommand({ UserName: 'runner' }))
  await setup.send(new PutUserPolicyCommand({ UserName: 'runner', PolicyName: 'become-responder', PolicyDocument: policy({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arn('role', 'trailwatch-responder') }) }))
  runner = (await setup.send(new CreateAccessKeyCommand({ UserName: 'runner' }))).AccessKey
  await setup.send(new CreateRoleCommand({ RoleName: 'trailwatch-responder', AssumeRolePolicyDocument: policy({ Effect: 'Allow', Principal: { AWS: arn('user', 'runner') }, Action: 'sts:AssumeRole' }) }))
  await setup.send(new PutRolePolicyCommand({ RoleName: 'trailwatch-responder', PolicyName: 'contain', PolicyDocument: policy({ Effect: 'Allow', Action: 'iam:*', Resource: '*' }) }))
  // From here on the emulator checks every call against IAM, and trailwatch calls as itself.
  expect((await fetch(`${moto.url}/moto-api/reset-auth`, { method: 'POST', body: '0' })).ok).toBe(true)
  setup = new IAMClient({ credentials: { accessKeyId: own?.AccessKeyId ?? '', secretAccessKey: own?.SecretAccessKey ?? '' } })
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: own?.AccessKeyId ?? '', AWS_SECRET_ACCESS_KEY: own?.SecretAccessKey ?? '' })
  store = await openTestStore()
}, 120_000)
afterAll(async () => {
  await store.close()
  await moto.stop()
})

describe('containment against IAM', () => {
  it('changes nothing on a dry run, and says exactly what it would change', async () => {
    const before = await iamState()
    const key = await planContainment(store, SETTINGS, { target: { type: 'key', key: annasKey }, actor: 'pat', reason: '' }, NOW)
    expect(key.steps).toEqual([`deactivate access key ${annasKey} of user anna (account ${ACCOUNT})`])
    const role = await planContainment(store, SETTINGS, { target: { type: 'session', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-runtime/i-0abc` }, actions: ['revoke-sessions', 'detach-policy'], policyArn: `arn:aws:iam::${ACCOUNT}:policy/added-during-incident`, actor: 'pat', reason: '' }, NOW)
    expect(role.steps).toEqual([
      `put inline policy trailwatch-revoke-sessions on role app-runtime (account ${ACCOUNT}): deny every action to credentials issued before 2026-11-30T02:30:00.000Z (replacing the one there)`,
      `detach arn:aws:iam::${ACCOUNT}:policy/added-during-incident from role app-runtime (account ${ACCOUNT})`,
    ])
    expect(await iamState()).toEqual(before)
    expect(await listContainments(store)).toEqual([])
  })

  it('applies every action and undoes them back to the state before, read back from IAM, each in the incident’s log', async () => {
    const before = await iamState()
    await recordAt(store, [{ detector: 'unusual-source-ip', kind: 'threat', alertId: 'a-anna', severity: 'critical', principal: arn('user', 'anna'), account: ACCOUNT, title: 'anna acted from 5.255.255.77', firstSeen: NOW.toISOString(), lastSeen: NOW.toISOString(), evidence: {}, why: 'a new country', dedupKey: 'anna', attack: [], runbook: [] }], NOW)
    const [incident] = await listIncidents(store, { from: new Date(NOW.getTime() - 3_600_000), to: NOW })
    const anna = await applyContainment(store, SETTINGS, { target: { type: 'principal', arn: arn('user', 'anna') }, actions: ['quarantine', 'remove-password'], actor: 'pat', reason: 'her key was used from Russia', incident: incident?.id }, NOW)
    const key = await applyContainment(store, SETTINGS, { target: { type: 'key', key: annasKey }, actor: 'pat', reason: 'her key was used from Russia' }, NOW)
    const role = await applyContainment(store, SETTINGS, { target: { type: 'session', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-runtime/i-0abc` }, actions: ['revoke-sessions', 'detach-policy'], policyArn: `arn:aws:iam::${ACCOUNT}:policy/added-during-incident`, actor: 'pat', reason: 'instance credentials used outside AWS' }, NOW)
    expect([anna, key, role].flatMap((c) => c.steps.map((s) => s.status))).toEqual(['applied', 'applied', 'applied', 'applied', 'applied'])

    const contained = await iamState()
    expect(contained.anna).toEqual({
      keys: [`${annasKey} Inactive`],
      inline: { 'team-s3': expect.any(String) as unknown, 'trailwatch-quarantine': policy({ Sid: 'TrailwatchQuarantine', Effect: 'Deny', Action: '*', Resource: '*' }) },
      password: false,
    })
    expect(contained['app-runtime']).toEqual({
      inline: { 'trailwatch-revoke-sessions': policy({ Sid: 'TrailwatchRevokeOlderSessions', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': NOW.toISOString() } } }) },
      attached: [],
    })

    for (const c of [role, key, anna]) await undoContainment(store, SETTINGS, c.id, 'sam', 'the incident is closed', new Date(NOW.getTime() + 60_000))
    expect(await iamState()).toEqual(before)
    const [undone] = await listContainments(store, anna.id)
    expect(undone?.steps.map((s) => [s.action, s.status, s.actor])).toEqual([['quarantine', 'undone', 'sam'], ['remove-password', 'undone', 'sam']])
    expect(undone?.log.map((r) => r.status)).toEqual(['requested', 'requested', 'applied', 'applied', 'undone', 'undone'])
    expect([undone?.incident, undone?.reason]).toEqual([incident?.id, 'her key was used from Russia'])
    const told = (await incidentById(store, incident?.id ?? '')).actions.filter((a) => a.action === 'contained')
    expect(told.map((a) => [a.actor, a.reason])).toEqual([
      ['pat', `containment ${anna.id} applied to ${arn('user', 'anna')}: ${anna.steps.map((o) => `${o.step} (applied)`).join('; ')}; undo: trailwatch contain undo ${anna.id}`],
      ['sam', `containment ${anna.id} undone: the incident is closed`],
    ])
    await expect(applyContainment(store, SETTINGS, { target: { type: 'key', key: annasKey }, actor: 'pat', reason: 'x', incident: 'inc-0000000000ff' }, NOW)).rejects.toThrow('no incident inc-0000000000ff')
    await expect(undoContainment(store, SETTINGS, anna.id, 'sam', 'again', NOW)).rejects.toThrow('has nothing applied to undo')
  })

  it('refuses a protected principal and trailwatch’s own identity, and keeps the refusal', async () => {
    const before = await iamState()
    await expect(applyContainment(store, SETTINGS, { target: { type: 'principal', arn: arn('user', 'break-glass') }, actions: ['quarantine'], actor: 'pat', reason: 'test' }, NOW)).rejects.toThrow(
      `${arn('user', 'break-glass')} is protected (arn:aws:iam::*:user/break-glass): trailwatch never contains it (TRAILWATCH_CONTAIN_PROTECTED)`,
    )
    await expect(planContainment(store, SETTINGS, { target: { type: 'principal', arn: arn('user', 'trailwatch') }, actions: ['quarantine'], actor: 'pat', reason: '' }, NOW)).rejects.toThrow('since trailwatch itself acts through it')
    expect(await iamState()).toEqual(before)
    const refused = (await listContainments(store)).filter((c) => c.steps.some((s) => s.status === 'refused'))
    expect(refused.map((c) => [c.target, c.actor, c.steps[0]?.error])).toEqual([[arn('user', 'break-glass'), 'pat', expect.stringContaining('is protected') as unknown]])
  })

  it('undoes the steps it made when a later one fails, and keeps each outcome', async () => {
    // AWS refuses the second step: trailwatch may no longer take passwords away.
    await setup.send(new PutUserPolicyCommand({ UserName: 'trailwatch', PolicyName: 'no-password-removal', PolicyDocument: policy({ Effect: 'Deny', Action: 'iam:DeleteLoginProfile', Resource: '*' }) }))
    onTestFinished(async () => {
      await setup.send(new DeleteUserPolicyCommand({ UserName: 'trailwatch', PolicyName: 'no-password-removal' }))
    })
    const before = await iamState()
    const attempt = applyContainment(store, SETTINGS, { target: { type: 'principal', arn: arn('user', 'bob') }, actions: ['quarantine', 'remove-password'], actor: 'pat', reason: 'phished' }, NOW)
    await expect(attempt).rejects.toThrow(/step 2 \(delete the console password of user bob .*\) failed: .*; the 1 step\(s\) made before it were undone/)
    expect(await iamState()).toEqual(before)
    const [failed] = (await listContainments(store)).filter((c) => c.target === arn('user', 'bob'))
    expect(failed?.log.map((r) => [r.step, r.status])).toEqual([[1, 'requested'], [2, 'requested'], [1, 'applied'], [2, 'failed'], [1, 'rolled-back']])
    expect(failed?.steps.find((s) => s.status === 'failed')?.error).not.toBe('')
  })

  it('waits for a second person when approvers are configured, and applies once another approves', async () => {
    const approving = { ...SETTINGS, approvers: ['sam', 'lee'] }
    const before = await iamState()
    const { id, plan } = await requestContainment(store, approving, { target: { type: 'key', key: annasKey }, actor: 'sam', reason: 'her key was used from Russia' }, NOW)
    expect(plan.steps).toEqual([`deactivate access key ${annasKey} of user anna (account ${ACCOUNT})`])
    expect(await iamState()).toEqual(before)
    await expect(approveContainment(store, approving, id, 'pat', NOW)).rejects.toThrow('pat is not among TRAILWATCH_CONTAIN_APPROVERS')
    await expect(approveContainment(store, approving, id, 'sam', NOW)).rejects.toThrow('sam asked for')
    const applied = await approveContainment(store, approving, id, 'lee', new Date(NOW.getTime() + 60_000))
    expect(applied.steps.map((s) => s.status)).toEqual(['applied'])
    expect((await iamState()).anna).toMatchObject({ keys: [`${annasKey} Inactive`] })
    await expect(approveContainment(store, approving, id, 'lee', NOW)).rejects.toThrow(`no containment ${id} waits for approval`)
    const [kept] = await listContainments(store, id)
    expect(kept?.log.map((r) => [r.step, r.status, r.actor])).toEqual([[0, 'awaiting-approval', 'sam'], [0, 'approved', 'lee'], [1, 'requested', 'sam'], [1, 'applied', 'sam']])
    await undoContainment(store, approving, id, 'lee', 'a pen test', new Date(NOW.getTime() + 120_000))
    expect(await iamState()).toEqual(before)
  })

  it('acts through the responder role when one is configured, and never touches that role', async () => {
    const responding = { ...SETTINGS, role: 'trailwatch-responder' }
    const own = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY }
    onTestFinished(() => {
      Object.assign(process.env, own)
    })
    // The runner itself may change nothing in IAM: only the role can.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: runner?.AccessKeyId ?? '', AWS_SECRET_ACCESS_KEY: runner?.SecretAccessKey ?? '' })
    const before = await iamState()
    await expect(applyContainment(store, SETTINGS, { target: { type: 'principal', arn: arn('user', 'anna') }, actions: ['quarantine'], actor: 'pat', reason: 'without the role' }, NOW)).rejects.toThrow(/not authorized|AccessDenied/i)
    const contained = await applyContainment(store, responding, { target: { type: 'principal', arn: arn('user', 'anna') }, actions: ['quarantine'], actor: 'pat', reason: 'through the role' }, NOW)
    expect(contained.steps.map((s) => s.status)).toEqual(['applied'])
    expect(((await iamState()).anna as { inline: Record<string, string> }).inline['trailwatch-quarantine']).toBeDefined()
    await undoContainment(store, responding, contained.id, 'pat', 'done', new Date(NOW.getTime() + 60_000))
    expect(await iamState()).toEqual(before)
    await expect(planContainment(store, responding, { target: { type: 'principal', arn: arn('role', 'trailwatch-responder') }, actions: ['quarantine'], actor: 'pat', reason: '' }, NOW)).rejects.toThrow('is protected (arn:aws:iam::*:role/trailwatch-responder)')
  })
})
