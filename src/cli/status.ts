import { Command } from 'commander'
import type { Store } from '../clickhouse/client.js'
import { collectStatus, statusText } from '../status.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'

/** `skippedRules` names the rule files that cannot run, where and why (the rules live above this floor). */
export function statusCommand(skippedRules: (store: Store, rulesDir: string | undefined) => Promise<string[]>): Command {
  return withCommonOptions(new Command('status'))
    .description('for a person: last event per account and region, quiet sources, detector progress, pending alerts')
    .option('--json', 'one JSON object')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const status = await withContext(options, async ({ store, config }) => collectStatus(store, new Date(), await skippedRules(store, config.rulesDir)))
      process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : statusText(status))
    })
}
