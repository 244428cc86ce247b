import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { AppError } from '../errors.js'
import { plural, textLine } from '../alerting/format.js'
import { suggestPolicy, usedActions } from './least-privilege.js'

const DAY = 86_400_000

interface SuggestOptions extends CommonOptions {
  days: string
  at?: number
}

/** `trailwatch suggest-policy ARN`: the policy on standard output, what it is made of on standard error. */
export function suggestPolicyCommand(): Command {
  return withCommonOptions(new Command('suggest-policy'))
    .description('write a least-privilege identity policy from what a principal called in CloudTrail (JSON on standard output)')
    .argument('<principal>', 'the principal ARN (a user, or a role: every session of it)')
    .option('--days <n>', 'how many days of CloudTrail to learn from', '90')
    .option('--at <time>', 'the end of those days (ISO 8601; default: now)', parseInstant)
    .action(async (principal: string, options: SuggestOptions) => {
      const days = Number(options.days)
      if (!Number.isInteger(days) || days < 1 || days > 400) throw new AppError('USAGE', '--days is a whole number of days, 1 to 400')
      if (!/^arn:aws[\w-]*:(iam|sts)::\d{12}:/.test(principal)) throw new AppError('USAGE', `${principal} is not a principal ARN such as arn:aws:iam::111122223333:user/alice`)
      await withContext(options, async ({ store }) => {
        const to = new Date(options.at ?? Date.now())
        const from = new Date(to.getTime() - days * DAY)
        const used = await usedActions(store, principal, { from, to })
        if (used.length === 0) throw new AppError('NOT_FOUND', `${principal} made no call trailwatch stored between ${from.toISOString()} and ${to.toISOString()}: nothing to grant`)
        console.log(JSON.stringify(suggestPolicy(used), null, 2))
        const calls = used.reduce((sum, u) => sum + u.calls, 0)
        const narrowed = used.filter((u) => u.without_resources === 0 && u.resources.length > 0).length
        process.stderr.write(
          `${textLine(principal)}: ${plural(used.length, 'action')} of ${plural(new Set(used.map((u) => u.action.split(':')[0])).size, 'service')} from ${plural(calls, 'call')}, ${from.toISOString()} → ${to.toISOString()}; ${String(narrowed)} narrowed to the resources their calls named\n`,
        )
      })
    })
}
