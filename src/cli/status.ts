import { Command } from 'commander'
import type { Store } from '../clickhouse/client.js'
import { loadConfig } from '../config.js'
import { StoreLockedError } from '../errors.js'
import { collectStatus, Status, statusText } from '../status.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { askRunningProcess } from './running.js'

/** The status from the process that holds the embedded store, over its local HTTP endpoint. */
async function statusFromRunningProcess(dataDir: string, locked: StoreLockedError): Promise<Status> {
  return Status.parse(await (await askRunningProcess(dataDir, locked, '/status')).json())
}

/** `skippedRules` names the rule files that cannot run, where and why (the rules live above this floor). */
export function statusCommand(skippedRules: (store: Store, rulesDir: string | undefined) => Promise<string[]>): Command {
  return withCommonOptions(new Command('status'))
    .description('for a person: last event per account and region, quiet sources, detector progress, pending alerts')
    .option('--json', 'one JSON object')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      let status: Status
      try {
        status = await withContext(options, async ({ store, config }) => {
          return collectStatus(store, new Date(), await skippedRules(store, config.rulesDir))
        })
      } catch (err) {
        if (!(err instanceof StoreLockedError)) throw err
        status = await statusFromRunningProcess(loadConfig(undefined, { dataDir: options.dataDir }).dataDir, err)
      }
      process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : statusText(status))
    })
}
