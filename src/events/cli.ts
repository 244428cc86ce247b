import { Command, InvalidArgumentError } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { textLine } from '../text.js'
import { utcText } from '../time.js'
import { searchEvents, type EventFilter, type FoundEvent } from './search.js'

const MAX_LIMIT = 10_000

interface EventsOptions extends CommonOptions, Omit<EventFilter, 'address'> {
  ip?: string
  from?: number
  to?: number
  beforeEvent?: string
  limit: number
  json?: boolean
}

function parseLimit(value: string): number {
  const limit = Number(value)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new InvalidArgumentError(`expected a whole number from 1 to ${String(MAX_LIMIT)}, got "${value}"`)
  return limit
}

/** One line for a terminal: every field comes from CloudTrail, so control characters are made visible. */
function eventLine(e: FoundEvent): string {
  const where = [e.country, ...e.lists].filter(Boolean).join(', ')
  const from = e.address ? `${e.address}${where ? ` (${where})` : ''}` : '—'
  return textLine(`${utcText(e.time)}  ${e.event}  ${e.principal}${e.session ? ` session ${e.session}` : ''}  ${e.key || '—'}  ${from}  ${e.account} ${e.region}  ${e.error || 'ok'}`)
}

/** `trailwatch events`: the console's event search from a shell, newest first. */
export function eventsCommand(): Command {
  return withCommonOptions(new Command('events'))
    .description('search the stored events by principal, key, session, address, call, error, resource, account and time, newest first')
    .option('--principal <arn>', 'the principal ARN, exactly')
    .option('--key <id>', 'an access key id')
    .option('--session <name>', 'a role session name')
    .option('--ip <address>', 'a source address (or the AWS service that called)')
    .option('--event <name>', 'an API call, e.g. DeleteTrail')
    .option('--error <code>', 'an error code, or "any" for every failed call')
    .option('--resource <text>', 'an ARN or a name found anywhere in the record')
    .option('--account <id>', 'the account the call was made in')
    .option('--list <name>', 'calls from an address on this named list: tor-exit, or one of TRAILWATCH_ADDRESS_LISTS')
    .option('--from <time>', 'start (ISO 8601; default: the oldest stored)', parseInstant)
    .option('--to <time>', 'end, exclusive (ISO 8601; default: now)', parseInstant)
    .option('--before-event <id>', 'with --to: the page goes on after this event of that same time, as the last page said')
    .option('--limit <n>', `events to print, at most ${String(MAX_LIMIT)}`, parseLimit, 100)
    .option('--json', 'one JSON object per event per line')
    .action(async (options: EventsOptions) => {
      await withContext(options, async ({ store }) => {
        const filter: EventFilter = { ...options, address: options.ip }
        const found = await searchEvents(store, filter, { from: new Date(options.from ?? 0), before: new Date(options.to ?? Date.now() + 1), beforeEvent: options.to === undefined ? undefined : options.beforeEvent }, options.limit)
        for (const e of found.events) console.log(options.json ? JSON.stringify(e) : eventLine(e))
        if (options.json) return
        console.log(`${String(found.events.length)} events${found.older ? `; older ones: --to ${found.older.before} --before-event ${found.older.beforeEvent}` : ''}`)
      })
    })
}
