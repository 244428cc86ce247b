import { CreateAccessKeyCommand, CreateLoginProfileCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand, UpdateAccountPasswordPolicyCommand } from '@aws-sdk/client-iam'
import { CreateAccountCommand, CreateOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { startMoto, type Moto } from './helpers/moto.js'
import { testDataDir } from './helpers/store.js'

/** moto's own account: the organisation's management account here. */
const MANAGEMENT = '123456789012'
const ROLE = 'trailwatch-reader'

let moto: Moto
let members: string[]
/** What trailwatch runs as: a user of the management account allowed everything, as the emulator checks it. */
let trailwatch: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string }

const policy = (statement: object) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] })

/** IAM in an account, by way of a role there (the emulator does not check yet: the organisation is being set up). */
async function iamIn(account: string): Promise<IAMClient> {
  const { Credentials: c } = await new STSClient({}).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${ROLE}`, RoleSessionName: 'setup' }))
  return new IAMClient({ credentials: { accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken } })
}

/** The read-only role trailwatch assumes in an account, trusting `trusted`, allowed the reads of a sync. */
async function readerRole(iam: IAMClient, trusted: string): Promise<void> {
  await iam.send(new CreateRoleCommand({ RoleName: ROLE, AssumeRolePolicyDocument: policy({ Effect: 'Allow', Principal: { AWS: trusted }, Action: 'sts:AssumeRole' }) }))
  await iam.send(new PutRolePolicyCommand({ RoleName: ROLE, PolicyName: 'read-iam', PolicyDocument: policy({ Effect: 'Allow', Action: ['iam:GenerateCredentialReport', 'iam:GetCredentialReport', 'iam:GetAccountAuthorizationDetails', 'iam:GetAccountPasswordPolicy'], Resource: '*' }) }))
}

beforeAll(async () => {
  moto = await startMoto()
  Object.assign(process.env, moto.env)
  const iam = new IAMClient({})
  await iam.send(new CreateUserCommand({ UserName: 'trailwatch' }))
  await iam.send(new PutUserPolicyCommand({ UserName: 'trailwatch', PolicyName: 'sync', PolicyDocument: policy({ Effect: 'Allow', Action: '*', Resource: '*' }) }))
  const { AccessKey: key } = await iam.send(new CreateAccessKeyCommand({ UserName: 'trailwatch' }))
  trailwatch = { AWS_ACCESS_KEY_ID: key?.AccessKeyId ?? '', AWS_SECRET_ACCESS_KEY: key?.SecretAccessKey ?? '' }
  // The management account's reader role was deployed for someone else: trailwatch may not assume it.
  await readerRole(iam, `arn:aws:iam::${MANAGEMENT}:user/someone-else`)

  const organizations = new OrganizationsClient({})
  await organizations.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }))
  members = []
  for (const name of ['workloads', 'sandbox', 'archive']) {
    const created = await organizations.send(new CreateAccountCommand({ AccountName: name, Email: `${name}@example.com` }))
    members.push(created.CreateAccountStatus?.AccountId ?? '')
  }
  const [workloads, sandbox, archive] = await Promise.all(members.map(iamIn))
  for (const member of [workloads, sandbox, archive]) if (member) await readerRole(member, `arn:aws:iam::${MANAGEMENT}:root`)
  // Planted in the sandbox: an administrator by an inline *:* policy, with a console password and no MFA.
  await sandbox?.send(new CreateUserCommand({ UserName: 'intern' }))
  await sandbox?.send(new CreateLoginProfileCommand({ UserName: 'intern', Password: 'Correct-Horse-9' }))
  await sandbox?.send(new PutUserPolicyCommand({ UserName: 'intern', PolicyName: 'everything', PolicyDocument: policy({ Effect: 'Allow', Action: '*', Resource: '*' }) }))
  await sandbox?.send(new UpdateAccountPasswordPolicyCommand({ MinimumPasswordLength: 6 }))
  await workloads?.send(new CreateUserCommand({ UserName: 'deployer' }))
  // Planted in workloads: the deployer may hand a Lambda function a role that may do anything.
  await workloads?.send(new PutUserPolicyCommand({ UserName: 'deployer', PolicyName: 'functions', PolicyDocument: policy({ Effect: 'Allow', Action: ['iam:PassRole', 'lambda:CreateFunction', 'lambda:InvokeFunction'], Resource: '*' }) }))
  await workloads?.send(new CreateRoleCommand({ RoleName: 'lambda-admin', AssumeRolePolicyDocument: policy({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }) }))
  await workloads?.send(new PutRolePolicyCommand({ RoleName: 'lambda-admin', PolicyName: 'everything', PolicyDocument: policy({ Effect: 'Allow', Action: '*', Resource: '*' }) }))
  await archive?.send(new CreateUserCommand({ UserName: 'auditor' }))
  // From here on the emulator checks every call against IAM, the trust of the role assumed included.
  const auth = await fetch(`${moto.url}/moto-api/reset-auth`, { method: 'POST', body: '0' })
  expect(auth.ok).toBe(true)
}, 120_000)

afterAll(async () => {
  await moto.stop()
})

describe('aws sync over an organisation', () => {
  it('stores a credential report and a snapshot of every account it may read, names the one whose role it cannot assume, and the posture checks see what was planted', async () => {
    const dataDir = testDataDir()
    const env = { ...moto.env, ...trailwatch, TRAILWATCH_DATA_DIR: dataDir, TRAILWATCH_AWS_ORGANIZATION_ROLE: ROLE }
    const sync = await runCli(['aws', 'sync', '--json'], { env })
    expect([sync.code, sync.stderr]).toEqual([1, ''])
    const results = sync.stdout.trim().split('\n').map((line) => JSON.parse(line) as { account: string; ok: boolean; users: number; password_policy: boolean; error?: string })
    expect(results.map((r) => [r.account, r.ok]).sort()).toEqual([[MANAGEMENT, false], ...members.map((m) => [m, true])].sort())
    expect(results.find((r) => r.account === MANAGEMENT)?.error).toMatch(new RegExp(`^cannot assume arn:aws:iam::${MANAGEMENT}:role/${ROLE}: .*not authorized to perform: sts:AssumeRole`))
    expect(results.find((r) => r.account === members[1])).toMatchObject({ users: 1, password_policy: true })

    const stored = await runCli(['query', 'SELECT (SELECT uniqExact(account_id) FROM iam_snapshots) AS snapshots, (SELECT uniqExact(account_id) FROM credential_reports) AS reports', '--json'], { env })
    expect(JSON.parse(stored.stdout)).toEqual({ snapshots: 3, reports: 3 })
    const posture = await runCli(['report', 'iam', '--format', 'json'], { env })
    expect(posture.code).toBe(0)
    const { findings } = JSON.parse(posture.stdout) as { findings: { account: string; check: string; subject: string }[] }
    const planted = findings.filter((f) => f.account === members[1]).map((f) => `${f.check} ${f.subject}`)
    expect(planted).toEqual(expect.arrayContaining([`administrator-user arn:aws:iam::${members[1] ?? ''}:user/intern`, expect.stringMatching(/^weak-password-policy /)]))
    // The other members planted nothing of the kind.
    expect(findings.filter((f) => f.account !== members[1] && /administrator|password/.test(f.check))).toEqual([])

    // The paths were computed once over every account synced: the deployer's, and no other.
    const paths = await runCli(['paths', '--json'], { env })
    expect(paths.stdout.trim().split('\n').map((line) => JSON.parse(line) as { from: string; to: string; steps: { action: string }[] })).toEqual([
      { from: `arn:aws:iam::${members[0] ?? ''}:user/deployer`, to: `arn:aws:iam::${members[0] ?? ''}:role/lambda-admin`, steps: [expect.objectContaining({ action: 'iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction' })] },
    ])
    const computed = await runCli(['query', "SELECT countIf(principal = '') AS computations, countIf(principal != '') AS reaching FROM iam_reach", '--json'], { env })
    expect(JSON.parse(computed.stdout)).toEqual({ computations: 1, reaching: 1 })
  })

  it('says in one line that the credentials are wrong', async () => {
    const env = { ...moto.env, TRAILWATCH_DATA_DIR: testDataDir(), AWS_ACCESS_KEY_ID: trailwatch.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }
    const sync = await runCli(['aws', 'sync'], { env })
    expect(sync.code).toBe(1)
    expect(sync.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trailwatch: cannot tell which AWS account the credentials belong to: .*signature/i) as unknown])
  })

  it('says in one line that the credentials are missing', async () => {
    const env = { ...moto.env, TRAILWATCH_DATA_DIR: testDataDir(), AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'no-such-profile', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' }
    const sync = await runCli(['aws', 'sync'], { env })
    expect(sync.code).toBe(1)
    expect(sync.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trailwatch: cannot tell which AWS account the credentials belong to: /) as unknown])
  })
})
