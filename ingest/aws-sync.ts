import {
  GenerateCredentialReportCommand,
  GetAccountPasswordPolicyCommand,
  GetCredentialReportCommand,
  IAMClient,
  paginateGetAccountAuthorizationDetails,
  type GetAccountAuthorizationDetailsCommandOutput,
} from '@aws-sdk/client-iam'
import { OrganizationsClient, paginateListAccounts } from '@aws-sdk/client-organizations'
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import cron from 'node-cron'
import { setTimeout as sleep } from 'node:timers/promises'
import { awsSettings, awsText } from '../src/aws/clients.js'
import type { Store } from '../src/clickhouse/client.js'
import type { Config } from '../src/config.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { AppError, errorMessage } from '../src/errors.js'
import { parseAuthorizationDetails } from '../src/iam/authorization.js'
import { recordReach } from '../src/iam/reach.js'
import { storeSnapshot, type PasswordPolicy } from '../src/iam/snapshots.js'
import { cronLogger, moduleLogger, type Logger } from '../src/logger.js'

/** What one account's sync stored, or why it could not. */
export type AccountSync =
  | { account: string; ok: true; users: number; roles: number; groups: number; policies: number; password_policy: boolean; credential_report_users: number }
  | { account: string; ok: false; error: string }

export interface SyncOptions {
  /** Assumed in every active account of the organisation; without it, only the account of the credentials in use. */
  organizationRole?: string | undefined
  externalId?: string | undefined
  now: () => number
}

/** An assumed role's credentials; undefined for the SDK's own chain. */
type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined

/** The credential report as IAM generates it: asked for, waited on (a few seconds at most), read. */
async function credentialReport(iam: IAMClient): Promise<{ csv: string; generatedAt: number }> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const { State } = await iam.send(new GenerateCredentialReportCommand({}))
    if (State === 'COMPLETE') break
    await sleep(1_000)
  }
  const report = await iam.send(new GetCredentialReportCommand({}))
  return { csv: Buffer.from(report.Content ?? new Uint8Array()).toString('utf8'), generatedAt: report.GeneratedTime?.getTime() ?? Date.now() }
}

/** Every page of GetAccountAuthorizationDetails as one document, shaped as the CLI writes it. */
async function authorizationDetails(iam: IAMClient): Promise<string> {
  const whole = { UserDetailList: [], GroupDetailList: [], RoleDetailList: [], Policies: [] } as Required<Pick<GetAccountAuthorizationDetailsCommandOutput, 'UserDetailList' | 'GroupDetailList' | 'RoleDetailList' | 'Policies'>>
  for await (const page of paginateGetAccountAuthorizationDetails({ client: iam }, {})) {
    whole.UserDetailList.push(...(page.UserDetailList ?? []))
    whole.GroupDetailList.push(...(page.GroupDetailList ?? []))
    whole.RoleDetailList.push(...(page.RoleDetailList ?? []))
    whole.Policies.push(...(page.Policies ?? []))
  }
  return JSON.stringify(whole)
}

async function passwordPolicy(iam: IAMClient): Promise<PasswordPolicy | undefined> {
  try {
    return (await iam.send(new GetAccountPasswordPolicyCommand({}))).PasswordPolicy
  } catch (err) {
    // An account that never set one has none: AWS's defaults apply.
    if ((err as { name?: string }).name === 'NoSuchEntityException' || (err as { name?: string }).name === 'NoSuchEntity') return undefined
    throw err
  }
}

/** One account's IAM state, stored as `import iam` and `import credential-report` store it. */
async function syncAccount(store: Store, account: string, credentials: Credentials, now: () => number): Promise<AccountSync> {
  const iam = new IAMClient({ ...awsSettings(), ...(credentials ? { credentials } : {}) })
  try {
    const [report, text, policy] = await Promise.all([credentialReport(iam), authorizationDetails(iam), passwordPolicy(iam)])
    const rows = parseCredentialReport(report.csv)
    const details = parseAuthorizationDetails(text, `account ${account}`)
    const at = now()
    await insertCredentialReport(store, rows, report.generatedAt, at)
    await storeSnapshot(store, account, at, text, at, policy)
    return { account, ok: true, users: details.UserDetailList.length, roles: details.RoleDetailList.length, groups: details.GroupDetailList.length, policies: details.Policies.length, password_policy: policy !== undefined, credential_report_users: rows.length }
  } finally {
    iam.destroy()
  }
}

