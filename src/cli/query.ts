import type { DataFormat } from '@clickhouse/client'
import { Command } from 'commander'
import type { Store } from '../clickhouse/client.js'
import { loadConfig } from '../config.js'
import { AppError, errorMessage, StoreLockedError } from '../errors.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { runningProcessUrl } from './running.js'

interface QueryOptions extends CommonOptions {
  json?: boolean
}

export interface QueryRequest {
  sql: string
  json: boolean
  color: boolean
}

/** The result as the engine formats it: a table for people, or one JSON object per row per line. */
export async function queryOutput(store: Store, request: QueryRequest): Promise<AsyncIterable<Buffer>> {
  const result = await store.client.exec({
    query: request.sql,
    clickhouse_settings: {
      // Used only when the SQL has no FORMAT clause of its own. The client's type lists only the
      // formats it can parse itself; the server and the engine accept every output format.
      default_format: (request.json ? 'JSONEachRow' : 'PrettyCompactMonoBlock') as DataFormat,
      output_format_pretty_color: request.color ? 1 : 0,
      // ARNs read better as arn:aws:iam::1:user/alice than with every slash escaped.
      output_format_json_escape_forward_slashes: 0,
    },
  })
  return result.stream as AsyncIterable<Buffer>
}

/** The same query, run by the `trailwatch run` that holds the embedded store. */
async function queryRunningProcess(dataDir: string, locked: StoreLockedError, request: QueryRequest): Promise<void> {
  const url = await runningProcessUrl(dataDir, locked)
  let response: Response
  try {
    response = await fetch(`${url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
  } catch (err) {
    throw new AppError('QUERY', `${locked.message}; asking it at ${url}/query failed: ${errorMessage(err)}`)
  }
  if (!response.ok) throw new AppError('QUERY', (await response.text()).trim())
  for await (const chunk of response.body ?? []) process.stdout.write(chunk as Uint8Array)
}

export function queryCommand(): Command {
  return withCommonOptions(new Command('query'))
    .description('run SQL against the store (tables: events, rejected_input, credential_reports, …)')
    .argument('<sql>', 'the SQL to run, e.g. "SELECT event_name, count() FROM events GROUP BY 1"')
    .option('--json', 'one JSON object per row per line')
    .addHelpText('after', '\nWhile `trailwatch run` holds the embedded store, the query is sent to it.')
    .action(async (sql: string, options: QueryOptions) => {
      // isTTY is undefined, not false, when stdout is a pipe.
      const request = { sql, json: Boolean(options.json), color: (process.stdout.isTTY as boolean | undefined) === true }
      try {
        await withContext(options, async ({ store }) => {
          for await (const chunk of await queryOutput(store, request)) process.stdout.write(chunk)
        })
      } catch (err) {
        if (!(err instanceof StoreLockedError)) throw err
        await queryRunningProcess(loadConfig(undefined, { dataDir: options.dataDir }).dataDir, err, request)
      }
    })
}
