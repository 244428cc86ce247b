import { detectorLabel, type RunbookStep } from '../alerting/incident-email.js'
import { html, joinHtml, type Html, type HtmlValue } from '../html.js'
import type { Incident } from '../incidents/incidents.js'
import { alertHeadline } from '../alerts/table.js'
import type { Containment } from '../contain/contain.js'
import { containSection, type AttachedPolicy } from './contain-page.js'
import { collapseRepeats, type Timeline, type TimelineEntry, type TimelineRow } from '../incidents/timeline.js'
import { evidenceEventNames, type TriggerEvent } from '../incidents/triggers.js'
import { mostSevereFirst, worstFirst } from '../severity.js'
import { plural } from '../text.js'
import { addressLink, csrfField, dataTable, eventsLink, ident, keyLink, options, page, principalLink, queryString, severity, time, type PageContext } from './layout.js'

/** Rows of the timeline a page shows: a few screens, never the whole of a busy key's day. */
export const TIMELINE_ROWS = 100
/** Of each kind the first screen names, how many before "and N more". */
const FIRST_SCREEN = 6

/** What the timeline is narrowed to: each a value seen in it, chosen from a list. */
export interface TimelineFilter {
  principal?: string | undefined
  event?: string | undefined
  /** An error code, or `any`. */
  error?: string | undefined
  address?: string | undefined
  /** 1-based. */
  page: number
}

export interface IncidentView {
  incident: Incident
  triggers: TriggerEvent[]
  runbook: RunbookStep[]
  timeline: Timeline
  filter: TimelineFilter
  /** The alert whose detector and principal the suppress form starts from (`?suppress=ALERT_ID`); else the first. */
  suppressFrom?: string | undefined
  aliases: Record<string, string>
  /** What was contained from this incident, or asked to be. */
  containments: Containment[]
  /** Managed policies its calls attached, which containment may detach. */
  attached: AttachedPolicy[]
  notice?: string | undefined
  error?: string | undefined
}

function matches(row: TimelineEntry, filter: TimelineFilter): boolean {
  if (row.type === 'alert') return !filter.principal || row.alert.principal === filter.principal
  return (
    (!filter.principal || row.principal === filter.principal) &&
    (!filter.event || row.event === filter.event) &&
    (!filter.address || row.address === filter.address) &&
    (!filter.error || (filter.error === 'any' ? row.error !== '' : row.error === filter.error))
  )
}

function some(items: Html[], noun: string): Html {
  if (items.length === 0) return html`<span class="muted">none recorded</span>`
  const more = items.length - FIRST_SCREEN
  return html`${joinHtml(items.slice(0, FIRST_SCREEN), ', ')}${more > 0 ? html` <span class="muted">and ${plural(more, `more ${noun}`, `more ${noun}s`)}</span>` : ''}`
}

/** The calls that changed something and succeeded, those an alert names first, then the most frequent: what the responder may have to undo. */
function changes(timeline: Timeline, incident: Incident): Html[] {
  const counts = new Map<string, number>()
  for (const entry of timeline.entries) if (entry.type === 'call' && !entry.read_only && !entry.error) counts.set(entry.event, (counts.get(entry.event) ?? 0) + 1)
  const named = new Set(incident.members.flatMap((m) => evidenceEventNames(m.alert.evidence)))
  const principal = incident.principals.length === 1 ? incident.principals[0] : undefined
  return [...counts]
    .sort(([a, x], [b, y]) => Number(named.has(b)) - Number(named.has(a)) || y - x || a.localeCompare(b))
    .map(([event, n]) => eventsLink({ event, principal, from: timeline.from, before: timeline.to }, `${event}${n > 1 ? ` ×${String(n)}` : ''}`))
}

