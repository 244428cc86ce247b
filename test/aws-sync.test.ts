import { CreateLoginProfileCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand, UpdateAccountPasswordPolicyCommand } from '@aws-sdk/client-iam'
import { CreateAccountCommand, CreateOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { startMoto, type Moto } from './helpers/moto.js'
import { testDataDir } from './helpers/store.js'

let moto: Moto
let members: string[]

/** IAM in a member account, as the organisation's role there sees it. */
async function memberIam(account: string): Promise<IAMClient> {
  const { Credentials: c } = await new STSClient({}).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/trailwatch-reader`, RoleSessionName: 'setup' }))
  return new IAMClient({ credentials: { accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken } })
}

beforeAll(async () => {
  moto = await startMoto()
  Object.assign(process.env, moto.env)
  const organizations = new OrganizationsClient({})
  await organizations.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }))
  members = []
  for (const name of ['workloads', 'sandbox']) {
    const created = await organizations.send(new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }))
    members.push(created.CreateAccountStatus?.AccountId ?? '')
  }
  // Planted in the sandbox: an administrator by an inline *:* policy, with a console password and no MFA.
  const sandbox = await memberIam(members[1] ?? '')
  await sandbox.send(new CreateUserCommand({ UserName: 'intern' }))
  await sandbox.send(new CreateLoginProfileCommand({ UserName: 'intern', Password: 'Correct-Horse-9' }))
  await sandbox.send(new PutUserPolicyCommand({ UserName: 'intern', PolicyName: 'everything', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }))
  await sandbox.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 6 }))
  const workloads = await memberIam(members[0] ?? '')
  await workloads.send(new CreateUserCommand({ UserName: 'deployer' }))
}, 120_000)

afterAll(async () => {
  await moto.stop()
})

describe('aws sync over an organisation', () => {
  it('stores a credential report and a snapshot of every account, and the posture checks see what was planted', async () => {
    const dataDir = testDataDir()
    const env = { ...moto.env, TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_AWS_ORGANIZATION_ROLE: 'trailwatch-reader' }
    const sync = await runCli(['aws', 'sync', '--json'], { env })
    expect([sync.code, sync.stderr]).toEqual([0, ''])
    const results = sync.stdout.trim().split('\n').map((line) => JSON.parse(line) as { account: string; ok: boolean; users: number; password_policy: boolean })
    expect(results.map((r) => [r.account, r.ok]).sort()).toEqual([['123456789012', true], [members[0], true], [members[1], true]].sort())
    expect(results.find((r) => r.account === members[1])).toMatchObject({ users: 1, password_policy: true })

    const stored = await runCli(['query', 'SELECT (SELECT uniqExact(account_id) FROM iam_snapshots) AS snapshots, (SELECT uniqExact(account_id) FROM credential_reports) AS reports', '--json'], { env })
    // The management account has no users, so its report has no rows to name it by.
    expect(JSON.parse(stored.stdout)).toEqual({ snapshots: 3, reports: 2 })
    const posture = await runCli(['report', 'iam', '--format', 'json'], { env })
    expect(posture.code).toBe(0)
    const { findings } = JSON.parse(posture.stdout) as { findings: { account: string; check: string; subject: string }[] }
    const planted = findings.filter((f) => f.account === members[1]).map((f) => `${f.check} ${f.subject}`)
    expect(planted).toEqual(expect.arrayContaining([`administrator-user arn:aws:iam::${members[1] ?? ''}:user/intern`, expect.stringMatching(/^weak-password-policy /)]))
    // The other member planted nothing of the kind.
    expect(findings.filter((f) => f.account === members[0] && /administrator|password/.test(f.check))).toEqual([])
  })

  it('says in one line that the credentials are missing', async () => {
    const env = { ...moto.env, TRAILWATCH_DATA_DIR: testDataDir(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'no-such-profile', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' }
    const sync = await runCli(['aws', 'sync'], { env })
    expect(sync.code).toBe(1)
    expect(sync.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trailwatch: cannot tell which AWS account the credentials belong to: /) as unknown])
  })
})
