import { describeIdentity } from '../incidents/chain.js'
import { identifiersOf, isIdentifier, type Identifiers } from '../incidents/identifiers.js'
import type { Incident } from '../incidents/incidents.js'
import { shortPrincipal } from '../principals.js'
import type { TriggerEvent } from '../incidents/triggers.js'
import { mostSevereFirst } from '../severity.js'
import { localTime, utcText } from '../time.js'
import type { StoredAlert } from '../alerts/table.js'
import { htmlDocument, html, joinHtml, type Html } from '../html.js'
import { headerText, plural, shellWord, textLine, type Composed } from '../text.js'

/** Everything an incident email says beyond the incident itself. */
export interface IncidentContext {
  /** Each member alert's triggering calls, oldest first. */
  triggers: Map<string, TriggerEvent[]>
  /** For an update: what changed since the last email of the thread. */
  news?: string[]
  /** The first principal's time zone, when known: configured, or inferred from their hours. */
  timeZone?: string | undefined
  timeZoneInferred?: boolean
  /** Account id → the name the team calls it. */
  aliases: Record<string, string>
  /** Where the console shows incidents: `${consoleUrl}/incidents/${id}`. */
  consoleUrl?: string | undefined
}

const SUBJECT_MAX = 80
const WHO_MAX = 24
const LONG_TERM_KEY = /^AKIA[A-Z0-9]{12,124}$/
/** Calls whose userName is a user the caller made or armed: a foothold to list before removing. */
const CREATING_USERS = new Set(['CreateUser', 'CreateLoginProfile', 'CreateAccessKey'])
/** Alerts shown whole, with their calls; the rest get a line each. */
const ALERTS_IN_FULL = 10
const EVENTS_PER_ALERT = 5
const SEVERITY_COLOURS: Record<string, string> = { info: '#555', low: '#555', medium: '#b35900', high: '#c00', critical: '#900' }

/** A page of the console (`incidents`, ID), when one is configured. */
export function consoleLink(consoleUrl: string | undefined, section: 'incidents' | 'posture', id: string): string | undefined {
  return consoleUrl ? `${consoleUrl.replace(/\/+$/, '')}/${section}/${encodeURIComponent(id)}` : undefined
}

/** The incident's page in the console, when one is configured. */
export function incidentLink(consoleUrl: string | undefined, id: string): string | undefined {
  return consoleLink(consoleUrl, 'incidents', id)
}

/** A detector as a short label: `rule:trailwatch-lambda-public` → `lambda-public`; a Sigma rule by its title. */
export function detectorLabel(alert: StoredAlert): string {
  if (!alert.detector.startsWith('rule:')) return alert.detector
  const id = alert.detector.slice('rule:'.length)
  if (id.startsWith('trailwatch-')) return id.slice('trailwatch-'.length)
  const rule = alert.evidence.rule
  const title = typeof rule === 'object' && rule !== null && 'title' in rule && typeof rule.title === 'string' ? rule.title : ''
  return title || id
}

function detail(alert: StoredAlert): string {
  for (const field of ['event', 'address', 'source_ip']) {
    const value = alert.evidence[field]
    if (typeof value === 'string' && isIdentifier(value)) return ` ${value}`
  }
  return ''
}

function withAlias(account: string, aliases: Record<string, string>): string {
  const alias = aliases[account]
  return alias ? `${account} (${alias})` : account
}

/** At most 80 characters, who first: "[trailwatch] CRITICAL bert-jan@prod: cloudtrail-tampering DeleteTrail (+32)", the number counting the other alerts. */
export function incidentSubject(incident: Incident, aliases: Record<string, string>, news?: string[]): string {
  const alerts = incident.members.map((m) => m.alert)
  const first = alerts[0]
  const worst = mostSevereFirst(alerts)[0]
  const alias = first ? aliases[first.account] : undefined
  // A long name must leave room for what happened.
  const name = shortPrincipal(first?.principal ?? '')
  const who = `${name.length > WHO_MAX ? `${name.slice(0, WHO_MAX - 1)}…` : name}${alias ? `@${alias}` : ''}`
  const what = news?.length ? `update: ${news[0] ?? ''}` : `${worst ? `${detectorLabel(worst)}${detail(worst)}` : ''}${alerts.length > 1 ? ` (+${String(alerts.length - 1)})` : ''}`
  return headerText(`[trailwatch] ${incident.severity.toUpperCase()} ${who}: ${what}`, SUBJECT_MAX)
}

