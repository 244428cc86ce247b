import { Command, Option } from 'commander'
import { CONTAIN_ACTIONS, type ContainAction } from './changes.js'
import { applyContainment, approveContainment, listContainments, planContainment, requestContainment, undoContainment, type Containment, type ContainmentOutcome, type ContainSettings, type ContainTarget } from './contain.js'
import { plural, textLine } from '../text.js'
import { utcText } from '../time.js'
import { withCommonOptions, withContext, type CommonOptions, type Context } from '../cli/context.js'
import { collect } from '../cli/options.js'

interface ContainOptions extends CommonOptions {
  action?: ContainAction[]
  policy?: string
  apply?: boolean
  reason?: string
  by?: string
  incident?: string
}

function settingsOf({ config }: Context): ContainSettings {
  return config.contain
}

function who(options: { by?: string | undefined }): string {
  return options.by ?? process.env.USER ?? 'unknown'
}

/** Steps as a numbered list for a terminal: they name IAM's identities, so control characters are made visible. */
function printSteps(steps: string[]): void {
  for (const [i, step] of steps.entries()) console.log(textLine(`  ${String(i + 1)}. ${step}`))
}

function printOutcome(outcome: ContainmentOutcome): void {
  console.log(textLine(`${outcome.id}: contained ${outcome.identity.arn}`))
  printSteps(outcome.steps.map(({ step, status }) => `${step}: ${status}`))
  console.log(`undo: trailwatch contain undo ${outcome.id} --reason …`)
}

/** Without --apply, what would change; with it, the change made, step by step, and how to undo it. */
async function contain(target: ContainTarget, options: ContainOptions): Promise<void> {
  await withContext(options, async (context) => {
    const request = { target, actions: options.action, policyArn: options.policy, actor: who(options), reason: options.reason ?? '', incident: options.incident }
    const now = new Date()
    if (!options.apply) {
      const plan = await planContainment(context.store, settingsOf(context), request, now)
      console.log(textLine(`dry run, nothing changed: with --apply, ${plan.identity.arn}:`))
      printSteps(plan.steps)
      return
    }
    if (settingsOf(context).approvers.length) {
      const { id, plan } = await requestContainment(context.store, settingsOf(context), request, now)
      console.log(textLine(`${id}: waits for another approver (TRAILWATCH_CONTAIN_APPROVERS) before it changes ${plan.identity.arn}:`))
      printSteps(plan.steps)
      console.log(`approve: trailwatch contain approve ${id} --by NAME`)
      return
    }
    printOutcome(await applyContainment(context.store, settingsOf(context), request, now))
  })
}

function containmentText(c: Containment): string {
  return [
    `${c.id}  ${utcText(c.at)}  ${c.actor}  ${c.target}${c.incident ? `  (incident ${c.incident})` : ''}`,
    `  why: ${c.reason}`,
    ...c.steps.map((s) => `  ${String(s.step)}. ${s.action}: ${s.status}${s.error ? ` (${s.error})` : ''}`),
  ]
    .map(textLine)
    .join('\n')
}

export function containCommand(): Command {
  const actionOption = () => new Option('--action <action>', 'what to do, repeatable (default: deactivate-key for a key, revoke-sessions for a session)').choices(CONTAIN_ACTIONS).argParser((value: string, previous: string[] | undefined) => collect(value, previous))
  const target = (name: string, argument: string, description: string, make: (value: string) => ContainTarget): Command =>
    withCommonOptions(new Command(name))
      .description(description)
      .argument(argument)
      .addOption(actionOption())
      .option('--policy <arn>', 'with --action detach-policy: the managed policy to detach')
      .option('--apply', 'make the changes (without it, a dry run: print them, change nothing)')
      .option('--reason <text>', 'why: kept with every change (needed with --apply)')
      .option('--by <name>', 'who (default: $USER)')
      .option('--incident <id>', 'the incident this answers')
      .action((value: string, options: ContainOptions) => contain(make(value), options))
  const list = withCommonOptions(new Command('list'))
    .description('every containment, newest first: who, why, each step and what became of it')
    .option('--json', 'one JSON object per containment per line, with its whole log')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      await withContext(options, async ({ store }) => {
        const all = await listContainments(store)
        for (const c of all) console.log(options.json ? JSON.stringify(c) : containmentText(c))
        if (!options.json) console.log(plural(all.length, 'containment'))
      })
    })
  const approve = withCommonOptions(new Command('approve'))
    .description('approve a containment another person asked for, and apply it')
    .argument('<id>')
    .option('--by <name>', 'who approves: one of TRAILWATCH_CONTAIN_APPROVERS (default: $USER)')
    .action(async (id: string, options: CommonOptions & { by?: string }) => {
      await withContext(options, async (context) => {
        printOutcome(await approveContainment(context.store, settingsOf(context), id, who(options), new Date()))
      })
    })
  const undo = withCommonOptions(new Command('undo'))
    .description('put back what a containment changed, from the state kept before each step')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why: kept with the undo')
    .option('--by <name>', 'who (default: $USER)')
    .action(async (id: string, options: CommonOptions & { reason: string; by?: string }) => {
      await withContext(options, async (context) => {
        console.log(containmentText(await undoContainment(context.store, settingsOf(context), id, who(options), options.reason, new Date())))
      })
    })
  return new Command('contain')
    .description('stop a leaked key or a hijacked session: a dry run unless --apply, every change kept and undoable')
    .addCommand(target('key', '<key-id>', 'an access key: deactivate it (or --action quarantine its user)', (key) => ({ type: 'key', key })))
    .addCommand(target('principal', '<arn>', 'a user or role: --action revoke-sessions, quarantine, remove-password, detach-policy', (arn) => ({ type: 'principal', arn })))
    .addCommand(target('session', '<arn>', 'an assumed-role session: revoke its role’s sessions issued before now', (arn) => ({ type: 'session', arn })))
    .addCommand(list)
    .addCommand(approve)
    .addCommand(undo)
}
