import { Command, InvalidArgumentError, Option } from 'commander'
import { withCommonOptions, withContext, type CommonOptions, type Context } from '../cli/context.js'
import { collect, parseExpiry, parseInstant, untilStopSignal } from '../cli/options.js'
import { serveOps } from '../cli/ops.js'
import { AppError } from '../errors.js'
import { closestNames } from '../text.js'
import type { CycleSummary } from './alerter.js'
import type { Delivery } from './mailer.js'
import { notificationsWithStatus, recordStates, STATUSES, type Notification, type NotificationStatus } from './notifications.js'
import { openAlerter, startAlerting, type AlongsideAlerter } from './service.js'
import { addSuppression, listSuppressions, removeSuppression, type SuppressionRule } from './suppressions.js'

function deliveryLine(notification: Notification, delivery: Delivery): string {
  return `sent ${notification.kind} to ${notification.recipient} (${delivery.response}): ${notification.subject}`
}

function summaryLine(summary: CycleSummary): string {
  const next = summary.retrying.map((n) => n.next_attempt_at).sort()[0]
  return [
    `alerts: ${String(summary.immediate)} emailed at once, ${String(summary.digest)} held for a digest, ${String(summary.suppressed)} suppressed, ${String(summary.unrouted)} below every route`,
    `messages: ${String(summary.sent.length)} sent, ${String(summary.retrying.length)} to retry${next ? ` (next at ${next})` : ''}, ${String(summary.failed.length)} failed${summary.failed.length ? ' (trailwatch notifications list --status failed)' : ''}`,
  ].join('\n')
}

interface AlertOptions extends CommonOptions {
  once?: boolean
  at?: number
}

/** `alongside`: what the running alerter also drives (the credential report, wired in by the root). */
export function alertCommand(alongside: AlongsideAlerter[]): Command {
  return withCommonOptions(new Command('alert'))
    .description('email new alerts and due digests, and the credential-age report on its schedule; until SIGINT or SIGTERM, or once with --once')
    .option('--once', 'send every pending alert and due digest, then exit')
    .option('--at <time>', 'with --once: the time to judge dedup windows and retries by (ISO 8601; default: now)', parseInstant)
    .action(async (options: AlertOptions) => {
      await withContext(options, async (context) => {
        if (options.once) {
          const { alerter, transport } = openAlerter(context, (n, d) => {
            console.log(deliveryLine(n, d))
          })
          try {
            console.log(summaryLine(await alerter.runOnce(new Date(options.at ?? Date.now()))))
          } finally {
            transport.close()
          }
          return
        }
        const service = startAlerting(context, alongside)
        const ops = await serveOps(context)
        await untilStopSignal()
        await service.stop()
        await ops.close()
      }, { service: !options.once })
    })
}

function ruleLine(rule: SuppressionRule): string {
  const matches = [rule.detector && `detector=${rule.detector}`, rule.principal && `principal=${rule.principal}`, rule.cidr && `cidr=${rule.cidr}`, rule.account && `account=${rule.account}`].filter(Boolean).join(' ')
  const state = rule.removed_at ? `removed ${rule.removed_at} by ${rule.removed_by}` : `expires ${rule.expires_at}`
  return `${rule.rule_id}  ${matches}  owner=${rule.owner}  ${state}\n  reason: ${rule.reason}`
}

/**
 * `detectorIds` names every detector and rule there is (they live above this floor), so a rule for
 * a detector that does not exist, which would never match, is refused with the closest names.
 */