/** What happened, in the first screen: how bad, who, with which keys, from where, what changed, and the worst alerts. */
function summary(view: IncidentView, addresses: TriggerEvent[]): Html {
  const { incident } = view
  const worst = mostSevereFirst(incident.members.map((m) => m.alert)).slice(0, 3)
  const keys = incident.identities.filter((i) => i.startsWith('key:')).map((i) => keyLink(i.slice(4)))
  const where = addresses.map((t) => html`${addressLink(t.address, t.lists)}${t.country ? ` (${t.country}${t.asn ? `, AS${String(t.asn)}` : ''})` : ''}`)
  return html`<section class="summary sev-border-${incident.severity}" aria-label="What happened">
<dl class="facts">
<dt>Who</dt><dd>${joinHtml(incident.principals.map(principalLink), ', ')}</dd>
<dt>Keys</dt><dd>${some(keys, 'key')}</dd>
<dt>From</dt><dd>${some(where, 'address')}</dd>
<dt>Changed</dt><dd>${some(changes(view.timeline, incident), 'call')}</dd>
<dt>When</dt><dd>${time(incident.first_seen)} → ${time(incident.last_seen)}</dd>
<dt>Worst</dt><dd><ul>${worst.map((a) => html`<li>${severity(a.severity)} ${detectorLabel(a)}: ${alertHeadline(a)}</li>`)}</ul></dd>
</dl></section>`
}

function timelineCells(row: TimelineRow): HtmlValue[] {
  if (row.type === 'alert') return [time(row.time), html`${severity(row.alert.severity)} alert`, html`${detectorLabel(row.alert)}: ${row.alert.title}`, '', '', '']
  const marks = [...row.new.map((n) => html`<span class="new">${n}</span>`), ...(row.error ? [html`<span class="failed">failed: ${row.error}</span>`] : [])]
  return [
    row.count > 1 ? html`${time(row.time)} <span class="nowrap">→ ${time(row.last)}</span>` : time(row.time),
    principalLink(row.principal),
    html`${eventsLink({ event: row.event, principal: row.principal }, row.event)}${row.count > 1 ? html` <strong>×${String(row.count)}</strong>` : ''}${row.hop ? html`<br><span class="muted">↳ ${ident(row.hop)}</span>` : ''}`,
    html`${addressLink(row.address)}${row.country ? ` (${row.country})` : ''}`,
    keyLink(row.key),
    joinHtml(marks, ' '),
  ]
}

/** Where a timeline's filters and pages lead: its page, and the fields that name its subject. */
interface TimelineTarget {
  path: string
  subject: Record<string, string>
  /** Said when more calls matched than were read. */
  rest: Html
}

function timelineSection(timeline: Timeline, filter: TimelineFilter, target: TimelineTarget): Html {
  const calls = timeline.entries.filter((e): e is Extract<typeof e, { type: 'call' }> => e.type === 'call')
  const rows = collapseRepeats(timeline.entries.filter((e) => matches(e, filter)))
  const pages = Math.max(1, Math.ceil(rows.length / TIMELINE_ROWS))
  const current = Math.min(filter.page, pages)
  const shown = rows.slice((current - 1) * TIMELINE_ROWS, current * TIMELINE_ROWS)
  const distinct = (pick: (call: (typeof calls)[number]) => string): string[] => [...new Set(calls.map(pick).filter(Boolean))].sort()
  const asked = { ...target.subject, principal: filter.principal ?? target.subject.principal, event: filter.event, error: filter.error, address: filter.address }
  const pageLink = (n: number, label: string): Html => html`<a href="${target.path}${queryString({ ...asked, page: String(n) })}#timeline">${label}</a>`
  const field = (name: string, label: string, values: string[], selected: string | undefined): Html =>
    html`<div><label for="t-${name}">${label}</label><select id="t-${name}" name="${name}">${options(values, selected, 'all')}</select></div>`
  return html`<h2 id="timeline">Timeline</h2>
<p>${plural(calls.length, 'call')}${timeline.truncated ? html` (the first ones: ${target.rest})` : ''}, ${time(timeline.from)} → ${time(timeline.to)}; the same call repeated is one row (×N, first → last); what was new for the principal is marked.</p>
<form class="filters" method="get" action="${target.path}#timeline" aria-label="Filter the timeline">
${Object.entries(target.subject).map(([name, value]) => (name === 'principal' ? '' : html`<input type="hidden" name="${name}" value="${value}">`))}
${field('principal', 'Principal', distinct((c) => c.principal), filter.principal)}
${field('event', 'Call', distinct((c) => c.event), filter.event)}
${field('error', 'Error', ['any', ...distinct((c) => c.error)], filter.error)}
${field('address', 'Address', distinct((c) => c.address), filter.address)}
<div><button class="primary" type="submit">Show</button></div>
</form>
<p>${plural(rows.length, 'row')}${pages > 1 ? `, page ${String(current)} of ${String(pages)}` : ''}.</p>
${dataTable('Calls and alerts, in time order', ['Time', 'Who', 'Call', 'From', 'Key', 'Marks'], shown.map(timelineCells), (i) => (shown[i]?.type === 'alert' ? 'alert' : ''))}
${pages > 1 ? html`<nav class="pager" aria-label="Timeline pages">${current > 1 ? pageLink(current - 1, '← Earlier') : ''}${current < pages ? pageLink(current + 1, 'Later →') : ''}</nav>` : ''}`
}

