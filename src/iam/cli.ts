import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import type { Store } from '../clickhouse/client.js'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { AppError } from '../errors.js'
import { plural, textLine } from '../text.js'
import { accountOf, parseAuthorizationDetails } from './authorization.js'
import { suggestPolicy, usedActions } from './least-privilege.js'
import { pathsOutput } from './paths-text.js'
import { graphAt, recordReach } from './reach.js'
import { parsePasswordPolicy, storeSnapshot } from './snapshots.js'
import { permissionUsage, principalFromSnapshot, type PermissionUsage } from './usage.js'

const DAY = 86_400_000

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

interface WindowOptions extends CommonOptions {
  days: string
  at?: number
  json?: boolean
}

/** A command about one principal's CloudTrail over the `--days` before `--at`. */
function principalCommand(name: string, text: { description: string; principal: string; days: string; at: string }, run: (store: Store, principal: string, range: { from: Date; to: Date }, days: number, options: WindowOptions) => Promise<void>): Command {
  return withCommonOptions(new Command(name))
    .description(text.description)
    .argument('<principal>', text.principal)
    .option('--days <n>', text.days, '90')
    .option('--at <time>', text.at, parseInstant)
    .action(async (principal: string, options: WindowOptions) => {
      const days = Number(options.days)
      if (!Number.isInteger(days) || days < 1 || days > 400) throw new AppError('USAGE', '--days is a whole number of days, 1 to 400')
      if (!/^arn:aws[\w-]*:(iam|sts)::\d{12}:/.test(principal)) throw new AppError('USAGE', `${principal} is not a principal ARN such as arn:aws:iam::111122223333:user/alice`)
      await withContext(options, async ({ store }) => {
        const to = new Date(options.at ?? Date.now())
        await run(store, principal, { from: new Date(to.getTime() - days * DAY), to }, days, options)
      })
    })
}

/** `trailwatch permissions ARN`: what the latest IAM snapshot grants against what CloudTrail shows used. */
export function permissionsCommand(): Command {
  return principalCommand(
    'permissions',
    {
      description: 'what a user or role is granted (the latest IAM snapshot) against what it called (CloudTrail): each statement with what of it was used, and what never was',
      principal: 'the user or role ARN',
      days: 'how many days of CloudTrail count as use',
      at: 'the end of those days, and the snapshot in force then (ISO 8601; default: now)',
    },
    async (store, principal, range, days, options) => {
      const { principal: holder, snapshot } = await principalFromSnapshot(store, principal, range.to)
      const usage = permissionUsage(holder, snapshot, await usedActions(store, principal, range))
      process.stdout.write(options.json ? `${JSON.stringify(usage)}\n` : usageText(usage, days))
    },
  ).option('--json', 'one JSON object')
}

/** `trailwatch suggest-policy ARN`: the policy on standard output, what it is made of on standard error. */
export function suggestPolicyCommand(): Command {
  return principalCommand(
    'suggest-policy',
    {
      description: 'write a least-privilege identity policy from what a principal called in CloudTrail (JSON on standard output)',
      principal: 'the principal ARN (a user, or a role: every session of it)',
      days: 'how many days of CloudTrail to learn from',
      at: 'the end of those days (ISO 8601; default: now)',
    },
    async (store, principal, { from, to }) => {
      const used = await usedActions(store, principal, { from, to })
      if (used.length === 0) throw new AppError('NOT_FOUND', `${principal} made no call trailwatch stored between ${from.toISOString()} and ${to.toISOString()}: nothing to grant`)
      console.log(JSON.stringify(suggestPolicy(used), null, 2))
      const calls = used.reduce((sum, u) => sum + u.calls, 0)
      const narrowed = used.filter((u) => u.without_resources === 0 && u.resources.length > 0).length
      process.stderr.write(
        `${textLine(principal)}: ${plural(used.length, 'action')} of ${plural(new Set(used.map((u) => u.action.split(':')[0])).size, 'service')} from ${plural(calls, 'call')}, ${from.toISOString()} → ${to.toISOString()}; ${String(narrowed)} narrowed to the resources their calls named\n`,
      )
    },
  )
}

