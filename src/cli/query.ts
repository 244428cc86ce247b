import type { DataFormat } from '@clickhouse/client'
import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'

interface QueryOptions extends CommonOptions {
  json?: boolean
}

export function queryCommand(): Command {
  return withCommonOptions(new Command('query'))
    .description('run SQL against the store (tables: events, rejected_input, credential_reports, …)')
    .argument('<sql>', 'the SQL to run, e.g. "SELECT event_name, count() FROM events GROUP BY 1"')
    .option('--json', 'one JSON object per row per line')
    .action(async (sql: string, options: QueryOptions) => {
      await withContext(options, async ({ store }) => {
        const result = await store.client.exec({
          query: sql,
          clickhouse_settings: {
            // Used only when the SQL has no FORMAT clause of its own. The client's type lists only the
            // formats it can parse itself; the server and the engine accept every output format.
            default_format: (options.json ? 'JSONEachRow' : 'PrettyCompactMonoBlock') as DataFormat,
            output_format_pretty_color: process.stdout.isTTY ? 1 : 0,
            // ARNs read better as arn:aws:iam::1:user/alice than with every slash escaped.
            output_format_json_escape_forward_slashes: 0,
          },
        })
        for await (const chunk of result.stream) process.stdout.write(chunk as Buffer)
      })
    })
}