/** A principal's or an address's calls over a day. */
export function timelinePage(title: string, timeline: Timeline, filter: TimelineFilter, subject: Record<string, string>, context: PageContext): Html {
  return page(title, html`<h1>${title}</h1>${timelineSection(timeline, filter, { path: '/timeline', subject, rest: html`<code>trailwatch timeline</code> with a narrower <code>--from</code> and <code>--to</code>` })}`, context)
}

/** Who has the case, its ticket elsewhere, the forms to change them or comment, and everything that happened to it. */
function caseSection(view: IncidentView, context: PageContext): Html {
  const { incident } = view
  const form = (name: string, label: string, control: Html): Html =>
    html`<form method="post" action="/incidents/${encodeURIComponent(incident.id)}/${name}" aria-label="${label}">${csrfField(context)}${control}<div><button class="primary" type="submit">${label}</button></div></form>`
  return html`<h2 id="case">Case</h2>
<dl class="facts"><dt>Assignee</dt><dd>${incident.assignee || html`<span class="muted">nobody</span>`}</dd>
<dt>Ticket</dt><dd>${/^https?:\/\//i.test(incident.ticket) ? html`<a href="${incident.ticket}" rel="noopener noreferrer">${ident(incident.ticket)}</a>` : html`<span class="muted">none</span>`}</dd></dl>
<div class="actions">
${form('assign', 'Assign', html`<div><label for="c-assign">Assign to (empty: nobody)</label><input type="text" id="c-assign" name="text" maxlength="128" value="${incident.assignee || context.user}"></div>`)}
${form('ticket', 'Link ticket', html`<div><label for="c-ticket">Ticket address (empty: none)</label><input type="url" id="c-ticket" name="text" maxlength="2000" value="${incident.ticket}" placeholder="https://tracker.example.com/SEC-123"></div>`)}
${form('comment', 'Comment', html`<div><label for="c-comment">Comment</label><textarea id="c-comment" name="text" required maxlength="4000" rows="3"></textarea></div>`)}
</div>
<h3>History</h3>
<ol>${incident.actions.map((a) => html`<li>${time(a.at)} <strong>${a.action}</strong> by ${a.actor}${a.reason ? html`: ${a.action === 'ticket' ? ident(a.reason) : a.reason}` : ''}</li>`)}</ol>`
}

