// `trailwatch paths` over one large account: 5,000 roles and 2,000 users by default, shaped like an
// organisation's (most identities read, a few hundred build and deploy, a few dozen administer).
//   npm run bench:paths [-- --roles 5000 --users 2000 --runs 3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedStore } from '../src/clickhouse/client.js'
import { migrate } from '../src/clickhouse/migrations.js'
import { parseAuthorizationDetails } from '../src/iam/authorization.js'
import { pathsToAdministrator } from '../src/iam/paths.js'
import { pathsOutput } from '../src/iam/paths-text.js'
import { postureFindings } from '../src/iam/posture.js'
import { graphAt, recordReach } from '../src/iam/reach.js'
import { storeSnapshot } from '../src/iam/snapshots.js'
import { createLogger } from '../src/logger.js'
import { percentile } from './percentile.js'

const { values } = parseArgs({ options: { roles: { type: 'string', default: '5000' }, users: { type: 'string', default: '2000' }, runs: { type: 'string', default: '3' } } })
const ACCOUNT = '111122223333'
const AT = Date.parse('2026-11-30T06:00:00Z')
const arn = (kind: string, name: string): string => `arn:aws:iam::${ACCOUNT}:${kind}/${name}`
const doc = (...Statement: object[]): object => ({ Version: '2012-10-17', Statement })
const allow = (Action: string | string[], Resource: string | string[] = '*', Condition?: object): object => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) })
const awsPolicy = (name: string): object => ({ PolicyName: name, PolicyArn: `arn:aws:iam::aws:policy/${name}` })
const trust = (Principal: object, Condition?: object): object => doc({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole', ...(Condition ? { Condition } : {}) })

/** The snapshot's JSON, in get-account-authorization-details' shape. */
function organisation(roleCount: number, userCount: number): string {
  const teams = 100
  const policies = Array.from({ length: teams }, (_, t) => ({
    PolicyName: `team-${String(t)}`,
    Arn: arn('policy', `team-${String(t)}`),
    DefaultVersionId: 'v1',
    PolicyVersionList: [{ VersionId: 'v1', IsDefaultVersion: true, Document: doc(allow(['s3:GetObject', 's3:PutObject'], `arn:aws:s3:::team-${String(t)}/*`), allow('dynamodb:*', `arn:aws:dynamodb:*:${ACCOUNT}:table/team-${String(t)}-*`), allow('sqs:SendMessage')) }],
  }))
  const role = (name: string, trusted: object, extra: { managed?: object[]; inline?: object; profile?: boolean }) => ({
    RoleName: name,
    Arn: arn('role', name),
    AssumeRolePolicyDocument: trusted,
    AttachedManagedPolicies: extra.managed ?? [],
    RolePolicyList: extra.inline ? [{ PolicyName: 'own', PolicyDocument: extra.inline }] : [],
    InstanceProfileList: extra.profile ? [{ InstanceProfileName: name, Arn: arn('instance-profile', name) }] : [],
  })
  const team = (i: number): object => ({ PolicyName: `team-${String(i % teams)}`, PolicyArn: arn('policy', `team-${String(i % teams)}`) })
  const roles = Array.from({ length: roleCount }, (_, i) => {
    const n = String(i)
    const slot = i % 100
    if (slot < 50) return role(`lambda-${n}`, trust({ Service: 'lambda.amazonaws.com' }), { managed: i % 250 === 0 ? [awsPolicy('AdministratorAccess')] : [team(i)] })
    if (slot < 70) return role(`ec2-${n}`, trust({ Service: 'ec2.amazonaws.com' }), { managed: [awsPolicy('AmazonSSMManagedInstanceCore'), team(i)], profile: true })
    if (slot < 84) return role(`team-${n}`, trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` }), { managed: [awsPolicy('ReadOnlyAccess'), team(i)] })
    if (slot < 90) return role(`power-${n}`, trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` }, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }), { managed: [awsPolicy('PowerUserAccess')] })
    if (slot < 98) return role(`deploy-${n}`, trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` }), { inline: doc(allow('iam:PassRole', arn('role', 'lambda-*')), allow(['cloudformation:CreateStack', 'lambda:CreateFunction', 'lambda:InvokeFunction'])) })
    if (slot < 99) return role(`admin-${n}`, trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` }, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }), { managed: [awsPolicy('AdministratorAccess')] })
    return role(`partner-${n}`, trust({ AWS: 'arn:aws:iam::999988887777:root' }, { StringEquals: { 'sts:ExternalId': 'partner' } }), { managed: [awsPolicy('SecurityAudit')] })
  })
  const groups = [
    { GroupName: 'developers', Arn: arn('group', 'developers'), AttachedManagedPolicies: [awsPolicy('ReadOnlyAccess')], GroupPolicyList: [{ PolicyName: 'own-keys', PolicyDocument: doc(allow(['iam:CreateAccessKey', 'iam:DeleteAccessKey', 'iam:UpdateLoginProfile'], `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`), allow('sts:AssumeRole', arn('role', 'team-*'))) }] },
    { GroupName: 'platform', Arn: arn('group', 'platform'), AttachedManagedPolicies: [], GroupPolicyList: [{ PolicyName: 'build', PolicyDocument: doc(allow('iam:PassRole', arn('role', 'lambda-*')), allow('lambda:*'), allow('sts:AssumeRole', arn('role', 'deploy-*'))) }] },
    { GroupName: 'support', Arn: arn('group', 'support'), AttachedManagedPolicies: [], GroupPolicyList: [{ PolicyName: 'helpdesk', PolicyDocument: doc(allow(['iam:CreateAccessKey', 'iam:UpdateLoginProfile'], arn('user', 'svc-*'))) }] },
    { GroupName: 'admins', Arn: arn('group', 'admins'), AttachedManagedPolicies: [awsPolicy('AdministratorAccess')], GroupPolicyList: [] },
  ]
  const users = Array.from({ length: userCount }, (_, i) => {
    const slot = i % 100
    const [name, group, inline] =
      slot < 75 ? [`dev-${String(i)}`, 'developers'] : slot < 85 ? [`platform-${String(i)}`, 'platform'] : slot < 92 ? [`support-${String(i)}`, 'support'] : slot < 94 ? [`admin-${String(i)}`, 'admins'] : [`svc-${String(i)}`, undefined, doc(allow('sts:AssumeRole', arn('role', `power-*`)))]
    return { UserName: name, Arn: arn('user', name), GroupList: group ? [group] : [], AttachedManagedPolicies: [], UserPolicyList: inline ? [{ PolicyName: 'own', PolicyDocument: inline }] : [] }
  })
  return JSON.stringify({ UserDetailList: users, GroupDetailList: groups, RoleDetailList: roles, Policies: policies })
}

