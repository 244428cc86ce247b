import { Command, Option } from 'commander'
import { openAlerter } from '../alerting/service.js'
import type { Alerter } from '../alerting/alerter.js'
import { withCommonOptions, withContext, type CommonOptions, type Context } from '../cli/context.js'
import { postureConfig } from '../iam/assessment.js'
import { iamPostureReport, postureReportCsv, postureReportText } from './iam-posture.js'
import { parseInstant } from '../cli/options.js'
import { credentialAgeReport, credentialReportCsv, credentialReportText } from './credential-age.js'
import { laterReportWarnings } from '../credentials/inventory.js'
import { credentialLimits } from '../credentials/standing.js'
import { queueCredentialReport, queuePostureReport } from './send.js'

interface CredentialsOptions extends CommonOptions {
  at?: number
  format: 'text' | 'csv' | 'json'
  email?: boolean
}

/** Queues a report and delivers what is due at once; what fails stays for the running alerter. */
async function sendNow(context: Context, queue: (alerter: Alerter) => Promise<unknown>): Promise<void> {
  const { alerter, transport } = openAlerter(context, (n, d) => {
    process.stderr.write(`sent report to ${n.recipient}: ${d.response}\n`)
  })
  try {
    await queue(alerter)
    const { retrying, failed } = await alerter.deliverDue(new Date())
    if (retrying.length || failed.length) process.stderr.write(`not delivered yet: ${[...retrying, ...failed].map((n) => `${n.recipient} (${n.error})`).join(', ')}; the running alerter retries them\n`)
  } finally {
    transport.close()
  }
}

export function reportCommand(): Command {
  const credentials = withCommonOptions(new Command('credentials'))
    .description('every access key with its age, last use and standing against the rotation and unused limits; root keys; every user\'s password and MFA')
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
        if (options.email) await sendNow(context, (alerter) => queueCredentialReport(context.store, alerter, context.config.report.to, at, limits))
      })
    })
  const iam = withCommonOptions(new Command('iam'))
    .description('every account\'s IAM posture: the iam-posture detector\'s findings on the latest snapshots and credential reports, worst first')
    .option('--at <time>', 'judge the snapshots in force at this time (ISO 8601; default: now)', parseInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'csv', 'json']).default('text'))
    .option('--email', 'also email it to TRAILWATCH_REPORT_TO (default TRAILWATCH_ALERT_TO), with the CSV attached')
    .action(async (options: CredentialsOptions) => {
      await withContext(options, async (context) => {
        const at = new Date(options.at ?? Date.now())
        const config = postureConfig(context.settings.detectors)
        const report = await iamPostureReport(context.store, at, config)
        if (options.format === 'json') console.log(JSON.stringify(report))
        else process.stdout.write(options.format === 'csv' ? postureReportCsv(report) : postureReportText(report))
        if (options.email) await sendNow(context, (alerter) => queuePostureReport(context.store, alerter, context.config.report.to, at, config))
      })
    })
  return new Command('report').description('reports on demand; the running alerter also sends both on its schedule').addCommand(credentials).addCommand(iam)
}
