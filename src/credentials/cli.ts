import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { insertCredentialReport, parseCredentialReport } from './credential-report.js'

/** `trailwatch import credential-report FILE.csv`: a report as `aws iam get-credential-report` writes it. */
export function importCredentialReportCommand(): Command {
  return withCommonOptions(new Command('credential-report'))
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
}
