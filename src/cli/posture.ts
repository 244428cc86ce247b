import { Command, Option } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'
import { parseExpiry } from './options.js'
import { alertHeadline } from '../alerts/table.js'
import { plural, textLine } from '../text.js'
import { utcText } from '../time.js'
import { decidePosture, postureFinding, postureFindings, postureHistory, POSTURE_STATES, type PostureFinding, type PostureState } from '../alerts/posture.js'

/** One line for a terminal: titles come from IAM and CloudTrail, so their control characters are made visible. */
function postureLine(finding: PostureFinding): string {
  const { alert, state, decision } = finding
  const note = state === 'accepted' && decision ? ` until ${utcText(decision.until ?? '')} (${decision.actor})` : ''
  return textLine(`${alert.alert_id}  ${alert.severity.padEnd(8)} ${`${state}${note}`.padEnd(10)} ${alertHeadline(alert)}`)
}

function postureJson(finding: PostureFinding): Record<string, unknown> {
  const { alert, state, decision, checkedAt } = finding
  return { id: alert.alert_id, state, severity: alert.severity, check: alert.detector, principal: alert.principal, account: alert.account, title: alert.title, since: alert.first_seen, last_found: alert.detected_at, checked_at: checkedAt || null, decision: decision ?? null }
}

interface ListOptions extends CommonOptions {
  state?: PostureState | 'all'
  json?: boolean
}

interface DecideOptions extends CommonOptions {
  reason: string
  by?: string
}

export function postureCommand(): Command {
  const list = withCommonOptions(new Command('list'))
    .description('posture findings, worst first: open ones unless --state says otherwise')
    .addOption(new Option('--state <state>', 'open, accepted, fixed or all').choices([...POSTURE_STATES, 'all']).default('open'))
    .option('--json', 'one JSON object per finding per line')
    .action(async (options: ListOptions) => {
      await withContext(options, async ({ store }) => {
        const findings = (await postureFindings(store, new Date())).filter((f) => options.state === 'all' || f.state === options.state)
        for (const finding of findings) console.log(options.json ? JSON.stringify(postureJson(finding)) : postureLine(finding))
        if (!options.json) console.log(plural(findings.length, `${options.state === 'all' ? '' : `${String(options.state)} `}posture finding`))
      })
    })
  const show = withCommonOptions(new Command('show'))
    .description('one finding: why it matters, how to fix it, what the check saw, and every decision on it')
    .argument('<id>')
    .option('--json', 'one JSON object, with the evidence and the decisions')
    .action(async (id: string, options: CommonOptions & { json?: boolean }) => {
      await withContext(options, async ({ store }) => {
        const [finding, history] = await Promise.all([postureFinding(store, id, new Date()), postureHistory(store, id)])
        if (options.json) {
          console.log(JSON.stringify({ ...postureJson(finding), why: finding.alert.why, runbook: finding.alert.runbook, evidence: finding.alert.evidence, decisions: history }))
          return
        }
        const lines = [
          postureLine(finding),
          `  who: ${finding.alert.principal} (account ${finding.alert.account})`,
          `  since ${utcText(finding.alert.first_seen)}, last found ${utcText(finding.alert.detected_at)}${finding.checkedAt ? `, last check ${utcText(finding.checkedAt)}` : ''}`,
          `  why: ${finding.alert.why}`,
          ...finding.alert.runbook.map((line) => `  fix: ${line}`),
          ...history.map((d) => `  ${utcText(d.at)}  ${d.action} by ${d.actor}${d.until ? ` until ${utcText(d.until)}` : ''}: ${d.reason}`),
        ]
        console.log(lines.map(textLine).join('\n'))
      })
    })
  const accept = withCommonOptions(new Command('accept'))
    .description('accept a finding’s risk until a time, saying why: nobody is told of it until then')
    .argument('<id>')
    .requiredOption('--until <when>', 'a duration (30d) or an ISO 8601 time, at most a year away', parseExpiry)
    .requiredOption('--reason <text>', 'why it may stay: kept with the decision')
    .option('--by <name>', 'who (default: $USER)')
    .action(async (id: string, options: DecideOptions & { until: Date }) => {
      await withContext(options, async ({ store }) => {
        console.log(postureLine(await decidePosture(store, id, { action: 'accepted', actor: options.by ?? process.env.USER ?? 'unknown', reason: options.reason, until: options.until }, new Date())))
      })
    })
  const reopen = withCommonOptions(new Command('reopen'))
    .description('take an acceptance back: the finding is open again')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why: kept with the decision')
    .option('--by <name>', 'who (default: $USER)')
    .action(async (id: string, options: DecideOptions) => {
      await withContext(options, async ({ store }) => {
        console.log(postureLine(await decidePosture(store, id, { action: 'reopened', actor: options.by ?? process.env.USER ?? 'unknown', reason: options.reason }, new Date())))
      })
    })
  return new Command('posture')
    .description('stale keys, credential hygiene and IAM posture, apart from incidents: list, show, accept, reopen')
    .addCommand(list)
    .addCommand(show)
    .addCommand(accept)
    .addCommand(reopen)
}
