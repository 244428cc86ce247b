import { Command, CommanderError } from 'commander'
import { alertCommand, notificationsCommand, suppressCommand } from './src/alerting/cli.js'
import { importCommand } from './src/cli/import.js'
import { migrateCommand } from './src/cli/migrate.js'
import { queryCommand } from './src/cli/query.js'
import { reportCommand } from './src/reports/cli.js'
import { statusCommand } from './src/cli/status.js'
import { demoCommand, runCommand } from './run/cli.js'
import { AppError } from './src/errors.js'
import { detectCommand } from './detectors/cli.js'
import { backfillCommand, ingestCommand, produceCommand } from './ingest/cli.js'

/** The `trailwatch` command: the core's commands next to those of ingest, the detectors and `run`, which joins them. */
export function buildProgram(): Command {
  return new Command('trailwatch')
    .description('Watches AWS CloudTrail for identity threats.')
    .showHelpAfterError()
    .addCommand(runCommand())
    .addCommand(demoCommand())
    .addCommand(statusCommand())
    .addCommand(backfillCommand())
    .addCommand(ingestCommand())
    .addCommand(produceCommand())
    .addCommand(detectCommand())
    .addCommand(alertCommand())
    .addCommand(suppressCommand())
    .addCommand(notificationsCommand())
    .addCommand(reportCommand())
    .addCommand(queryCommand())
    .addCommand(importCommand())
    .addCommand(migrateCommand())
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().exitOverride().parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    // Errors raised on purpose carry a message meant for the user; anything else is a bug, with its stack.
    process.stderr.write(`trailwatch: ${err instanceof AppError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 1
  }
}
