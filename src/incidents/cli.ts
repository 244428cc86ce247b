import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../cli/context.js'
import { parseInstant } from '../cli/options.js'
import { textLine } from '../text.js'
import { AppError } from '../errors.js'
import { utcText } from '../time.js'
import { shortPrincipal } from '../principals.js'
import { describeIdentity } from './chain.js'
import { changeIncident, DAY, incidentById, incidentJson, listIncidents, noteIncident, type CaseNote, type Incident } from './incidents.js'
import { buildTimeline, collapseRepeats, incidentTimelineSubject, type TimelineRow } from './timeline.js'

/** One line for a terminal: titles and names come from CloudTrail, so their control characters are made visible. */
function incidentLine(incident: Incident): string {
  return textLine(`${incident.id}  ${incident.severity.padEnd(8)} ${incident.status.padEnd(12)} ${String(incident.members.length).padStart(3)} alerts  ${utcText(incident.last_seen)}  ${incident.title}`)
}

function incidentText(incident: Incident): string {
  return [
    incidentLine(incident),
    `  principals: ${incident.principals.join(', ')}`,
    `  tactics: ${incident.tactics.join(', ') || 'none named'}`,
    `  span: ${utcText(incident.first_seen)} → ${utcText(incident.last_seen)}`,
    ...(incident.assignee ? [`  assignee: ${incident.assignee}`] : []),
    ...(incident.ticket ? [`  ticket: ${incident.ticket}`] : []),
    `  identities: ${incident.identities.map(describeIdentity).join('; ')}`,
    '  alerts, and why each belongs:',
    ...incident.members.flatMap((m) => [`    ${m.alert.severity.padEnd(8)} ${m.alert.detector}  ${m.alert.title}`, `      ${m.link} (alert ${m.alert.alert_id})`]),
    '  log:',
    ...incident.actions.map((a) => `    ${utcText(a.at)}  ${a.action} by ${a.actor}${a.reason ? `: ${a.reason}` : ''}`),
  ]
    .map(textLine)
    .join('\n')
}

interface ListOptions extends CommonOptions {
  from?: number
  to?: number
  status?: string
  json?: boolean
}

export function incidentsCommand(): Command {
  const list = withCommonOptions(new Command('list'))
    .description('incidents with an alert in the span, newest first')
    .option('--from <time>', 'start of the span (ISO 8601; default: 7 days before --to)', parseInstant)
    .option('--to <time>', 'end of the span (ISO 8601; default: now)', parseInstant)
    .option('--status <status>', 'only open, acknowledged or resolved incidents')
    .option('--json', 'one JSON object per incident per line')
    .action(async (options: ListOptions) => {
      await withContext(options, async ({ store }) => {
        const to = new Date(options.to ?? Date.now())
        const incidents = (await listIncidents(store, { from: new Date(options.from ?? to.getTime() - 7 * DAY), to })).filter((i) => !options.status || i.status === options.status)
        for (const incident of incidents) console.log(options.json ? JSON.stringify(incidentJson(incident)) : incidentLine(incident))
        if (options.json) return
        // An empty list names the span it looked at: last year's incidents are not "none".
        if (incidents.length === 0 && options.from === undefined) console.log(`0 incidents in the 7 days to ${to.toISOString()}; --from widens the span (--from 2020-01-01T00:00:00Z for all)`)
        else console.log(`${String(incidents.length)} incidents`)
      })
    })
  const show = withCommonOptions(new Command('show'))
    .description('one incident: its alerts and why each belongs, its identities, and who did what to it')
    .argument('<id>')
    .option('--json', 'one JSON object, with the members and the log')
    .action(async (id: string, options: CommonOptions & { json?: boolean }) => {
      await withContext(options, async ({ store }) => {
        const incident = await incidentById(store, id)
        console.log(options.json ? JSON.stringify({ ...incidentJson(incident), members: incident.members.map((m) => ({ ...m.alert, identities: m.identities, link: m.link })), actions: incident.actions }) : incidentText(incident))
      })
    })
  const change = (name: 'ack' | 'resolve', action: 'acknowledged' | 'resolved', description: string): Command =>
    withCommonOptions(new Command(name))
      .description(description)
      .argument('<id>')
      .requiredOption('--reason <text>', 'why: kept in the incident’s log')
      .option('--by <name>', 'who (default: $USER)')
      .action(async (id: string, options: CommonOptions & { reason: string; by?: string }) => {
        await withContext(options, async ({ store }) => {
          const by = options.by ?? process.env.USER ?? 'unknown'
          console.log(incidentLine(await changeIncident(store, id, action, by, options.reason, new Date())))
        })
      })
  const note = (name: string, kind: CaseNote, argument: string, description: string): Command =>
    withCommonOptions(new Command(name))
      .description(description)
      .argument('<id>')
      .argument(argument)
      .option('--by <name>', 'who (default: $USER)')
      .action(async (id: string, text: string, options: CommonOptions & { by?: string }) => {
        await withContext(options, async ({ store }) => {
          console.log(incidentLine(await noteIncident(store, id, kind, options.by ?? process.env.USER ?? 'unknown', text, new Date())))
        })
      })
  return new Command('incidents')
    .description('alerts joined by the identity behind them: list, show, acknowledge, resolve')
    .addCommand(list)
    .addCommand(show)
    .addCommand(change('ack', 'acknowledged', 'someone is on it: updates still come, in the same thread'))
    .addCommand(change('resolve', 'resolved', 'done: a new alert of the same chain opens a new incident; one of its own alerts seen again reopens it'))
    .addCommand(note('assign', 'assigned', '<name>', 'give the case to someone ("" unassigns)'))
    .addCommand(note('comment', 'commented', '<text>', 'add a comment to the case'))
    .addCommand(note('ticket', 'ticket', '<url>', 'link the case in another tracker (an http(s) address; "" unlinks)'))
}