/** The active accounts of the organisation the credentials in use manage. */
async function organisationAccounts(): Promise<string[]> {
  const organizations = new OrganizationsClient(awsSettings())
  try {
    const accounts: string[] = []
    for await (const page of paginateListAccounts({ client: organizations }, {})) {
      for (const account of page.Accounts ?? []) if (account.Id && (account.Status ?? 'ACTIVE') === 'ACTIVE') accounts.push(account.Id)
    }
    return accounts
  } finally {
    organizations.destroy()
  }
}

/**
 * IAM state pulled from AWS: for the account of the credentials in use, or, with an organisation
 * role, for every active account of the organisation by assuming that role there. An account that
 * fails is reported with its reason; the others still sync. Then the paths to administrator are
 * computed again over every account's latest snapshot.
 */
export async function syncAws(store: Store, options: SyncOptions): Promise<AccountSync[]> {
  const results = await syncAccounts(store, options)
  // What each identity can become changes with any account's IAM: once, over all of them.
  if (results.some((r) => r.ok)) {
    const at = new Date(options.now())
    await recordReach(store, at, at)
  }
  return results
}

async function syncAccounts(store: Store, options: SyncOptions): Promise<AccountSync[]> {
  const sts = new STSClient(awsSettings())
  try {
    if (!options.organizationRole) {
      const { Account: account = '' } = await sts.send(new GetCallerIdentityCommand({})).catch((err: unknown) => {
        throw new AppError('AWS', `cannot tell which AWS account the credentials belong to: ${awsText(err)}`)
      })
      return [await syncAccount(store, account, undefined, options.now).catch((err: unknown) => ({ account, ok: false as const, error: errorMessage(err) }))]
    }
    const accounts = await organisationAccounts().catch((err: unknown) => {
      throw new AppError('AWS', `cannot list the organisation's accounts (organizations:ListAccounts): ${awsText(err)}`)
    })
    const results: AccountSync[] = []
    for (const account of accounts) {
      try {
        const role = `arn:aws:iam::${account}:role/${options.organizationRole}`
        const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'trailwatch-sync', ExternalId: options.externalId })).catch((err: unknown) => {
          throw new Error(`cannot assume ${role}: ${errorMessage(err)}`)
        })
        const c = assumed.Credentials
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`assuming ${role} gave no credentials`)
        results.push(await syncAccount(store, account, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }, options.now))
      } catch (err) {
        results.push({ account, ok: false, error: errorMessage(err) })
      }
    }
    return results
  } finally {
    sts.destroy()
  }
}

/** `run`'s sync on TRAILWATCH_AWS_SYNC_SCHEDULE (UTC): each account that fails is logged with its reason. */
export function scheduleAwsSync(config: Config, store: Store, logger: Logger, schedule: string): { stop: () => Promise<void> } {
  const log = moduleLogger(logger, 'aws.sync')
  const task = cron.schedule(
    schedule,
    async () => {
      try {
        for (const result of await syncAws(store, { ...config.aws, now: Date.now })) {
          if (result.ok) log.info({ account: result.account, users: result.users, roles: result.roles }, 'IAM state synced')
          else log.error({ account: result.account, err: result.error }, 'IAM state not synced')
        }
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'IAM state not synced')
      }
    },
    { timezone: 'UTC', noOverlap: true, name: 'aws-sync', logger: cronLogger(logger) },
  )
  log.info({ schedule }, 'IAM state sync scheduled')
  return {
    stop: async () => {
      await task.stop()
    },
  }
}
