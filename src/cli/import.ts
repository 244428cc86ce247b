import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { insertCredentialReport, parseCredentialReport } from '../credentials/credential-report.js'
import { accountOf, parseAuthorizationDetails } from '../iam/authorization.js'
import { parsePasswordPolicy, storeSnapshot } from '../iam/snapshots.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { parseInstant } from './options.js'

export function importCommand(): Command {
  const credentialReport = withCommonOptions(new Command('credential-report'))
    .description('store an IAM credential report (the CSV of `aws iam get-credential-report`)')
    .argument('<file>', 'the CSV file')
    .option('--generated-at <time>', 'when AWS generated the report (ISO 8601; default: now)', parseInstant)
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, options: CommonOptions & { generatedAt?: number; json?: boolean }) => {
      const rows = parseCredentialReport(await readFile(file, 'utf8'))
      await withContext(options, async ({ store }) => {
        const now = Date.now()
        const generatedAt = options.generatedAt ?? now
        await insertCredentialReport(store, rows, generatedAt, now)
        const accounts = [...new Set(rows.map((row) => row.account_id))]
        const summary = { users: rows.length, accounts, generated_at: new Date(generatedAt).toISOString() }
        console.log(options.json ? JSON.stringify(summary) : `stored ${rows.length} users of account(s) ${accounts.join(', ')}, generated at ${summary.generated_at}`)
      })
    })
  const iam = withCommonOptions(new Command('iam'))
    .description('store a snapshot of IAM users, groups, roles and policies (the JSON of `aws iam get-account-authorization-details`), kept with its history')
    .argument('<file>', 'the JSON file')
    .option('--password-policy <file>', 'the account\'s password policy (the JSON of `aws iam get-account-password-policy`)')
    .option('--taken-at <time>', 'when the snapshot was taken (ISO 8601; default: now)', parseInstant)
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, options: CommonOptions & { passwordPolicy?: string; takenAt?: number; json?: boolean }) => {
      const text = await readFile(file, 'utf8')
      const details = parseAuthorizationDetails(text, file)
      const account = accountOf(details, file)
      const passwordPolicy = options.passwordPolicy ? parsePasswordPolicy(await readFile(options.passwordPolicy, 'utf8'), options.passwordPolicy) : undefined
      await withContext(options, async ({ store }) => {
        const now = Date.now()
        const takenAt = options.takenAt ?? now
        await storeSnapshot(store, account, takenAt, text, now, passwordPolicy)
        const summary = { account, taken_at: new Date(takenAt).toISOString(), users: details.UserDetailList.length, groups: details.GroupDetailList.length, roles: details.RoleDetailList.length, policies: details.Policies.length, password_policy: passwordPolicy !== undefined }
        console.log(
          options.json
            ? JSON.stringify(summary)
            : `stored the IAM snapshot of account ${account} taken at ${summary.taken_at}: ${String(summary.users)} users, ${String(summary.groups)} groups, ${String(summary.roles)} roles, ${String(summary.policies)} managed policies${passwordPolicy ? ', the password policy' : ''}`,
        )
      })
    })
  return new Command('import').description('import data other than CloudTrail events').addCommand(credentialReport).addCommand(iam)
}