interface TimelineOptions extends CommonOptions {
  principal?: string
  key?: string
  ip?: string
  incident?: string
  from?: number
  to?: number
  json?: boolean
}

function entryText(entry: TimelineRow): string {
  if (entry.type === 'alert') return textLine(`${utcText(entry.time)}  ALERT ${entry.alert.severity.toUpperCase()} ${entry.alert.detector}: ${entry.alert.title} (alert ${entry.alert.alert_id})`)
  const marks = [...entry.new, ...(entry.error ? [`failed: ${entry.error}`] : [])]
  const repeats = entry.count > 1 ? `  ×${String(entry.count)} to ${utcText(entry.last)}` : ''
  return [
    `${utcText(entry.time)}  ${shortPrincipal(entry.principal)}  ${entry.event}  ${entry.address || '—'}${entry.country ? ` (${entry.country})` : ''}  ${entry.region}  ${entry.key || '—'}${marks.length ? `  [${marks.join(', ')}]` : ''}${repeats}`,
    ...(entry.hop ? [`    ↳ ${entry.hop}`] : []),
  ]
    .map(textLine)
    .join('\n')
}

export function timelineCommand(): Command {
  return withCommonOptions(new Command('timeline'))
    .description('every call of a principal, a key (and the sessions it opened), an address or an incident, in order, with what was new and the alerts in place')
    .option('--principal <arn>', 'a principal ARN (a role: every session of it)')
    .option('--key <id>', 'an access key id, and the keys STS issued from it')
    .option('--ip <address>', 'a source address')
    .option('--incident <id>', 'an incident’s identity chain over its span')
    .option('--from <time>', 'start (ISO 8601; default: the incident’s first alert less an hour, or 24 hours before --to)', parseInstant)
    .option('--to <time>', 'end (ISO 8601; default: the incident’s last alert plus an hour, or now)', parseInstant)
    .option('--json', 'one JSON object per call or alert per line')
    .action(async (options: TimelineOptions) => {
      const given = [options.principal, options.key, options.ip, options.incident].filter((v) => v !== undefined)
      if (given.length !== 1) throw new AppError('USAGE', 'give exactly one of --principal, --key, --ip or --incident')
      await withContext(options, async ({ store }) => {
        let subject = { principals: options.principal ? [options.principal] : [], keys: options.key ? [options.key] : [], addresses: options.ip ? [options.ip] : [] }
        let span = { from: (options.to ?? Date.now()) - DAY, to: options.to ?? Date.now() }
        if (options.incident) ({ subject, span } = incidentTimelineSubject(await incidentById(store, options.incident)))
        const timeline = await buildTimeline(store, subject, { from: new Date(options.from ?? span.from), to: new Date(options.to ?? span.to) })
        // JSON keeps every call; a person reads repeats once.
        if (options.json) for (const entry of timeline.entries) console.log(JSON.stringify(entry))
        else for (const row of collapseRepeats(timeline.entries)) console.log(entryText(row))
        if (!options.json) {
          const calls = timeline.entries.filter((e) => e.type === 'call').length
          console.log(`${String(calls)} calls${timeline.truncated ? ' (the first ones: narrow --from/--to for the rest)' : ''} and ${String(timeline.entries.length - calls)} alerts, ${utcText(timeline.from)} → ${utcText(timeline.to)}`)
        }
      })
    })
}