/** `trailwatch import iam FILE.json`: a snapshot as `aws iam get-account-authorization-details` writes it. */
export function importIamCommand(): Command {
  return withCommonOptions(new Command('iam'))
    .description('store a snapshot of IAM users, groups, roles and policies (the JSON of `aws iam get-account-authorization-details`), kept with its history')
    .argument('<file>', 'the JSON file')
    .option('--password-policy <file>', 'the account\'s password policy (the JSON of `aws iam get-account-password-policy`)')
    .option('--taken-at <time>', 'when the snapshot was taken (ISO 8601; default: now)', parseInstant)
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, options: CommonOptions & { passwordPolicy?: string; takenAt?: number; json?: boolean }) => {
      const text = await readFile(file, 'utf8')
      const details = parseAuthorizationDetails(text, file)
      const account = accountOf(details, file)
      const passwordPolicy = options.passwordPolicy ? parsePasswordPolicy(await readFile(options.passwordPolicy, 'utf8'), options.passwordPolicy) : undefined
      await withContext(options, async ({ store }) => {
        const now = Date.now()
        const takenAt = options.takenAt ?? now
        await storeSnapshot(store, account, takenAt, text, now, passwordPolicy)
        const reach = await recordReach(store, new Date(takenAt), new Date(now))
        const summary = {
          account,
          taken_at: new Date(takenAt).toISOString(),
          users: details.UserDetailList.length,
          groups: details.GroupDetailList.length,
          roles: details.RoleDetailList.length,
          policies: details.Policies.length,
          password_policy: passwordPolicy !== undefined,
          can_become_administrator: reach.reaching,
        }
        console.log(
          options.json
            ? JSON.stringify(summary)
            : [
                `stored the IAM snapshot of account ${account} taken at ${summary.taken_at}: ${plural(summary.users, 'user')}, ${plural(summary.groups, 'group')}, ${plural(summary.roles, 'role')}, ${plural(summary.policies, 'managed policy', 'managed policies')}${passwordPolicy ? ', the password policy' : ''}`,
                `${plural(reach.reaching, 'identity', 'identities')} of the organisation can become administrator without being one${reach.reaching ? ' (trailwatch paths)' : ''}`,
              ].join('\n'),
        )
      })
    })
}

/** `trailwatch paths [ARN] [--to admin|ARN]`: the shortest ways an identity can become another, or administrator. */
export function pathsCommand(): Command {
  return withCommonOptions(new Command('paths'))
    .description('the shortest ways identities can become administrator (or another identity), from the latest IAM snapshots: each step with its action and the statement that allows it')
    .argument('[arn]', 'the user or role to start from (default: every identity that can become administrator)')
    .option('--to <target>', '"admin" (any administrator) or a user or role ARN', 'admin')
    .option('--at <time>', 'the snapshots in force at this time (ISO 8601; default: now)', parseInstant)
    .option('--json', 'one JSON object per path: from, to, steps (each with action and via)')
    .action(async (arn: string | undefined, options: CommonOptions & { to: string; at?: number; json?: boolean }) => {
      const target = options.to === 'admin' ? undefined : options.to
      for (const given of [arn, target]) {
        if (given !== undefined && !/^arn:aws[\w-]*:iam::\d{12}:(user|role)\//.test(given)) throw new AppError('USAGE', `${given} is not a user or role ARN such as arn:aws:iam::111122223333:role/deploy`)
      }
      await withContext(options, async ({ store }) => {
        const at = new Date(options.at ?? Date.now())
        const { graph, accounts } = await graphAt(store, at, { alsoReach: target })
        if (accounts === 0) throw new AppError('NOT_FOUND', `no IAM snapshot at ${at.toISOString()}: trailwatch aws sync, or trailwatch import iam FILE.json`)
        for (const given of [arn, target]) {
          if (given !== undefined && !graph.identities.has(given)) throw new AppError('NOT_FOUND', `the latest IAM snapshots at ${at.toISOString()} have no user or role ${given}`)
        }
        process.stdout.write(pathsOutput(graph, accounts, { from: arn, to: target, json: options.json === true }))
      })
    })
}