export interface RunbookStep {
  text: string
  /** Safe to paste: every value from CloudTrail in it is checked or quoted. */
  command?: string
}

/** Concrete steps for what the incident touched, with its real identifiers. */
function actions(incident: Incident, triggers: TriggerEvent[], found: Identifiers): RunbookStep[] {
  const steps: RunbookStep[] = []
  const userOfKey = new Map<string, string>()
  for (const member of incident.members) {
    for (const identity of member.identities.filter((i) => i.startsWith('key:'))) {
      if (member.alert.principal.includes(':user/')) userOfKey.set(identity.slice(4), member.alert.principal.split('/').pop() ?? '')
    }
  }
  for (const [key, user] of userOfKey) {
    // Both come from CloudTrail: only a key and a name of the shapes AWS issues become a command.
    if (LONG_TERM_KEY.test(key) && isIdentifier(user)) steps.push({ text: `Deactivate ${user}'s access key ${key}:`, command: `aws iam update-access-key --user-name ${shellWord(user)} --access-key-id ${key} --status Inactive` })
  }
  const roles = [...new Set(incident.members.filter((m) => m.alert.principal.includes(':role/')).map((m) => m.alert.principal.split('/').pop() ?? ''))].filter(isIdentifier)
  for (const role of roles) steps.push({ text: `Revoke the active sessions of role ${role} (IAM console: Roles → ${role} → Revoke active sessions), then review its trust policy:`, command: `aws iam get-role --role-name ${shellWord(role)} --query Role.AssumeRolePolicyDocument` })
  for (const trail of found.get('trail') ?? []) steps.push({ text: `Bring trail ${trail} back and check it logs:`, command: `aws cloudtrail start-logging --name ${shellWord(trail)} && aws cloudtrail get-trail-status --name ${shellWord(trail)}` })
  const created = identifiersOf(triggers.filter((e) => CREATING_USERS.has(e.event))).get('user') ?? []
  for (const user of created) steps.push({ text: `List what user ${user} holds (keys, console password) before removing it:`, command: `aws iam list-access-keys --user-name ${shellWord(user)} && aws iam get-login-profile --user-name ${shellWord(user)}` })
  steps.push({ text: 'Every call of this identity chain, in order:', command: `trailwatch timeline --incident ${incident.id}` })
  return steps
}

/** A detector's own runbook line with its placeholders filled where the incident knows the value. */
function filled(step: string, found: Identifiers, addresses: string[]): string {
  const trail = found.get('trail')?.[0]
  const address = addresses.find((a) => /^[0-9a-fA-F.:]+$/.test(a))
  return step.replace(/\bTRAIL\b/g, (placeholder) => (trail ? shellWord(trail) : placeholder)).replace(/\bADDRESS\b/g, (placeholder) => address ?? placeholder)
}

/** What to do, in order: the steps for what the incident touched, then its detectors' runbooks with the real values in place. */
export function incidentRunbook(incident: Incident, triggers: TriggerEvent[]): RunbookStep[] {
  const found = identifiersOf(triggers)
  const addresses = [...new Set(triggers.map((e) => e.address).filter(Boolean))]
  const detectorSteps = [...new Set(mostSevereFirst(incident.members.map((m) => m.alert)).flatMap((a) => a.runbook))].map((step) => ({ text: filled(step, found, addresses) }))
  return [...actions(incident, triggers, found), ...detectorSteps]
}

function eventLine(e: TriggerEvent): string {
  const agent = e.user_agent.length > 60 ? `${e.user_agent.slice(0, 59)}…` : e.user_agent
  const where = [e.country, ...e.lists].filter(Boolean).join(', ')
  return `${utcText(e.time)}  ${e.event}  ${e.address || '—'}${where ? ` (${where})` : ''}  ${e.region}  ${e.error || 'ok'}${agent ? `  ${agent}` : ''}`
}

/** What an incident's email says, worked out once for its text and its HTML. */
interface IncidentView {
  heading: string
  title: string
  news: string[]
  facts: [string, string[]][]
  identifierLines: string[]
  alertCount: number
  /** The most severe alerts, each with its calls; the rest by heading alone. */
  detailed: { alert: StoredAlert; heading: string; events: TriggerEvent[]; link: string }[]
  rest: { alert: StoredAlert; heading: string }[]
  runbook: ReturnType<typeof incidentRunbook>
  id: string
  link: string | undefined
  acknowledge: string
  silence: string
}