export function incidentPage(view: IncidentView, context: PageContext, today: string): Html {
  const { incident } = view
  const withAlias = (account: string): string => (view.aliases[account] ? `${account} (${view.aliases[account] ?? ''})` : account)
  const addresses = [...new Map(view.triggers.filter((t) => t.address).map((t) => [t.address, t])).values()]
  const chosen = (incident.members.find((m) => m.alert.alert_id === view.suppressFrom) ?? incident.members[0])?.alert
  const suppressLike = (alertId: string): Html => html`<a href="/incidents/${encodeURIComponent(incident.id)}${queryString({ suppress: alertId })}#suppress">Suppress alerts like this</a>`
  const action = (name: string, label: string, fields: Html): Html =>
    html`<form method="post" action="/incidents/${encodeURIComponent(incident.id)}/${name}" aria-label="${label}">${csrfField(context)}${fields}<div><button class="primary" type="submit">${label}</button></div></form>`
  const reason = (name: string): Html => html`<div><label for="${name}-reason">Reason</label><input type="text" id="${name}-reason" name="reason" required maxlength="500"></div>`
  const members = [...incident.members].sort((a, b) => worstFirst(a.alert, b.alert))
  return page(
    `Incident ${incident.id}`,
    html`${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<p>${severity(incident.severity)} <span class="status">${incident.status}</span> · incident ${incident.id} · ${plural(incident.members.length, 'alert')} · ${incident.accounts.map(withAlias).join(', ')}</p>
<h1>${incident.title}</h1>
${summary(view, addresses)}
<p><a href="#alerts">Alerts</a> · <a href="#triage">Acknowledge, resolve or suppress</a> · <a href="#case">Case</a> · <a href="#contain">Contain</a> · <a href="#runbook">Runbook</a> · <a href="#timeline">Timeline</a></p>
<h2 id="alerts">Alerts, worst first, and why each belongs</h2>
${dataTable(
  'The incident’s alerts, worst first',
  ['Severity', 'Alert', 'Why it belongs', 'Seen'],
  members.map((m) => [severity(m.alert.severity), html`${detectorLabel(m.alert)}: ${m.alert.title}<br><span class="muted">${m.alert.why}</span><br>${suppressLike(m.alert.alert_id)}`, m.link, html`${time(m.alert.first_seen)}<br>${time(m.alert.last_seen)}`]),
)}
<h2 id="triage">Triage</h2>
<div class="actions">
${action('ack', 'Acknowledge', reason('ack'))}
${action('resolve', 'Resolve', reason('resolve'))}
${action(
  'suppress',
  'Suppress',
  html`<div id="suppress"><label for="s-detector">Detector</label><select id="s-detector" name="detector">${options(incident.detectors, view.suppressFrom ? chosen?.detector : incident.detectors.length === 1 ? incident.detectors[0] : undefined, 'every detector')}</select></div>
<div><label for="s-principal">Principal (ARN, * allowed)</label><input type="text" id="s-principal" name="principal" value="${chosen?.principal ?? ''}"></div>
<div><label for="s-owner">Owner</label><input type="text" id="s-owner" name="owner" required value="${context.user}"></div>
<div><label for="s-reason">Reason</label><input type="text" id="s-reason" name="reason" required maxlength="500"></div>
<div><label for="s-expires">Expires (UTC day)</label><input type="date" id="s-expires" name="expires" required min="${today}"></div>`,
)}
</div>
${caseSection(view, context)}
${containSection(incident, view.attached, view.containments)}
<h2>Addresses</h2>
${addresses.length ? dataTable('Addresses the alerts name', ['Address', 'Country', 'Network'], addresses.map((t) => [addressLink(t.address, t.lists), t.country || '—', t.asn ? `AS${String(t.asn)} ${t.as_org}` : t.public ? 'public' : 'private or AWS'])) : html`<p>No address recorded.</p>`}
<h2 id="runbook">Runbook</h2>
<ol>${view.runbook.map((s) => html`<li>${s.text}${s.command ? html`<pre>${s.command}</pre>` : ''}</li>`)}</ol>
${timelineSection(view.timeline, view.filter, { path: `/incidents/${incident.id}`, subject: {}, rest: html`<code>trailwatch timeline --incident ${incident.id}</code> gives them all` })}`,
    context,
  )
}
