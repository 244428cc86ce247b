import { Command, Option } from 'commander'
import { openAlerter } from '../alerting/service.js'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { credentialAgeReport, credentialReportCsv, credentialReportText } from './credential-age.js'
import { laterReportWarnings } from '../credentials/inventory.js'
import { credentialLimits } from '../credentials/standing.js'
import { queueCredentialReport } from './send.js'

interface CredentialsOptions extends CommonOptions {
  at?: number
  format: 'text' | 'csv' | 'json'
  email?: boolean
}

export function reportCommand(): Command {
  const credentials = withCommonOptions(new Command('credentials'))
    .description('every access key with its age, last use and standing against the rotation and unused limits; root keys; users without MFA')
    .option('--at <time>', 'judge ages at this time (ISO 8601; default: now)', parseInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'csv', 'json']).default('text'))
    .option('--email', 'also email it to TRAILWATCH_REPORT_TO (default TRAILWATCH_ALERT_TO), with the CSV attached')
    .action(async (options: CredentialsOptions) => {
      await withContext(options, async (context) => {
        const at = new Date(options.at ?? Date.now())
        const limits = credentialLimits(context.settings.detectors)
        for (const warning of await laterReportWarnings(context.store, at)) process.stderr.write(`${warning}\n`)
        const report = await credentialAgeReport(context.store, at, limits)
        if (options.format === 'json') console.log(JSON.stringify(report))
        else process.stdout.write(options.format === 'csv' ? credentialReportCsv(report) : credentialReportText(report))
        if (!options.email) return
        const { alerter, transport } = openAlerter(context, (n, d) => {
          process.stderr.write(`sent report to ${n.recipient}: ${d.response}\n`)
        })
        try {
          await queueCredentialReport(context.store, alerter, context.config.report.to, at, limits)
          const { retrying, failed } = await alerter.deliverDue(new Date())
          if (retrying.length || failed.length) process.stderr.write(`not delivered yet: ${[...retrying, ...failed].map((n) => `${n.recipient} (${n.error})`).join(', ')}; the running alerter retries them\n`)
        } finally {
          transport.close()
        }
      })
    })
  return new Command('report').description('reports on demand; the running alerter also sends the credential report on its schedule').addCommand(credentials)
}
