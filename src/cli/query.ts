import type { DataFormat } from '@clickhouse/client'
import { Command } from 'commander'
import { ReadOnlyQueries, type QueryRequest } from '../clickhouse/read-only-queries.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'

interface QueryOptions extends CommonOptions {
  json?: boolean
  write?: boolean
}

export function queryCommand(): Command {
  return withCommonOptions(new Command('query'))
    .description('run SQL against the store (tables: events, rejected_input, credential_reports, …)')
    .argument('<sql>', 'the SQL to run, e.g. "SELECT event_name, count() FROM events GROUP BY 1"')
    .option('--json', 'one JSON object per row per line')
    .option('--write', 'allow statements that change the store (INSERT, ALTER, DROP, …); read-only otherwise')
    .addHelpText(
      'after',
      `
Without --write a query may only read: one SELECT, SHOW, DESCRIBE, EXISTS or EXPLAIN as the
engine's own parser reads it, on a fresh session the engine holds read-only; no file(), INTO
OUTFILE or outside table functions, within TRAILWATCH_QUERY_MAX_SECONDS, _MAX_MEMORY_BYTES and
_MAX_RESULT_BYTES (SECURITY.md says where the boundary is).`,
    )
    .action(async (sql: string, options: QueryOptions) => {
      // isTTY is undefined, not false, when stdout is a pipe.
      const request: QueryRequest = { sql, json: Boolean(options.json), color: (process.stdout.isTTY as boolean | undefined) === true }
      await withContext(options, async ({ store, config }) => {
        if (options.write) {
          const result = await store.client.exec({ query: sql, clickhouse_settings: { default_format: (request.json ? 'JSONEachRow' : 'PrettyCompactMonoBlock') as DataFormat } })
          for await (const chunk of result.stream as AsyncIterable<Buffer>) process.stdout.write(chunk)
          return
        }
        const queries = new ReadOnlyQueries(store, config.queries)
        try {
          process.stdout.write(await queries.run(request))
        } finally {
          await queries.close()
        }
      })
    })
}
