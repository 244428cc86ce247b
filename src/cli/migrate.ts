import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'

export function migrateCommand(): Command {
  return withCommonOptions(new Command('migrate'))
    .description('bring the store schema up to date (every command also does this on start)')
    .option('--json', 'print the result as one JSON object')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      await withContext(options, ({ store, migration }) => {
        if (options.json) {
          console.log(JSON.stringify({ store: store.location, ...migration }))
        } else {
          for (const step of migration.applied) console.log(`applied ${step.version}: ${step.name}`)
          console.log(`store ${store.location}: schema version ${migration.to}`)
        }
        return Promise.resolve()
      })
    })
}
