import type { Finding, StoredAlert } from '../alerts/table.js'
import { html, type Html } from '../html.js'
import { plural } from '../text.js'
import { detectorLabel } from '../alerting/incident-email.js'
import type { SuppressionRule } from '../alerting/suppressions.js'
import { INCIDENT_STATUSES, type Incident } from '../incidents/incidents.js'
import { shortPrincipal } from '../principals.js'
import { tacticOf, type AttackCoverage } from '../alerts/tactics.js'
import type { SnapshotAge } from '../iam/snapshots.js'
import { cutText, pathText } from '../iam/paths.js'
import type { Reach } from '../iam/reach.js'
import type { DetectorSwitch } from '../alerts/switches.js'
import type { CredentialAgeReport } from '../reports/credential-age.js'
import { centroidOf } from '../countries.js'
import { runbookLineText } from '../runbook.js'
import { utcDays } from '../time.js'
import { SEVERITIES } from '../severity.js'
import { spanText } from '../working-day.js'
import type { KnownWorkingTime } from '../people/working-time.js'
import type { AuditEntry } from './audit.js'
import { addressLink, csrfField, dataTable, eventsLink, ident, keyLink, options, page, principalLink, queryString, severity, time, type PageContext } from './layout.js'
import { alertsOverTime, attackMatrix, countryMap, countsPerDay, escalationPicture, rankedBars, type DayCounts } from './charts.js'
import type { DetectorHealth, Freshness, KeyUse, Network, OverviewData } from './queries.js'

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
    .map((i) => [
      severity(i.severity),
      html`<span class="status">${i.status}</span>${i.assignee ? html`<br><span class="muted">${i.assignee}</span>` : ''}`,
      html`<a href="/incidents/${encodeURIComponent(i.id)}">${i.title}</a>`,
      html`${i.principals.slice(0, 3).map((p, n) => html`${n ? ', ' : ''}${principalLink(p)}`)}${i.principals.length > 3 ? ` +${String(i.principals.length - 3)}` : ''}`,
      String(i.members.length),
      time(i.last_seen),
    ])
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
${dataTable('Incidents, most recent first', ['Severity', 'Status and assignee', 'What', 'Who', 'Alerts', 'Last seen'], rows)}`,
    context,
  )
}

export interface PrincipalView {
  principal: string
  /** The 30 days up to the principal's last call (or now, when sooner): their own span, not the clock's. */
  span: { from: string; to: string }
  /** The person's clock and working day, as the off-hours detector judges them at the end of the span. */
  working: KnownWorkingTime
  networks: Network[]
  /** Calls per UTC day of the span. */
  activity: { day: string; count: number }[]
  hours: number[]
  /** Long-term keys the principal called with in the span, each with the credential report's row when it names the key. */
  keysUsed: KeyUse[]
  /** The credential report's keys of this user that no call in the span used. */
  keysIdle: CredentialAgeReport['keys']
  alerts: StoredAlert[]
  /** Its ways to administrator in the latest paths computed, when it has any. */
  reach: Reach | undefined
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
  if (!day) return 'No working day learned: no hours in the four weeks before their last call.'
  return `Working day learned from ${plural(historyDays, 'day')} of the four weeks before their last call: ${spanText(day.weekday)} on weekdays, ${spanText(day.weekend)} at weekends (margin included).`
}

function keysSection(view: PrincipalView): Html {
  const used = view.keysUsed.map((k) => [
    keyLink(k.key),
    html`${time(k.first_used)}<br>${time(k.last_used)}`,
    String(k.calls),
    k.countries.join(', ') || '—',
    k.reported ? `${k.reported.status}, ${k.reported.age_days === null ? 'age unknown' : `${String(k.reported.age_days)} days old`}: ${k.reported.standing}` : 'not in the credential report',
  ])
  const idle = view.keysIdle.map((k) => [k.access_key_id ? ident(k.access_key_id) : html`<span class="muted">a key the report does not name</span>`, k.status, k.age_days === null ? '?' : `${String(k.age_days)} days`, time(k.last_used), k.standing])
  return html`<h2>Access keys</h2>