export function suppressCommand(detectorIds: (context: Context) => Promise<string[]>): Command {
  const add = withCommonOptions(new Command('add'))
    .description('silence matching alerts until the rule expires; every field given must match')
    .option('--detector <id>', 'only alerts of this detector')
    .option('--principal <arn>', 'only alerts about this principal (`*` matches anything)')
    .option('--cidr <block>', 'only alerts whose addresses all fall in this address or CIDR block')
    .option('--account <id>', 'only alerts in this account')
    .requiredOption('--owner <name>', 'who answers for this rule')
    .requiredOption('--reason <text>', 'why these alerts are expected')
    .requiredOption('--expires <when>', 'a duration (7d, 12h) or an ISO 8601 time, at most a year away', parseExpiry)
    .action(async (options: CommonOptions & { detector?: string; principal?: string; cidr?: string; account?: string; owner: string; reason: string; expires: Date }) => {
      await withContext(options, async (context) => {
        if (options.detector !== undefined) {
          const known = await detectorIds(context)
          if (!known.includes(options.detector)) {
            const near = closestNames(options.detector, known)
            throw new AppError('USAGE', `no detector ${options.detector}${near.length ? `; did you mean ${near.join(', ')}?` : '; trailwatch rules list and the README name them'}`)
          }
        }
        const rule = await addSuppression(context.store, { ...options, expiresAt: options.expires }, new Date())
        console.log(`added ${ruleLine(rule)}`)
      })
    })
  const list = withCommonOptions(new Command('list'))
    .description('the rules in force (with --all, expired and removed ones too)')
    .option('--all', 'include expired and removed rules')
    .option('--json', 'one JSON object per rule per line')
    .action(async (options: CommonOptions & { all?: boolean; json?: boolean }) => {
      await withContext(options, async ({ store }) => {
        const rules = await listSuppressions(store, options.all ? undefined : new Date())
        for (const rule of rules) console.log(options.json ? JSON.stringify(rule) : ruleLine(rule))
        if (!options.json) console.log(`${String(rules.length)} rules`)
      })
    })
  const remove = withCommonOptions(new Command('remove'))
    .description('end a rule now; it stays listed with --all')
    .argument('<rule-id>')
    .requiredOption('--by <name>', 'who removes it')
    .action(async (ruleId: string, options: CommonOptions & { by: string }) => {
      await withContext(options, async ({ store }) => {
        console.log(`removed ${ruleLine(await removeSuppression(store, ruleId, options.by, new Date()))}`)
      })
    })
  return new Command('suppress').description('manage suppression rules: who silenced what, why, and until when').addCommand(add).addCommand(list).addCommand(remove)
}

function notificationLine(n: Notification): string {
  return `${n.notification_id}  ${n.status.padEnd(8)} ${n.kind.padEnd(6)} attempts=${String(n.attempts)}  to ${n.recipient}  ${n.created_at}\n  ${n.subject}${n.error ? `\n  error: ${n.error}` : ''}`
}

function parseStatus(value: string, previous: string[] | undefined): string[] {
  if (!(STATUSES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${STATUSES.join(', ')}`)
  return collect(value, previous)
}

export function notificationsCommand(): Command {
  const list = withCommonOptions(new Command('list'))
    .description('the notifications log: every message, its recipient, attempts and last error')
    .addOption(new Option('--status <status>', `only these states, repeatable (${STATUSES.join(', ')}; default: all but sent)`).argParser(parseStatus))
    .option('--json', 'one JSON object per notification per line')
    .action(async (options: CommonOptions & { status?: NotificationStatus[]; json?: boolean }) => {
      await withContext(options, async ({ store }) => {
        const rows = await notificationsWithStatus(store, options.status ?? ['pending', 'sending', 'retrying', 'failed'])
        for (const row of rows) console.log(options.json ? JSON.stringify(row) : notificationLine(row))
        if (!options.json) console.log(`${String(rows.length)} notifications`)
      })
    })
  const retry = withCommonOptions(new Command('retry'))
    .description('send failed notifications again on the next alerter cycle (after fixing what made them fail)')
    .argument('<id...>', 'notification ids, as `notifications list` shows them')
    .action(async (ids: string[], options: CommonOptions) => {
      await withContext(options, async ({ store }) => {
        const failed = new Map((await notificationsWithStatus(store, ['failed'])).map((n) => [n.notification_id, n]))
        const unknown = ids.filter((id) => !failed.has(id))
        if (unknown.length) throw new AppError('NOT_FAILED', `not failed notifications: ${unknown.join(', ')}`)
        const now = new Date().toISOString()
        await recordStates(store, ids.map((id) => {
          const n = failed.get(id) as Notification
          return { ...n, status: 'pending' as const, next_attempt_at: now, updated_at: now, version: n.version + 1 }
        }))
        console.log(`${String(ids.length)} notifications queued again`)
      })
    })
  return new Command('notifications').description('the delivery log of alert, digest and report emails').addCommand(list).addCommand(retry)
}
