import { setTimeout as sleep } from 'node:timers/promises'
import { Command, InvalidArgumentError } from 'commander'
import { AppError, errorMessage } from '../errors.js'
import { withCommonOptions, withContext, type CommonOptions, type Context } from './context.js'

function seconds(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds')
  return n
}

/** Opens the store, retrying for up to `waitSeconds` while the server (or its cluster) is not up yet. */
async function withStoreWhenUp<T>(options: CommonOptions, waitSeconds: number, body: (context: Context) => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitSeconds * 1000
  for (;;) {
    try {
      return await withContext(options, body, { repair: true })
    } catch (err) {
      const retriable = !(err instanceof AppError) || err.retriable
      if (!retriable || Date.now() >= deadline) throw err
      process.stderr.write(`trailwatch: store not ready (${errorMessage(err).split('\n')[0] ?? ''}); trying again\n`)
      await sleep(2000)
    }
  }
}

export function migrateCommand(): Command {
  return withCommonOptions(new Command('migrate'))
    .description('bring the store schema up to date (every command also does this on start)')
    .option('--json', 'print the result as one JSON object')
    .option('--wait <seconds>', 'keep trying this long while the server is starting (containers start in any order)', seconds, 0)
    .action(async (options: CommonOptions & { json?: boolean; wait: number }) => {
      await withStoreWhenUp(options, options.wait, ({ store, migration }) => {
        if (options.json) {
          console.log(JSON.stringify({ store: store.location, ...migration }))
        } else {
          for (const step of migration.applied) console.log(`applied ${step.version}: ${step.name}`)
          if (migration.repaired.length > 0) console.log(`made again, empty (they had been dropped): ${migration.repaired.join(', ')}`)
          console.log(`store ${store.location}: schema version ${migration.to}`)
        }
        return Promise.resolve()
      })
    })
}
