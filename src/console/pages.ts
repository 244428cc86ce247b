import type { Finding, StoredAlert } from '../alerts/table.js'
import { html, joinHtml, type Html } from '../html.js'
import { plural } from '../text.js'
import { detectorLabel, type RunbookStep } from '../alerting/incident-email.js'
import type { SuppressionRule } from '../alerting/suppressions.js'
import { describeIdentity } from '../incidents/chain.js'
import { INCIDENT_STATUSES, shortPrincipal, type Incident } from '../incidents/incidents.js'
import type { Timeline } from '../incidents/timeline.js'
import type { TriggerEvent } from '../incidents/triggers.js'
import type { SnapshotAge } from '../iam/snapshots.js'
import type { CredentialAgeReport } from '../reports/credential-age.js'
import { SEVERITIES } from '../severity.js'
import { utcText } from '../time.js'
import { spanText } from '../working-day.js'
import type { KnownWorkingTime } from '../people/working-time.js'
import type { AuditEntry } from './audit.js'
import type { DetectorHealth, Freshness, Network } from './queries.js'

/** Served as /console.css: the only style the pages use (the Content-Security-Policy allows nothing inline). */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #1b1b1b; --muted: #4a4a4a; --line: #d0d0d0; --accent: #0b4f8a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f0a500; outline-offset: 1px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; padding: 8px 16px; background: #0d2b45; color: #fff; }
header a { color: #fff; }
header .brand { font-weight: bold; margin-right: 8px; }
header nav ul { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin: 0; padding: 0; }
header .who { margin-left: auto; display: flex; gap: 8px; align-items: center; }
header button { background: none; border: 1px solid #fff; color: #fff; padding: 2px 8px; border-radius: 3px; cursor: pointer; }
main { padding: 12px 16px 32px; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: 4px 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { background: #f2f4f7; overflow-wrap: normal; }
/* On a phone a wide table scrolls inside its box; the page itself never scrolls sideways. */
.scroll { overflow-x: auto; }
.scroll > table { min-width: 640px; }
.scroll > table.heat { min-width: 560px; }
.muted { color: var(--muted); }
.sev { white-space: nowrap; display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 0.85rem; font-weight: bold; text-transform: uppercase; }
.sev-critical { background: #7a0000; } .sev-high { background: #b00020; } .sev-medium { background: #8a4500; }
.sev-low { background: #2f5372; } .sev-info { background: #555; }
.status { font-weight: bold; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
.facts dt { font-weight: bold; } .facts dd { margin: 0; overflow-wrap: anywhere; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin-bottom: 12px; }
form label { display: block; font-size: 0.85rem; font-weight: bold; }
input, select, button { font: inherit; }
input[type=text], input[type=password], input[type=date], select { padding: 4px 6px; border: 1px solid #767676; border-radius: 3px; max-width: 100%; }
button.primary { background: var(--accent); color: #fff; border: 0; padding: 6px 12px; border-radius: 3px; cursor: pointer; }
.actions { display: flex; flex-wrap: wrap; gap: 12px; }
.actions form { border: 1px solid var(--line); border-radius: 4px; padding: 10px; flex: 1 1 260px; display: grid; gap: 6px; }
.notice { background: #eef6ee; border: 1px solid #7fb77f; padding: 8px 12px; border-radius: 4px; }
.error { background: #fdeeee; border: 1px solid #d07070; padding: 8px 12px; border-radius: 4px; }
tr.alert td { background: #fff4e5; }
.new { font-weight: bold; color: #8a4500; }
.failed { font-weight: bold; color: #b00020; }
svg.history { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg.history rect.bar { fill: var(--accent); } svg.history line { stroke: var(--line); }
svg.history text { font-size: 11px; fill: var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f4f4; padding: 6px 8px; margin: 4px 0; }
.heat td, .heat th { padding: 2px; text-align: center; font-size: 0.75rem; border: 1px solid #fff; }
.h0 { background: #f4f6f8; color: #1b1b1b; } .h1 { background: #cfe2f3; color: #1b1b1b; } .h2 { background: #8fb8de; color: #1b1b1b; }
.h3 { background: #2f6fa8; color: #fff; } .h4 { background: #0d2b45; color: #fff; }
.login { max-width: 360px; margin: 48px auto; display: grid; gap: 10px; }
`

export interface PageContext {
  user: string
  csrf: string
  /** Sign-out is offered when a person signed in with a password. */
  signedIn: boolean
}

const NAV: [string, string][] = [
  ['/', 'Incidents'],
  ['/suppressions', 'Suppressions'],
  ['/detectors', 'Detectors'],
  ['/freshness', 'Data freshness'],
  ['/credentials', 'Credential age'],
  ['/audit', 'Audit log'],
]

export function page(title: string, body: Html, context?: PageContext): Html {
  const header = context
    ? html`<header><span class="brand">trailwatch</span><nav aria-label="Main"><ul>${NAV.map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></nav>
<div class="who"><span>${context.user}</span>${context.signedIn ? html`<form method="post" action="/logout">${csrfField(context)}<button type="submit">Sign out</button></form>` : ''}</div></header>`
    : html`<header><span class="brand">trailwatch</span></header>`
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · trailwatch</title><link rel="stylesheet" href="/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a>${header}
<main id="main">${body}</main></body></html>
`
}

function csrfField(context: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${context.csrf}">`
}

function severity(value: string): Html {
  return html`<span class="sev sev-${value}">${value}</span>`
}

function time(iso: string | null): Html {
  return iso ? html`<time datetime="${iso}">${utcText(iso)}</time>` : html`<span class="muted">never</span>`
}

function principalLink(arn: string): Html {
  return html`<a href="/principals?arn=${encodeURIComponent(arn)}">${shortPrincipal(arn)}</a>`
}

function options(values: readonly string[], selected: string | undefined, any: string): Html {
  return html`<option value="">${any}</option>${values.map((v) => html`<option value="${v}"${v === selected ? html` selected` : ''}>${v}</option>`)}`
}

export interface IncidentFilters {
  severity?: string | undefined
  status?: string | undefined
  account?: string | undefined
  detector?: string | undefined
  /** YYYY-MM-DD, UTC days. */
  from: string
  to: string
}

export function incidentsPage(incidents: Incident[], filters: IncidentFilters, choices: { accounts: string[]; detectors: string[] }, shown: number, context: PageContext): Html {
  const rows = incidents
    .slice(0, shown)
    .map(
      (i) => html`<tr><td>${severity(i.severity)}</td><td class="status">${i.status}</td><td><a href="/incidents/${encodeURIComponent(i.id)}">${i.title}</a></td>
<td>${joinHtml(i.principals.slice(0, 3).map(principalLink), ', ')}${i.principals.length > 3 ? ` +${String(i.principals.length - 3)}` : ''}</td><td>${String(i.members.length)}</td><td>${time(i.last_seen)}</td></tr>`,
    )
  const field = (name: string, label: string, control: Html): Html => html`<div><label for="f-${name}">${label}</label>${control}</div>`
  return page(
    'Incidents',
    html`<h1>Incidents</h1>
<form class="filters" method="get" action="/" aria-label="Filter incidents">
${field('severity', 'Severity at least', html`<select id="f-severity" name="severity">${options(SEVERITIES, filters.severity, 'any')}</select>`)}
${field('status', 'Status', html`<select id="f-status" name="status">${options(INCIDENT_STATUSES, filters.status, 'any')}</select>`)}
${field('account', 'Account', html`<select id="f-account" name="account">${options(choices.accounts, filters.account, 'any')}</select>`)}
${field('detector', 'Detector', html`<select id="f-detector" name="detector">${options(choices.detectors, filters.detector, 'any')}</select>`)}
${field('from', 'From (UTC day)', html`<input type="date" id="f-from" name="from" value="${filters.from}">`)}
${field('to', 'To (UTC day)', html`<input type="date" id="f-to" name="to" value="${filters.to}">`)}
<div><button class="primary" type="submit">Show</button></div>
</form>
<p>${plural(incidents.length, 'incident')}${incidents.length > shown ? `, the ${String(shown)} most recent shown` : ''}.</p>
<div class="scroll"><table><caption class="skip">Incidents, most recent first</caption>
<thead><tr><th scope="col">Severity</th><th scope="col">Status</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Alerts</th><th scope="col">Last seen</th></tr></thead>
<tbody>${rows}</tbody></table></div>`,
    context,
  )
}

export interface IncidentView {
  incident: Incident
  triggers: TriggerEvent[]
  runbook: RunbookStep[]
  timeline: Timeline
  aliases: Record<string, string>
  notice?: string | undefined
  error?: string | undefined
}

function timelineRows(timeline: Timeline): Html[] {
  return timeline.entries
    .map((entry) => {
      if (entry.type === 'alert') {
        const a = entry.alert
        return html`<tr class="alert"><td>${time(entry.time)}</td><td colspan="5">${severity(a.severity)} alert ${detectorLabel(a)}: ${a.title}</td></tr>`
      }
      const marks = [...entry.new.map((n) => html`<span class="new">${n}</span>`), ...(entry.error ? [html`<span class="failed">failed: ${entry.error}</span>`] : [])]
      return html`<tr><td>${time(entry.time)}</td><td>${principalLink(entry.principal)}</td><td>${entry.event}${entry.hop ? html`<br><span class="muted">↳ ${entry.hop}</span>` : ''}</td>
<td>${entry.address || '—'}${entry.country ? ` (${entry.country})` : ''}</td><td>${entry.key || '—'}</td><td>${joinHtml(marks, ' ')}</td></tr>`
    })
}

export function incidentPage(view: IncidentView, context: PageContext, today: string): Html {
  const { incident } = view
  const withAlias = (account: string): string => (view.aliases[account] ? `${account} (${view.aliases[account] ?? ''})` : account)
  const addresses = [...new Map(view.triggers.filter((t) => t.address).map((t) => [t.address, t])).values()]
  const first = incident.members[0]?.alert
  const action = (name: string, label: string, fields: Html): Html =>
    html`<form method="post" action="/incidents/${encodeURIComponent(incident.id)}/${name}" aria-label="${label}">${csrfField(context)}${fields}<div><button class="primary" type="submit">${label}</button></div></form>`
  const reason = (name: string): Html => html`<div><label for="${name}-reason">Reason</label><input type="text" id="${name}-reason" name="reason" required maxlength="500"></div>`
  const calls = view.timeline.entries.filter((entry) => entry.type === 'call').length
  return page(
    `Incident ${incident.id}`,
    html`${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<p>${severity(incident.severity)} <span class="status">${incident.status}</span> · incident ${incident.id} · ${plural(incident.members.length, 'alert')}</p>
<h1>${incident.title}</h1>
<p><a href="#timeline">Timeline</a> · <a href="#triage">Acknowledge, resolve or suppress</a> · <a href="#runbook">Runbook</a></p>
<dl class="facts">
<dt>Who</dt><dd>${joinHtml(incident.principals.map(principalLink), ', ')}</dd>
<dt>Accounts</dt><dd>${incident.accounts.map(withAlias).join(', ')}</dd>
<dt>When</dt><dd>${time(incident.first_seen)} → ${time(incident.last_seen)}</dd>
<dt>Tactics</dt><dd>${incident.tactics.join(', ') || 'none named'}</dd>
<dt>Identities</dt><dd>${joinHtml(incident.identities.map(describeIdentity), html`<br>`)}</dd>
</dl>
<h2 id="triage">Triage</h2>
<div class="actions">
${action('ack', 'Acknowledge', reason('ack'))}
${action('resolve', 'Resolve', reason('resolve'))}
${action(
  'suppress',
  'Suppress',
  html`<div><label for="s-detector">Detector</label><select id="s-detector" name="detector">${options(incident.detectors, incident.detectors.length === 1 ? incident.detectors[0] : undefined, 'every detector')}</select></div>
<div><label for="s-principal">Principal (ARN, * allowed)</label><input type="text" id="s-principal" name="principal" value="${first?.principal ?? ''}"></div>
<div><label for="s-owner">Owner</label><input type="text" id="s-owner" name="owner" required value="${context.user}"></div>
<div><label for="s-reason">Reason</label><input type="text" id="s-reason" name="reason" required maxlength="500"></div>
<div><label for="s-expires">Expires (UTC day)</label><input type="date" id="s-expires" name="expires" required min="${today}"></div>`,
)}
</div>
<h2>Alerts, and why each belongs</h2>
<div class="scroll"><table><thead><tr><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Why it belongs</th><th scope="col">Seen</th></tr></thead><tbody>
${incident.members
  .map(
    (m) => html`<tr><td>${severity(m.alert.severity)}</td><td>${detectorLabel(m.alert)}: ${m.alert.title}<br><span class="muted">${m.alert.why}</span></td><td>${m.link}</td><td>${time(m.alert.first_seen)}<br>${time(m.alert.last_seen)}</td></tr>`,
  )
}
</tbody></table></div>
<h2>Addresses</h2>
${addresses.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Address</th><th scope="col">Country</th><th scope="col">Network</th></tr></thead><tbody>${addresses.map((t) => html`<tr><td>${t.address}</td><td>${t.country || '—'}</td><td>${t.asn ? `AS${String(t.asn)} ${t.as_org}` : t.public ? 'public' : 'private or AWS'}</td></tr>`)}</tbody></table></div>` : html`<p>No address recorded.</p>`}
<h2 id="runbook">Runbook</h2>
<ol>${view.runbook.map((s) => html`<li>${s.text}${s.command ? html`<pre>${s.command}</pre>` : ''}</li>`)}</ol>
<h2 id="timeline">Timeline</h2>
<p>${plural(calls, 'call')} of the identity chain${view.timeline.truncated ? html` (the first ones: <code>trailwatch timeline --incident ${incident.id}</code> gives them all)` : ''}, ${time(view.timeline.from)} → ${time(view.timeline.to)}; what was new for the principal is marked.</p>
<div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Call</th><th scope="col">From</th><th scope="col">Key</th><th scope="col">Marks</th></tr></thead>
<tbody>${timelineRows(view.timeline)}</tbody></table></div>
<h2>Log</h2>
<ul>${incident.actions.map((a) => html`<li>${time(a.at)} ${a.action} by ${a.actor}${a.reason ? `: ${a.reason}` : ''}</li>`)}</ul>`,
    context,
  )
}

export interface PrincipalView {
  principal: string
  /** The person's clock and working day, as the off-hours detector judges them. */
  working: KnownWorkingTime
  networks: Network[]
  hours: number[]
  keys: CredentialAgeReport['keys']
  alerts: StoredAlert[]
}

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']

function heatMap(hours: number[]): Html {
  const max = Math.max(1, ...hours)
  const level = (n: number): number => (n === 0 ? 0 : Math.min(4, 1 + Math.floor((n / max) * 3.999)))
  const head = Array.from({ length: 24 }, (_, h) => html`<th scope="col">${String(h).padStart(2, '0')}</th>`)
  const rows = WEEKDAYS.map((day, d) => html`<tr><th scope="row">${day.slice(0, 3)}</th>${Array.from({ length: 24 }, (_, h) => {
    const n = hours[d * 24 + h] ?? 0
    return html`<td class="h${String(level(n))}" title="${day} ${String(h).padStart(2, '0')}:00, ${String(n)} calls">${n ? String(n) : ''}</td>`
  })}</tr>`)
  return html`<div class="scroll"><table class="heat"><caption class="skip">Calls by hour of the week</caption><thead><tr><th scope="col">Day</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`
}

const ZONE_SOURCE: Record<KnownWorkingTime['source'], string> = {
  configured: '',
  inferred: ', inferred from their hours',
  none: ', no time zone configured for this person and too little history to infer one',
}

/** The working day the off-hours detector holds the person to, in words. */
function workingDayText({ day, historyDays }: KnownWorkingTime): string {
  if (!day) return 'No working day learned: no hours in the last four weeks.'
  return `Working day learned from ${plural(historyDays, 'day')} of the last four weeks: ${spanText(day.weekday)} on weekdays, ${spanText(day.weekend)} at weekends (margin included).`
}

export function principalPage(view: PrincipalView, context: PageContext): Html {
  const countries = new Map<string, number>()
  for (const n of view.networks) countries.set(n.country || '—', (countries.get(n.country || '—') ?? 0) + n.calls)
  return page(
    shortPrincipal(view.principal),
    html`<h1>${shortPrincipal(view.principal)}</h1>
<p class="muted">${view.principal}</p>
<h2>Usual networks (30 days)</h2>
<p>Countries: ${[...countries].map(([c, n]) => `${c} (${plural(n, 'call')})`).join(', ') || 'none recorded'}</p>
${view.networks.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Address</th><th scope="col">Country</th><th scope="col">Network (AS)</th><th scope="col">Days</th><th scope="col">Calls</th><th scope="col">Last seen</th></tr></thead><tbody>
${view.networks.map((n) => html`<tr><td><a href="/timeline?ip=${encodeURIComponent(n.address)}">${n.address}</a></td><td>${n.country || '—'}</td><td>${n.asn ? `AS${String(n.asn)}` : '—'}</td><td>${String(n.days)}</td><td>${String(n.calls)}</td><td>${time(n.last_seen)}</td></tr>`)}</tbody></table></div>` : html`<p>No public address in 30 days.</p>`}
<h2>Hours of the week (${view.working.zone}${ZONE_SOURCE[view.working.source]})</h2>
${heatMap(view.hours)}
<p>${workingDayText(view.working)}</p>
<h2>Access keys</h2>
${view.keys.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Age</th><th scope="col">Last used</th><th scope="col">Standing</th></tr></thead><tbody>
${view.keys.map((k) => html`<tr><td>${k.access_key_id || '(unmatched)'}</td><td>${k.status}</td><td>${k.age_days === null ? '?' : `${String(k.age_days)} days`}</td><td>${time(k.last_used)}</td><td>${k.standing}</td></tr>`)}</tbody></table></div>` : html`<p>No access key known for this principal.</p>`}
<h2>Recent alerts</h2>
${view.alerts.length ? html`<ul>${view.alerts.map((a) => html`<li>${severity(a.severity)} ${time(a.last_seen)} ${detectorLabel(a)}: ${a.title}</li>`)}</ul>` : html`<p>No alerts.</p>`}
<p><a href="/timeline?principal=${encodeURIComponent(view.principal)}">Timeline of the last 24 hours</a></p>`,
    context,
  )
}

export function timelinePage(title: string, timeline: Timeline, context: PageContext): Html {
  const calls = timeline.entries.filter((entry) => entry.type === 'call').length
  return page(
    title,
    html`<h1>${title}</h1>
<p>${plural(calls, 'call')}${timeline.truncated ? ' (the first ones)' : ''}, ${time(timeline.from)} → ${time(timeline.to)}.</p>
<div class="scroll"><table><thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Call</th><th scope="col">From</th><th scope="col">Key</th><th scope="col">Marks</th></tr></thead>
<tbody>${timelineRows(timeline)}</tbody></table></div>`,
    context,
  )
}

export function suppressionsPage(rules: SuppressionRule[], context: PageContext, notice?: string): Html {
  return page(
    'Suppressions',
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}<h1>Suppressions in force</h1>
${rules.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Rule</th><th scope="col">Silences</th><th scope="col">Owner</th><th scope="col">Reason</th><th scope="col">Expires</th><th scope="col"><span class="skip">Remove</span></th></tr></thead><tbody>
${rules
  .map((r) => {
    const what = [r.detector && `detector ${r.detector}`, r.principal && `principal ${r.principal}`, r.cidr && `addresses ${r.cidr}`, r.account && `account ${r.account}`].filter(Boolean).join(', ')
    return html`<tr><td>${r.rule_id}</td><td>${what}</td><td>${r.owner}</td><td>${r.reason}</td><td>${time(r.expires_at)}</td>
<td><form method="post" action="/suppressions/${encodeURIComponent(r.rule_id)}/remove">${csrfField(context)}<button type="submit" aria-label="Remove rule ${r.rule_id}">Remove</button></form></td></tr>`
  })
}</tbody></table></div>` : html`<p>None.</p>`}`,
    context,
  )
}

export function detectorsPage(detectors: DetectorHealth[], skippedRules: string[], now: Date, context: PageContext): Html {
  const lag = (iso: string | null): string => (iso ? `${String(Math.round((now.getTime() - Date.parse(iso)) / 60_000))} min` : '—')
  const skipped = skippedRules.length
    ? html`<h2>Rules that do not run</h2>
<p>These rule files could not be loaded when trailwatch started; <code>trailwatch rules check</code> says the same.</p>
<ul>${skippedRules.map((line) => html`<li class="failed">${line}</li>`)}</ul>`
    : ''
  return page(
    'Detectors',
    html`<h1>Detectors and rules</h1>
${skipped}
<div class="scroll"><table><thead><tr><th scope="col">Detector</th><th scope="col">Schedule (UTC)</th><th scope="col">Last run</th><th scope="col">Lag</th><th scope="col">Alerts, 7 days</th><th scope="col">Failed runs</th></tr></thead><tbody>
${detectors.map((d) => html`<tr><td><a href="/detectors/${encodeURIComponent(d.id)}">${d.id}</a><br><span class="muted">${d.title}</span></td><td><code>${d.schedule}</code></td><td>${time(d.last_run)}</td><td>${lag(d.window_end)}</td><td>${String(d.findings)}</td><td${d.failures ? html` class="failed"` : ''}>${String(d.failures)}</td></tr>`)}
</tbody></table></div>`,
    context,
  )
}

/** A detector or rule, and what it would have found over a range, per day (by first sighting) and each. */
export interface DetectorHistory {
  detector: { id: string; title: string; severity: string; schedule: string; window: string; attack: string[]; runbook: string[] }
  days: { day: string; findings: number }[]
  findings: Finding[]
}

export interface DetectorView {
  /** What it would have found over the last `days` days, as `trailwatch rules backtest` says. */
  history: DetectorHistory
  days: number
}

const HISTORY_BAR = { width: 14, gap: 4, height: 120, top: 16, bottom: 22 }

/** Findings per day as bars, each with its day and count as a tooltip and the busiest labelled: the picture of backtest's histogram. */
function historyChart(days: DetectorHistory['days']): Html {
  const { width, gap, height, top, bottom } = HISTORY_BAR
  const most = Math.max(1, ...days.map((d) => d.findings))
  const step = width + gap
  const bars = days.map(({ day, findings }, i) => {
    const tall = findings === 0 ? 0 : Math.max(2, Math.round((findings / most) * height))
    const x = String(i * step)
    const label = findings > 0 ? html`<text x="${String(i * step + width / 2)}" y="${String(top + height - tall - 3)}" text-anchor="middle">${String(findings)}</text>` : ''
    const date = i % 7 === 0 ? html`<text x="${x}" y="${String(top + height + 15)}">${day.slice(5)}</text>` : ''
    return html`<g><title>${day}: ${plural(findings, 'finding')}</title><rect class="bar" x="${x}" y="${String(top + height - tall)}" width="${String(width)}" height="${String(tall)}"></rect>${label}${date}</g>`
  })
  const total = days.reduce((sum, d) => sum + d.findings, 0)
  return html`<svg class="history" role="img" viewBox="0 0 ${String(days.length * step)} ${String(top + height + bottom)}" width="${String(days.length * step)}" height="${String(top + height + bottom)}" aria-label="${plural(total, 'finding')} over ${plural(days.length, 'day')}, by the day each was first seen">
<line x1="0" y1="${String(top + height)}" x2="${String(days.length * step)}" y2="${String(top + height)}"></line>${bars}</svg>`
}

export function detectorPage({ history, days }: DetectorView, context: PageContext): Html {
  const { detector, findings: found } = history
  return page(
    detector.title,
    html`<h1>${detector.title}</h1>
<dl class="facts"><dt>Id</dt><dd><code>${detector.id}</code></dd><dt>Severity</dt><dd>${severity(detector.severity)}</dd>
<dt>Schedule (UTC)</dt><dd><code>${detector.schedule}</code>, each run over ${detector.window}</dd><dt>ATT&amp;CK</dt><dd>${detector.attack.join(', ') || '—'}</dd></dl>
<h2>What it looks for</h2><ul>${detector.runbook.map((line) => html`<li>${line}</li>`)}</ul>
<h2>What it would have found, last ${plural(days, 'day')}</h2>
<p class="muted">Replayed over the stored history as its schedule would have run it, nothing stored or sent: the same as <code>trailwatch rules backtest ${detector.id} --days ${String(days)}</code>. <a href="?days=7">7 days</a> · <a href="?days=30">30 days</a></p>
${historyChart(history.days)}
${found.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Severity</th><th scope="col">First seen</th><th scope="col">Finding</th></tr></thead><tbody>
${found.slice(0, 200).map((f) => html`<tr><td>${severity(f.severity)}</td><td>${time(f.firstSeen)}</td><td>${principalLink(f.principal)}: ${f.title}</td></tr>`)}</tbody></table></div>${found.length > 200 ? html`<p class="muted">The first 200 of ${String(found.length)}.</p>` : ''}` : html`<p>Nothing in these days.</p>`}`,
    context,
  )
}

export function freshnessPage(rows: Freshness[], snapshots: SnapshotAge[], now: Date, context: PageContext): Html {
  const behind = (iso: string): string => `${String(Math.round((now.getTime() - Date.parse(iso)) / 60_000))} min`
  return page(
    'Data freshness',
    html`<h1>Data freshness, by account and region</h1>
<p>The newest event of the last 7 days, stalest first.</p>
${rows.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Account</th><th scope="col">Region</th><th scope="col">Newest event</th><th scope="col">Behind</th><th scope="col">Stored</th><th scope="col">Events</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${r.account}</td><td>${r.region}</td><td>${time(r.last_event)}</td><td>${behind(r.last_event)}</td><td>${time(r.last_stored)}</td><td>${String(r.events)}</td></tr>`)}</tbody></table></div>` : html`<p>No events in the last 7 days.</p>`}
<h2>IAM state, by account</h2>
${snapshots.length ? html`<div class="scroll"><table><thead><tr><th scope="col">Account</th><th scope="col">Latest snapshot</th><th scope="col">Standing</th></tr></thead><tbody>
${snapshots.map((s) => html`<tr><td>${s.account}</td><td>${time(s.taken_at)}</td><td${s.stale ? html` class="failed"` : ''}>${s.stale ? 'older than 2 days: trailwatch aws sync' : 'current'}</td></tr>`)}</tbody></table></div>` : html`<p>No IAM snapshot yet: <code>trailwatch aws sync</code>, or <code>trailwatch import iam</code>.</p>`}`,
    context,
  )
}

export function credentialsPage(report: CredentialAgeReport, summary: string[], context: PageContext): Html {
  return page(
    'Credential age',
    html`<h1>Credential age</h1>
<ul>${summary.map((s) => html`<li>${s}</li>`)}</ul>
<div class="scroll"><table><thead><tr><th scope="col">Account</th><th scope="col">User</th><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Age</th><th scope="col">Last used</th><th scope="col">Standing</th></tr></thead><tbody>
${report.keys.map((k) => html`<tr><td>${k.account}</td><td>${k.user}</td><td>${k.access_key_id || '(unmatched)'}</td><td>${k.status}</td><td>${k.age_days === null ? '?' : `${String(k.age_days)} days`}</td><td>${time(k.last_used)}</td><td>${k.standing}</td></tr>`)}
</tbody></table></div>
<h2>Users: console passwords and MFA</h2>
<div class="scroll"><table><thead><tr><th scope="col">Account</th><th scope="col">User</th><th scope="col">Password</th><th scope="col">Last sign-in</th><th scope="col">MFA</th><th scope="col">Standing</th></tr></thead><tbody>
${report.users.map((u) => html`<tr><td>${u.account}</td><td>${u.user}</td><td>${u.password ? (u.password_age_days === null ? 'yes' : `set ${String(u.password_age_days)} days ago`) : 'none'}</td><td>${time(u.password_last_used)}</td><td>${u.mfa_active ? 'yes' : html`<strong>no</strong>`}</td><td>${u.standing}</td></tr>`)}
</tbody></table></div>`,
    context,
  )
}

export function auditPage(entries: AuditEntry[], context: PageContext): Html {
  return page(
    'Audit log',
    html`<h1>Audit log</h1>
<div class="scroll"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">To what</th><th scope="col">Detail</th><th scope="col">From</th></tr></thead><tbody>
${entries.map((a) => html`<tr><td>${time(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.target}</td><td>${a.detail}</td><td>${a.address}</td></tr>`)}
</tbody></table></div>`,
    context,
  )
}

export function loginPage(error?: string): Html {
  return page(
    'Sign in',
    html`<form class="login" method="post" action="/login" aria-label="Sign in">
<h1>Sign in</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<div><label for="user">User</label><input type="text" id="user" name="user" autocomplete="username" required></div>
<div><label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required></div>
<div><button class="primary" type="submit">Sign in</button></div>
</form>`,
  )
}

export function messagePage(title: string, message: string, context?: PageContext): Html {
  return page(title, html`<h1>${title}</h1><p>${message}</p>`, context)
}