${used.length ? dataTable('Access keys used in the span', ['Key', 'First and last use', 'Calls', 'Countries', 'Credential report'], used) : html`<p>No long-term access key used in the span.</p>`}
${idle.length ? html`<h3>In the credential report, not used in the span</h3>${dataTable('Keys the credential report lists that no call in the span used', ['Key', 'Status', 'Age', 'Last used (report)', 'Standing'], idle)}` : ''}`
}

export function principalPage(view: PrincipalView, context: PageContext): Html {
  const countries = new Map<string, number>()
  for (const n of view.networks) if (n.country) countries.set(n.country, (countries.get(n.country) ?? 0) + n.calls)
  const range = { from: view.span.from, before: view.span.to }
  return page(
    shortPrincipal(view.principal),
    html`<h1>${shortPrincipal(view.principal)}</h1>
<p class="muted">${ident(view.principal)}</p>
<p>The 30 days to their last call: ${time(view.span.from)} → ${time(view.span.to)}. ${eventsLink({ principal: view.principal, ...range }, 'Their events')} · <a href="/timeline${queryString({ principal: view.principal, to: view.span.to })}">Timeline of their last 24 hours</a></p>
<h2>Activity</h2>
<div class="scroll">${countsPerDay(view.activity, 'call', 'per UTC day')}</div>
<h2>Countries</h2>
<p>${[...countries].map(([c, n]) => `${c} (${plural(n, 'call')})`).join(', ') || 'None: every address is private, an AWS service or unknown.'}</p>
${countries.size ? countryMap([...countries].flatMap(([code, calls]) => { const at = centroidOf(code); return at ? [{ code, calls, ...at }] : [] })) : ''}
<h2>Addresses</h2>
${view.networks.length ? dataTable('Addresses used in the span, most used first', ['Address', 'Country', 'Network', 'Days', 'Calls', 'Last seen'], view.networks.map((n) => [addressLink(n.address, n.lists), n.country || '—', n.asn ? `AS${String(n.asn)} ${n.as_org}` : n.address ? 'private or AWS' : 'none recorded', String(n.days), String(n.calls), time(n.last_seen)])) : html`<p>No call in the span.</p>`}
${view.principal.includes(':role/')
  ? html`<p>Hours of the week are learned for people; a role is many people and machines, and its days are in its activity above.</p>`
  : html`<h2>Hours of the week (${view.working.zone}${ZONE_SOURCE[view.working.source]})</h2>
${heatMap(view.hours)}
<p>${workingDayText(view.working)}</p>`}
${keysSection(view)}
${reachSection(view.principal, view.reach)}
<h2>Alerts</h2>
${view.alerts.length ? html`<ul>${view.alerts.map((a) => html`<li>${severity(a.severity)} ${time(a.last_seen)} ${detectorLabel(a)}: ${a.title}</li>`)}</ul>` : html`<p>No alerts.</p>`}`,
    context,
  )
}

/** What the identity can become: its paths to administrator drawn and written out, and the smallest change that cuts them. */
function reachSection(principal: string, reach: Reach | undefined): Html {
  if (!reach) return html`<h2>What it can become</h2>
<p>No path to administrator in the latest paths computed from the IAM snapshots (<code>trailwatch paths</code>).</p>`
  return html`<h2>What it can become</h2>
