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

interface ReportOptions extends CommonOptions {
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

/** One report: how it is made at a time, written for a terminal or a spreadsheet, and queued for email. */
interface ReportKind<R> {
  name: string
  description: string
  atHelp: string
  make: (context: Context, at: Date) => Promise<R>
  text: (report: R) => string
  csv: (report: R) => string
  queue: (context: Context, alerter: Alerter, at: Date) => Promise<unknown>
}

function reportSubcommand<R>(kind: ReportKind<R>): Command {
  return withCommonOptions(new Command(kind.name))
    .description(kind.description)
    .option('--at <time>', kind.atHelp, parseInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'csv', 'json']).default('text'))
    .option('--email', 'also email it to TRAILWATCH_REPORT_TO (default TRAILWATCH_ALERT_TO), with the CSV attached')
    .action(async (options: ReportOptions) => {
      await withContext(options, async (context) => {
        const at = new Date(options.at ?? Date.now())
        const report = await kind.make(context, at)
        if (options.format === 'json') console.log(JSON.stringify(report))
        else process.stdout.write(options.format === 'csv' ? kind.csv(report) : kind.text(report))
        if (options.email) await sendNow(context, (alerter) => kind.queue(context, alerter, at))
      })
    })
}

export function reportCommand(): Command {
  const credentials = reportSubcommand({
    name: 'credentials',
    description: "every access key with its age, last use and standing against the rotation and unused limits; root keys; every user's password and MFA",
    atHelp: 'judge ages at this time (ISO 8601; default: now)',
    make: async ({ store, settings }, at) => {
      for (const warning of await laterReportWarnings(store, at)) process.stderr.write(`${warning}\n`)
      return credentialAgeReport(store, at, credentialLimits(settings.detectors))
    },
    text: credentialReportText,
    csv: credentialReportCsv,
    queue: (context, alerter, at) => queueCredentialReport(context.store, alerter, context.config.report.to, at, credentialLimits(context.settings.detectors)),
  })
  const iam = reportSubcommand({
    name: 'iam',
    description: "every account's IAM posture: the iam-posture detector's findings on the latest snapshots and credential reports, worst first",
    atHelp: 'judge the snapshots in force at this time (ISO 8601; default: now)',
    make: (context, at) => iamPostureReport(context.store, at, postureConfig(context.settings.detectors)),
    text: postureReportText,
    csv: postureReportCsv,
    queue: (context, alerter, at) => queuePostureReport(context.store, alerter, context.config.report.to, at, postureConfig(context.settings.detectors)),
  })
  return new Command('report').description('reports on demand; the running alerter also sends both on its schedule').addCommand(credentials).addCommand(iam)
}
