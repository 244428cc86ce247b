import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { AppError } from '../errors.js'
import { plural, textLine } from '../alerting/format.js'
import { suggestPolicy, usedActions } from './least-privilege.js'
import { permissionUsage, principalFromSnapshot, type PermissionUsage } from './usage.js'

const DAY = 86_400_000

interface SuggestOptions extends CommonOptions {
  days: string
  at?: number
}

function daysOption(text: string): number {
  const days = Number(text)
  if (!Number.isInteger(days) || days < 1 || days > 400) throw new AppError('USAGE', '--days is a whole number of days, 1 to 400')
  return days
}

function principalArgument(principal: string): void {
  if (!/^arn:aws[\w-]*:(iam|sts)::\d{12}:/.test(principal)) throw new AppError('USAGE', `${principal} is not a principal ARN such as arn:aws:iam::111122223333:user/alice`)
}

/** Granted against used, for a person: each statement with what of it was used, then what never was. */
function usageText(usage: PermissionUsage, days: number): string {
  const services = [...new Set(usage.used.map((u) => u.action.split(':')[0]))]
  const unused = usage.statements.filter((s) => s.used.length === 0)
  return [
    `${usage.principal} (${usage.kind}), IAM snapshot of ${usage.snapshot}`,
    `  may do everything: ${usage.administrator ? 'yes' : 'no'}`,
    `  used in ${String(days)} days: ${plural(usage.used.length, 'action')} of ${plural(services.length, 'service')}${services.length ? ` (${services.join(', ')})` : ''}`,
    ...(usage.unresolved.length ? [`  policies the snapshot lacks, so not judged: ${usage.unresolved.join(', ')}`] : []),
    '',
    'GRANTED, AND WHAT OF IT WAS USED',
    ...usage.statements.map((s) => `  ${s.statement}  ${s.grants.join(', ')}  →  ${s.used.length ? plural(s.used.length, 'action') : 'never used'}`),
    '',
    'NEVER USED',
    ...(unused.length ? unused.map((s) => `  statement ${s.statement}: ${s.grants.join(', ')}`) : ['  every statement was used']),
    ...(usage.unusedServices.length ? [`  services granted and never called: ${usage.unusedServices.join(', ')}`] : []),
    '',
    `A policy of what was used: trailwatch suggest-policy ${usage.principal} --days ${String(days)}`,
    '',
  ]
    .map(textLine)
    .join('\n')
}

/** `trailwatch permissions ARN`: what the latest IAM snapshot grants against what CloudTrail shows used. */
export function permissionsCommand(): Command {
  return withCommonOptions(new Command('permissions'))
    .description('what a user or role is granted (the latest IAM snapshot) against what it called (CloudTrail): each statement with what of it was used, and what never was')
    .argument('<principal>', 'the user or role ARN')
    .option('--days <n>', 'how many days of CloudTrail count as use', '90')
    .option('--at <time>', 'the end of those days, and the snapshot in force then (ISO 8601; default: now)', parseInstant)
    .option('--json', 'one JSON object')
    .action(async (principal: string, options: SuggestOptions & { json?: boolean }) => {
      const days = daysOption(options.days)
      principalArgument(principal)
      await withContext(options, async ({ store }) => {
        const to = new Date(options.at ?? Date.now())
        const { principal: holder, snapshot } = await principalFromSnapshot(store, principal, to)
        const usage = permissionUsage(holder, snapshot, await usedActions(store, principal, { from: new Date(to.getTime() - days * DAY), to }))
        process.stdout.write(options.json ? `${JSON.stringify(usage)}\n` : usageText(usage, days))
      })
    })
}

/** `trailwatch suggest-policy ARN`: the policy on standard output, what it is made of on standard error. */
export function suggestPolicyCommand(): Command {
  return withCommonOptions(new Command('suggest-policy'))
    .description('write a least-privilege identity policy from what a principal called in CloudTrail (JSON on standard output)')
    .argument('<principal>', 'the principal ARN (a user, or a role: every session of it)')
    .option('--days <n>', 'how many days of CloudTrail to learn from', '90')
    .option('--at <time>', 'the end of those days (ISO 8601; default: now)', parseInstant)
    .action(async (principal: string, options: SuggestOptions) => {
      const days = daysOption(options.days)
      principalArgument(principal)
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
