import { Command, Option } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { parseInstant } from './options.js'
import { alertFinding } from '../alerts/ocsf.js'
import { alertsFirstSeenBetween } from '../alerts/table.js'
import { inertJson } from '../text.js'

interface ExportOptions extends CommonOptions {
  format: 'ocsf' | 'json'
  from?: number
  to?: number
}

/** `trailwatch findings export`: every stored finding of a span, one JSON object per line, for a SIEM or a data lake. */
export function findingsCommand(): Command {
  const exportCommand = withCommonOptions(new Command('export'))
    .description('print the findings first seen in a span, one per line: OCSF 1.8.0 Detection Findings (class 2004), or trailwatch JSON')
    .addOption(new Option('--format <format>', 'ocsf: OCSF Detection Finding; json: the alert as stored').choices(['ocsf', 'json']).default('ocsf'))
    .option('--from <time>', 'first seen at or after (ISO 8601; default: the oldest stored)', parseInstant)
    .option('--to <time>', 'first seen before (ISO 8601; default: now)', parseInstant)
    .action(async (options: ExportOptions) => {
      await withContext(options, async ({ store }) => {
        for await (const alert of alertsFirstSeenBetween(store, { from: options.from ?? 0, to: options.to ?? Date.now() })) {
          // Every field may be an attacker's text: direction controls and line separators are escaped.
          console.log(inertJson(options.format === 'ocsf' ? alertFinding(alert) : alert))
        }
      })
    })
  return new Command('findings').description('the findings stored, for other tools').addCommand(exportCommand)
}