<p>It can become administrator in ${plural(reach.path.steps.length, 'step')}${reach.paths.length > 1 ? html`, and by ${plural(reach.paths.length, 'way')} to different administrators` : ''}: <code>trailwatch paths ${principal}</code> shows each step.</p>
<div class="scroll">${escalationPicture(reach.paths, reach.cut ?? [])}</div>
<ol>${reach.paths.map((p) => html`<li>${pathText(p)}</li>`)}</ol>
<p>${reach.cut ? html`The smallest change that cuts every path (dashed above): take away ${cutText(reach.cut)}.` : 'More separate paths than one change can cut: start with the first step of each.'}</p>`
}

export function suppressionsPage(rules: SuppressionRule[], context: PageContext, notice?: string): Html {
  return page(
    'Suppressions',
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}<h1>Suppressions in force</h1>
${rules.length
  ? dataTable(
      'Suppressions in force',
      ['Rule', 'Silences', 'Owner', 'Reason', 'Expires', ''],
      rules.map((r) => [
        r.rule_id,
        [r.detector && `detector ${r.detector}`, r.principal && `principal ${r.principal}`, r.cidr && `addresses ${r.cidr}`, r.account && `account ${r.account}`].filter(Boolean).join(', '),
        r.owner,
        r.reason,
        time(r.expires_at),
        html`<form method="post" action="/suppressions/${encodeURIComponent(r.rule_id)}/remove">${csrfField(context)}<button type="submit" aria-label="Remove rule ${r.rule_id}">Remove</button></form>`,
      ]),
    )
  : html`<p>None.</p>`}`,
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
${dataTable(
  'Detectors and rules',
  ['Detector', 'Schedule (UTC)', 'Last run', 'Lag', 'Alerts, 7 days', 'Failed runs'],
  detectors.map((d) => [html`<a href="/detectors/${encodeURIComponent(d.id)}">${ident(d.id)}</a><br><span class="muted">${d.title}</span>${d.switched?.enabled === false ? html`<br><span class="failed">turned off</span> by ${d.switched.actor}: ${d.switched.reason}` : ''}`, html`<code>${d.schedule}</code>`, time(d.last_run), lag(d.window_end), String(d.findings), d.failures ? html`<span class="failed">${String(d.failures)}</span>` : '0']),
)}`,
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
  /** How a person last set it, if anyone did. */
  switched: DetectorSwitch | undefined
  notice?: string | undefined
  error?: string | undefined
}

/** Whether the detector runs, who last changed that and why, and the form to change it. */
function switchSection(id: string, switched: DetectorSwitch | undefined, context: PageContext): Html {
  const on = switched?.enabled !== false
  return html`<h2 id="switch">${on ? 'On' : 'Turned off'}</h2>
<p>${switched ? html`${on ? 'Turned on again' : 'Turned off'} by ${switched.actor}, ${time(switched.at)}: ${switched.reason}` : 'Runs as configured.'} <code>trailwatch rules ${on ? 'disable' : 'enable'} ${id} --reason …</code> does the same.</p>
<div class="actions"><form method="post" action="/detectors/${encodeURIComponent(id)}/${on ? 'disable' : 'enable'}" aria-label="${on ? 'Turn off' : 'Turn on'}">${csrfField(context)}
<div><label for="d-reason">Reason</label><input type="text" id="d-reason" name="reason" required maxlength="500"></div>
<div><button class="primary" type="submit">${on ? 'Turn off' : 'Turn on'}</button></div></form></div>`
}

export function detectorPage({ history, days, switched, notice, error }: DetectorView, context: PageContext): Html {
  const { detector, findings: found } = history
  return page(
    detector.title,
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}${error ? html`<p class="error" role="alert">${error}</p>` : ''}<h1>${detector.title}</h1>
<dl class="facts"><dt>Id</dt><dd><code>${detector.id}</code></dd><dt>Severity</dt><dd>${severity(detector.severity)}</dd>
<dt>Schedule (UTC)</dt><dd><code>${detector.schedule}</code>, each run over ${detector.window}</dd><dt>ATT&amp;CK</dt><dd>${detector.attack.join(', ') || '—'}</dd></dl>
${switchSection(detector.id, switched, context)}
<h2>What it looks for</h2><ul>${detector.runbook.map((line) => html`<li>${runbookLineText(line)}</li>`)}</ul>
<h2>What it would have found, last ${plural(days, 'day')}</h2>
<p class="muted">Replayed over the stored history as its schedule would have run it, nothing stored or sent: the same as <code>trailwatch rules backtest ${detector.id} --days ${String(days)}</code>. <a href="?days=7">7 days</a> · <a href="?days=30">30 days</a></p>
${countsPerDay(history.days.map((d) => ({ day: d.day, count: d.findings })), 'finding', 'by the day each was first seen')}
${found.length ? html`${dataTable('What it would have found', ['Severity', 'First seen', 'Finding'], found.slice(0, 200).map((f) => [severity(f.severity), time(f.firstSeen), html`${principalLink(f.principal)}: ${f.title}`]))}${found.length > 200 ? html`<p class="muted">The first 200 of ${String(found.length)}.</p>` : ''}` : html`<p>Nothing in these days.</p>`}`,
    context,
  )
}