const time = async <T>(work: () => Promise<T> | T): Promise<{ ms: number; result: T }> => {
  const start = performance.now()
  const result = await work()
  return { ms: performance.now() - start, result }
}

const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-bench-paths-'))
const store = await openEmbeddedStore(path.join(dir, 'data'), 'bench_paths')
try {
  await migrate(store, { retentionDays: 400 }, createLogger('warn'))
  const text = organisation(Number(values.roles), Number(values.users))
  await storeSnapshot(store, ACCOUNT, AT, text, AT)
  const details = parseAuthorizationDetails(text, 'bench')
  console.log(`one account: ${details.RoleDetailList.length.toLocaleString('en')} roles, ${details.UserDetailList.length.toLocaleString('en')} users, ${String(details.GroupDetailList.length)} groups, ${String(details.Policies.length)} managed policies (${(text.length / 1e6).toFixed(1)} MB of JSON)`)
  const runs = Number(values.runs)
  const figures: [string, number[]][] = [
    ['posture checks of the snapshot (baseline)', []],
    ['trailwatch paths: every shortest path and its cut', []],
    ['import-time: paths, cuts and pictures stored', []],
  ]
  let summary = ''
  for (let run = 0; run < runs; run++) {
    figures[0]?.[1].push((await time(() => postureFindings(ACCOUNT, new Date(AT).toISOString(), parseAuthorizationDetails(text, 'bench'), undefined, { organisationAccounts: [], unusedDays: 90 }))).ms)
    // What the command does: read the snapshots, build the graph, print every shortest path with its cut.
    const paths = await time(async () => {
      const { graph, accounts } = await graphAt(store, new Date(AT + 1))
      return { graph, found: pathsToAdministrator(graph), text: pathsOutput(graph, accounts, { json: false }) }
    })
    figures[1]?.[1].push(paths.ms)
    figures[2]?.[1].push((await time(() => recordReach(store, new Date(AT + 1), new Date(AT + 1 + run)))).ms)
    const steps = [...paths.result.graph.steps.values()].reduce((sum, list) => sum + list.length, 0)
    const longest = Math.max(0, ...paths.result.found.map((p) => p.steps.length))
    summary = `${paths.result.found.length.toLocaleString('en')} identities can become administrator (longest shortest path ${String(longest)} steps) over ${steps.toLocaleString('en')} steps between ${paths.result.graph.identities.size.toLocaleString('en')} identities`
  }
  console.log(summary)
  const baseline = percentile(figures[0]?.[1] ?? [], 50)
  console.log(`\n  ${'median of'.padEnd(52)} ${String(runs)} runs`)
  for (const [label, times] of figures) console.log(`  ${label.padEnd(52)} ${(percentile(times, 50) / 1000).toFixed(2).padStart(6)} s  ${(percentile(times, 50) / baseline).toFixed(1)}× baseline`)
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