function incidentView(incident: Incident, context: IncidentContext): IncidentView {
  const alerts = mostSevereFirst(incident.members.map((m) => m.alert))
  const linkOf = new Map(incident.members.map((m) => [m.alert.alert_id, m.link]))
  const allTriggers = alerts.flatMap((a) => context.triggers.get(a.alert_id) ?? [])
  const addresses = [...new Map(allTriggers.filter((e) => e.address).map((e) => [e.address, e])).values()]
  const first = incident.members[0]?.alert
  const principals = incident.principals.map((p) => {
    const account = incident.members.find((m) => m.alert.principal === p)?.alert.account ?? ''
    return `${p} (account ${withAlias(account, context.aliases)})`
  })
  const keys = incident.identities.filter((i) => i.startsWith('key:') || i.startsWith('source-identity:')).map(describeIdentity)
  const local =
    context.timeZone && first
      ? `${localTime(Date.parse(incident.first_seen), context.timeZone).text} (principal’s local time${context.timeZoneInferred ? ', inferred from their hours' : ''})`
      : 'local time unknown: give this principal a time zone in TRAILWATCH_PRINCIPALS_FILE'
  const span = incident.first_seen === incident.last_seen ? utcText(incident.first_seen) : `${utcText(incident.first_seen)} → ${utcText(incident.last_seen)}`
  const alertHeading = (a: StoredAlert): string => `${a.severity.toUpperCase()} ${detectorLabel(a)}: ${a.title}`
  return {
    heading: `${incident.severity.toUpperCase()} · incident ${incident.id} · ${plural(alerts.length, 'alert')} · ${plural(incident.tactics.length, 'tactic')}`,
    title: incident.title,
    news: context.news ?? [],
    facts: [
      ['Who', principals],
      ['Keys', keys.length ? keys : ['none recorded']],
      ['When', [span, local]],
      ['Where', addresses.length ? addresses.slice(0, 5).map((e) => `${e.address}${e.country ? ` (${e.country})` : ''}`) : ['no address recorded']],
      ['Tactics', [incident.tactics.join(', ') || 'none named']],
    ],
    identifierLines: [...identifiersOf(allTriggers)].map(([kind, values]) => `${kind}: ${values.join(', ')}`),
    alertCount: alerts.length,
    detailed: alerts.slice(0, ALERTS_IN_FULL).map((alert) => ({ alert, heading: alertHeading(alert), events: context.triggers.get(alert.alert_id) ?? [], link: linkOf.get(alert.alert_id) ?? '' })),
    rest: alerts.slice(ALERTS_IN_FULL).map((alert) => ({ alert, heading: alertHeading(alert) })),
    runbook: incidentRunbook(incident, allTriggers),
    id: incident.id,
    link: incidentLink(context.consoleUrl, incident.id),
    acknowledge: `trailwatch incidents ack ${incident.id} --reason WHY`,
    silence: `trailwatch suppress add${incident.detectors.length === 1 ? ` --detector ${shellWord(incident.detectors[0] ?? '')}` : ''} --principal ${shellWord(first?.principal ?? '')} --owner YOU --reason WHY --expires 7d`,
  }
}

function incidentText(view: IncidentView): string {
  return [
    view.heading,
    view.title,
    ...(view.news.length ? ['', 'WHAT IS NEW', ...view.news.map((n) => `  - ${n}`)] : []),
    '',
    ...view.facts.flatMap(([label, lines]) => [label.toUpperCase(), ...lines.map((line) => `  ${line}`)]),
    '',
    'ACT ON',
    ...(view.identifierLines.length ? view.identifierLines.map((l) => `  ${l}`) : ['  (no resource named in the calls)']),
    '',
    `ALERTS (${String(view.alertCount)}, most severe first)`,
    ...view.detailed.flatMap(({ alert: a, heading, events, link }, i) => [
      `  ${String(i + 1)}. ${heading}`,
      ...events.slice(0, EVENTS_PER_ALERT).map((e) => `     ${eventLine(e)}`),
      ...(events.length > EVENTS_PER_ALERT ? [`     … and ${String(events.length - EVENTS_PER_ALERT)} more calls`] : []),
      `     Why: ${a.why || a.title}`,
      `     Part of it: ${link}`,
      `     Alert ${a.alert_id} · ${a.detector}${a.attack.length ? ` · ATT&CK ${a.attack.join(', ')}` : ''}`,
    ]),
    ...view.rest.map(({ alert, heading }) => `  - ${heading} (alert ${alert.alert_id})`),
    '',
    'RUNBOOK',
    ...view.runbook.flatMap((s, i) => [`  ${String(i + 1)}. ${s.text}`, ...(s.command ? [`     ${s.command}`] : [])]),
    '',
    `Incident ${view.id}${view.link ? ` · ${view.link}` : ''}`,
    `Acknowledge: ${view.acknowledge}`,
    `Silence it: ${view.silence}`,
    '',
  ]
    .map(textLine)
    .join('\n')
}

