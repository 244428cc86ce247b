import { Command } from 'commander'
import { loadConfig } from '../config.js'
import { AppError, errorMessage, StoreLockedError } from '../errors.js'
import { collectStatus, statusText, type Status } from '../status.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { runningProcessUrl } from './running.js'

/** The status from the process that holds the embedded store, over its local HTTP endpoint. */
async function statusFromRunningProcess(dataDir: string, locked: StoreLockedError): Promise<Status> {
  const url = await runningProcessUrl(dataDir, locked)
  try {
    const response = await fetch(`${url}/status`)
    if (!response.ok) throw new Error(`HTTP ${String(response.status)}`)
    return (await response.json()) as Status
  } catch (err) {
    throw new AppError('STATUS', `${locked.message}; asking it at ${url}/status failed: ${errorMessage(err)}`)
  }
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
