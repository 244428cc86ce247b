import { Command } from 'commander'
import { loadConfig } from '../config.js'
import { StoreLockedError } from '../errors.js'
import { collectStatus, Status, statusText } from '../status.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { askRunningProcess } from './running.js'

/** The status from the process that holds the embedded store, over its local HTTP endpoint. */
async function statusFromRunningProcess(dataDir: string, locked: StoreLockedError): Promise<Status> {
  return Status.parse(await (await askRunningProcess(dataDir, locked, '/status')).json())
}

export function statusCommand(): Command {
  return withCommonOptions(new Command('status'))
    .description('for a person: last event per account and region, quiet sources, detector progress, pending alerts')
    .option('--json', 'one JSON object')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      let status: Status
      try {
        status = await withContext(options, ({ store }) => collectStatus(store, new Date()))
      } catch (err) {
        if (!(err instanceof StoreLockedError)) throw err
        status = await statusFromRunningProcess(loadConfig(undefined, { dataDir: options.dataDir }).dataDir, err)
      }
      process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : statusText(status))
    })
}
