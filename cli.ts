import { Command, CommanderError } from 'commander'
import { alertCommand, notificationsCommand, suppressCommand } from './src/alerting/cli.js'
import { importCredentialReportCommand } from './src/credentials/cli.js'
import { eventsCommand } from './src/events/cli.js'
import { findingsCommand } from './src/cli/findings.js'
import { incidentsCommand, timelineCommand } from './src/incidents/cli.js'
import { postureCommand } from './src/cli/posture.js'
import { containCommand } from './src/contain/cli.js'
import { consoleUserCommand } from './src/console/cli.js'
import { importIamCommand, pathsCommand, permissionsCommand, suggestPolicyCommand } from './src/iam/cli.js'
import { migrateCommand } from './src/cli/migrate.js'
import { queryCommand } from './src/cli/query.js'
import { reportCommand } from './src/reports/cli.js'
import { scheduleWeeklyReports } from './src/reports/schedule.js'
import { statusCommand } from './src/cli/status.js'
import { DETECTORS } from './detectors/registry.js'
import { checkRulePatterns, loadRuleFiles, rulePaths, skippedRuleLine } from './detectors/rule-files.js'
import { consoleCommand, demoCommand, runCommand } from './run/cli.js'
import { userMessage } from './src/cli/errors.js'
import { packageVersion } from './src/package.js'
import { detectCommand, rulesCommand } from './detectors/cli.js'
import { latestSnapshots } from './src/iam/snapshots.js'
import { awsCommand, backfillCommand, ingestCommand, produceCommand } from './ingest/cli.js'

/** The `trailwatch` command: the core's commands next to those of ingest, the detectors and `run`, which joins them. */
export function buildProgram(): Command {
  const program = new Command('trailwatch')
    .description('Watches AWS CloudTrail for identity threats.')
    .version(packageVersion())
    .addCommand(runCommand())
    .addCommand(demoCommand())
    .addCommand(
      statusCommand(async (store, dir, now) => ({
        skippedRules: (await checkRulePatterns(store.client, loadRuleFiles(rulePaths(dir)))).skipped.map(skippedRuleLine),
        iam: await latestSnapshots(store, now),
      })),
    )
    .addCommand(backfillCommand())
    .addCommand(ingestCommand())
    .addCommand(produceCommand())
    .addCommand(detectCommand())
    .addCommand(rulesCommand())
    .addCommand(alertCommand([scheduleWeeklyReports]))
    .addCommand(incidentsCommand())
    .addCommand(postureCommand())
    .addCommand(containCommand())
    .addCommand(timelineCommand())
    .addCommand(eventsCommand())
    .addCommand(findingsCommand())
    .addCommand(suppressCommand(({ config }) => Promise.resolve([...DETECTORS.map((d) => d.id), ...loadRuleFiles(rulePaths(config.rulesDir)).rules.map((rule) => rule.detector.id)])))
    .addCommand(notificationsCommand())
    .addCommand(reportCommand())
    .addCommand(suggestPolicyCommand())
    .addCommand(permissionsCommand())
    .addCommand(pathsCommand())
    .addCommand(queryCommand())
    .addCommand(new Command('import').description('import data other than CloudTrail events').addCommand(importCredentialReportCommand()).addCommand(importIamCommand()))
    .addCommand(consoleCommand())
    .addCommand(awsCommand())
    .addCommand(consoleUserCommand())
    .addCommand(migrateCommand())
  forEachCommand(program, (command) => {
    // A mistake on the command line is one line, like every other error, and ends the command here.
    command.exitOverride().configureOutput({
      outputError: (text, write) => {
        write(`trailwatch: ${text.replace(/^error: /, '')}`)
      },
    })
  })
  return program
}

function forEachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command)
  for (const sub of command.commands) forEachCommand(sub, visit)
}

/**
 * A reader that goes away (`trailwatch query … | head -1`) closes stdout under a printing command:
 * what it wanted, it has, so the command ends quietly with status 0 rather than an unhandled EPIPE.
 */
function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(0)
  })
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyWhenStdoutCloses()
  const program = buildProgram()
  try {
    // `trailwatch` alone asks what it can do.
    if (argv.length <= 2) {
      program.outputHelp()
      return
    }
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`trailwatch: ${userMessage(err)}\n`)
    process.exitCode = 1
  }
}