function incidentHtml(view: IncidentView, severity: string): string {
  const wrap = 'overflow-wrap:anywhere;word-break:break-word'
  const code = (value: string): Html => html`<code style="display:block;font-size:12px;background:#f4f4f4;padding:4px 6px;margin:2px 0;white-space:pre-wrap;${wrap}">${value}</code>`
  const section = (title: string): Html => html`<h2 style="font-size:16px;margin:16px 0 4px">${title}</h2>`
  return htmlDocument(html`<p style="margin:0 0 4px;font-weight:bold;color:${SEVERITY_COLOURS[severity] ?? '#111'};${wrap}">${view.heading}</p>
<h1 style="font-size:18px;margin:0 0 12px;${wrap}">${view.title}</h1>
${view.news.length ? html`${section('What is new')}<ul style="margin:0;padding-left:20px;${wrap}">${view.news.map((n) => html`<li>${n}</li>`)}</ul>` : ''}
${view.link ? html`<p style="margin:8px 0"><a href="${view.link}">Open incident ${view.id}</a></p>` : ''}
<table style="border-collapse:collapse;width:100%;table-layout:fixed">
${view.facts.map(([label, lines]) => html`<tr><th style="text-align:left;padding:4px 8px 4px 0;vertical-align:top;width:64px">${label}</th><td style="padding:4px 0;${wrap}">${joinHtml(lines, html`<br>`)}</td></tr>`)}
</table>
${section('Act on')}
<ul style="margin:0;padding-left:20px;${wrap}">${view.identifierLines.length ? view.identifierLines.map((l) => html`<li>${l}</li>`) : html`<li>no resource named in the calls</li>`}</ul>
${section(`Alerts (${String(view.alertCount)}, most severe first)`)}
${view.detailed
  .map(
    ({ alert: a, heading, events, link }) => html`<div style="margin:0 0 12px;${wrap}"><p style="margin:0;font-weight:bold;color:${SEVERITY_COLOURS[a.severity] ?? '#111'}">${heading}</p>
${events.slice(0, EVENTS_PER_ALERT).map((e) => code(eventLine(e)))}${events.length > EVENTS_PER_ALERT ? html`<p style="margin:0;font-size:12px">… and ${String(events.length - EVENTS_PER_ALERT)} more calls</p>` : ''}
<p style="margin:4px 0 0">${a.why || a.title}</p>
<p style="margin:2px 0 0;font-size:12px;color:#555">Part of it: ${link} · alert ${a.alert_id}${a.attack.length ? html` · ATT&amp;CK ${a.attack.join(', ')}` : ''}</p></div>`,
)}
${view.rest.length ? html`<ul style="margin:0;padding-left:20px;${wrap}">${view.rest.map(({ alert, heading }) => html`<li>${`${heading} (alert ${alert.alert_id})`}</li>`)}</ul>` : ''}
${section('Runbook')}
<ol style="margin:0;padding-left:20px;${wrap}">${view.runbook.map((s) => html`<li>${s.text}${s.command ? code(s.command) : ''}</li>`)}</ol>
<p style="margin:16px 0 4px;font-size:12px;color:#555;${wrap}">Incident ${view.id}</p>
<p style="margin:0;font-size:12px">Acknowledge:</p>${code(view.acknowledge)}
<p style="margin:0;font-size:12px">Silence it:</p>${code(view.silence)}`)
}

/** The incident in the order a person on call reads it: what is new, who, when, where, what to act on, the alerts with their calls, the runbook. */
export function composeIncident(incident: Incident, context: IncidentContext): Composed {
  const view = incidentView(incident, context)
  return { subject: incidentSubject(incident, context.aliases, context.news), text: incidentText(view), html: incidentHtml(view, incident.severity) }
}