export function freshnessPage(rows: Freshness[], snapshots: SnapshotAge[], now: Date, context: PageContext): Html {
  const behind = (iso: string): string => `${String(Math.round((now.getTime() - Date.parse(iso)) / 60_000))} min`
  return page(
    'Data freshness',
    html`<h1>Data freshness, by account and region</h1>
<p>The newest event of the last 7 days, stalest first.</p>
${rows.length ? dataTable('Newest event by account and region', ['Account', 'Region', 'Newest event', 'Behind', 'Stored', 'Events'], rows.map((r) => [eventsLink({ account: r.account }, r.account), r.region, time(r.last_event), behind(r.last_event), time(r.last_stored), String(r.events)])) : html`<p>No events in the last 7 days.</p>`}
<h2>IAM state, by account</h2>
${snapshots.length ? dataTable('IAM snapshots by account', ['Account', 'Latest snapshot', 'Standing'], snapshots.map((s) => [s.account, time(s.taken_at), s.stale ? html`<span class="failed">older than 2 days: trailwatch aws sync</span>` : 'current'])) : html`<p>No IAM snapshot yet: <code>trailwatch aws sync</code>, or <code>trailwatch import iam</code>.</p>`}`,
    context,
  )
}

export function credentialsPage(report: CredentialAgeReport, summary: string[], context: PageContext): Html {
  return page(
    'Credential age',
    html`<h1>Credential age</h1>
<ul>${summary.map((s) => html`<li>${s}</li>`)}</ul>
${dataTable('Access keys', ['Account', 'User', 'Key', 'Status', 'Age', 'Last used', 'Standing'], report.keys.map((k) => [k.account, k.user, k.access_key_id ? keyLink(k.access_key_id) : html`<span class="muted">not named by the report</span>`, k.status, k.age_days === null ? '?' : `${String(k.age_days)} days`, time(k.last_used), k.standing]))}
<h2>Users: console passwords and MFA</h2>
${dataTable('Users: console passwords and MFA', ['Account', 'User', 'Password', 'Last sign-in', 'MFA', 'Standing'], report.users.map((u) => [u.account, u.arn ? principalLink(u.arn) : u.user, u.password ? (u.password_age_days === null ? 'yes' : `set ${String(u.password_age_days)} days ago`) : 'none', time(u.password_last_used), u.mfa_active ? 'yes' : html`<strong>no</strong>`, u.standing]))}`,
    context,
  )
}

/** What an audit row changed, as a link to its page when it has one. */
function auditTarget(target: string): Html | string {
  if (target.startsWith('inc-')) return html`<a href="/incidents/${encodeURIComponent(target)}">${target}</a>`
  if (/^[0-9a-f]{32}$/.test(target)) return html`<a href="/posture/${target}">${ident(target)}</a>`
  return target
}

export function auditPage(entries: AuditEntry[], context: PageContext): Html {
  return page(
    'Audit log',
    html`<h1>Audit log</h1>
${dataTable('Audit log, newest first', ['When', 'Who', 'What', 'To what', 'Detail', 'From'], entries.map((a) => [time(a.at), a.actor, a.action, auditTarget(a.target), a.detail, a.address]))}`,
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

/** Every day of the span, with its alerts by severity and the incidents that began on it. */
function dayCounts(data: OverviewData): DayCounts[] {
  return utcDays(Date.parse(data.span.from), Date.parse(data.span.to)).map((day) => ({
    day,
    bySeverity: Object.fromEntries(data.days.filter((d) => d.day === day).map((d) => [d.severity, d.alerts])),
    incidents: data.incidentDays.filter((d) => d === day).length,
  }))
}

/**
 * Alerts and incidents over time, who and what raised the most, the ATT&CK techniques seen, and
 * those the enabled detectors and rules look for, as pictures.
 */
export function overviewPage(data: OverviewData, coverage: AttackCoverage, days: number, context: PageContext): Html {
  const window = { from: data.span.from.slice(0, 10), to: data.span.to.slice(0, 10) }
  const techniques = data.techniques.map((t) => ({ technique: t.technique, count: t.alerts, tactic: tacticOf(t.technique) })).filter((t) => t.tactic)
  const covered = coverage.tactics.flatMap(({ tactic, techniques: found }) => found.map((t) => ({ technique: t.technique, tactic, count: t.detectors.length })))
  const total = data.days.reduce((sum, d) => sum + d.alerts, 0)
  return page(
    'Overview',
    html`<h1>Overview</h1>
<p>${plural(total, 'threat alert')} and ${plural(data.incidentDays.length, 'incident')} in ${plural(days, 'day')}: ${time(data.span.from)} → ${time(data.span.to)}. <a href="/${queryString(window)}">The incidents of these days</a></p>
<form class="filters" method="get" action="/overview" aria-label="Choose the days"><div><label for="o-to">Up to (UTC day; empty: the newest alert)</label><input type="date" id="o-to" name="to" value="${window.to}"></div>
<div><label for="o-days">Days</label><input type="text" inputmode="numeric" id="o-days" name="days" value="${String(days)}" size="4"></div><div><button class="primary" type="submit">Show</button></div></form>
<h2>Alerts by day and severity</h2>
<p class="legend muted">${[...SEVERITIES].reverse().map((s) => html`<span>${severity(s)}</span>`)}<span>● an incident began</span></p>
<div class="scroll">${alertsOverTime(dayCounts(data))}</div>
<h2>Principals with the most alerts</h2>
${data.principals.length ? rankedBars(data.principals.map((p) => ({ label: shortPrincipal(p.principal), value: p.alerts, href: `/principals${queryString({ arn: p.principal })}`, worst: p.worst })), 'alert') : html`<p>None.</p>`}
<h2>Detectors and rules with the most alerts</h2>
${data.detectors.length ? rankedBars(data.detectors.map((d) => ({ label: d.detector, value: d.alerts, href: `/${queryString({ ...window, detector: d.detector })}`, worst: d.worst })), 'alert') : html`<p>None.</p>`}
<h2>ATT&amp;CK: the techniques the alerts named, by tactic</h2>
${techniques.length ? html`<div class="scroll">${attackMatrix(techniques, 'alert')}</div>` : html`<p>None.</p>`}
<h2>ATT&amp;CK: what the enabled detectors and rules look for</h2>
<p>${plural(covered.length, 'technique')} in ${plural(coverage.tactics.length, 'tactic')}, each shaded by how many detectors and rules name it${coverage.unmapped.length ? html`; ${plural(coverage.unmapped.length, 'detector')} name none` : ''}. <a href="/detectors">The detectors</a></p>
${covered.length ? html`<div class="scroll">${attackMatrix(covered, 'detector')}</div>` : html`<p>None.</p>`}`,
    context,
  )
}
