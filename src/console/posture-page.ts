import { POSTURE_STATES, type PostureDecision, type PostureFinding, type PostureState } from '../alerts/posture.js'
import { html, type Html } from '../html.js'
import { alertHeadline } from '../alerts/table.js'
import { runbookLineText } from '../runbook.js'
import { SEVERITIES } from '../severity.js'
import { plural } from '../text.js'
import { utcText } from '../time.js'
import { csrfField, dataTable, ident, options, page, principalLink, queryString, severity, time, type PageContext } from './layout.js'

export interface PostureFilter {
  /** undefined: every state. */
  state: PostureState | undefined
  severity: string | undefined
}

const INTRO = html`<p>States of the accounts to fix, kept apart from incidents: keys past their rotation, administrators on users, trust in strangers, a weak password policy. A finding is open until its check no longer finds it (fixed), or someone accepts the risk until a day, saying why.</p>`

function stateText(finding: PostureFinding): Html {
  const { state, decision } = finding
  if (state === 'accepted' && decision) return html`<span class="status">accepted</span><br><span class="muted">until ${utcText(decision.until ?? '')} by ${decision.actor}</span>`
  if (state === 'fixed') return html`<span class="status">fixed</span><br><span class="muted">not found by the check of ${utcText(finding.checkedAt)}</span>`
  return html`<span class="status">open</span>`
}

function postureLink(finding: PostureFinding): Html {
  return html`<a href="/posture/${encodeURIComponent(finding.alert.alert_id)}">${alertHeadline(finding.alert)}</a>`
}

export function postureListPage(findings: PostureFinding[], filter: PostureFilter, shown: number, context: PageContext): Html {
  const counts = POSTURE_STATES.map((state) => [state, findings.filter((f) => f.state === state).length] as const)
  const listed = findings.filter((f) => (!filter.state || f.state === filter.state) && (!filter.severity || SEVERITIES.indexOf(f.alert.severity) >= SEVERITIES.indexOf(filter.severity as (typeof SEVERITIES)[number])))
  const rows = listed.slice(0, shown).map((f) => [severity(f.alert.severity), postureLink(f), principalLink(f.alert.principal), f.alert.account, time(f.alert.first_seen), stateText(f)])
  return page(
    'Posture',
    html`<h1>Posture</h1>${INTRO}
<p>${counts.map(([state, n], i) => html`${i ? ' · ' : ''}<a href="/posture${queryString({ state })}">${String(n)} ${state}</a>`)}</p>
<form class="filters" method="get" action="/posture" aria-label="Filter posture findings">
<div><label for="p-state">State</label><select id="p-state" name="state">${options(POSTURE_STATES, filter.state, 'any')}</select></div>
<div><label for="p-severity">Severity at least</label><select id="p-severity" name="severity">${options(SEVERITIES, filter.severity, 'any')}</select></div>
<div><button class="primary" type="submit">Show</button></div>
</form>
<p>${plural(listed.length, 'finding')}${listed.length > shown ? `, the ${String(shown)} worst shown` : ''}.</p>
${dataTable('Posture findings, worst first', ['Severity', 'Finding', 'Who', 'Account', 'Since', 'State'], rows)}`,
    context,
  )
}

export interface PostureView {
  finding: PostureFinding
  history: PostureDecision[]
  notice?: string | undefined
  error?: string | undefined
}

function evidenceText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** What a person can decide now: accept an open finding, or take an acceptance back; a fixed one needs nothing. */
function decisionSection({ finding }: PostureView, context: PageContext, today: string): Html {
  const id = encodeURIComponent(finding.alert.alert_id)
  const { state, decision } = finding
  const said = decision ? html`<p>Last decision: ${decision.action} by ${decision.actor}, ${time(decision.at)}${decision.until ? html`, until ${time(decision.until)}` : ''}: ${decision.reason}</p>` : ''
  if (state === 'fixed') return html`<h2 id="decide">Fixed</h2><p>The check of ${time(finding.checkedAt)} no longer found it. Found again, it is open again.</p>${said}`
  if (state === 'accepted') {
    return html`<h2 id="decide">Accepted</h2>${said}
<div class="actions"><form method="post" action="/posture/${id}/reopen" aria-label="Take the acceptance back">${csrfField(context)}
<div><label for="p-reason">Reason</label><input type="text" id="p-reason" name="reason" required maxlength="500"></div>
<div><button class="primary" type="submit">Take the acceptance back</button></div></form></div>
<p class="muted"><code>trailwatch posture reopen ${finding.alert.alert_id} --reason …</code> does the same.</p>`
  }
  return html`<h2 id="decide">Open</h2>${said}
<div class="actions"><form method="post" action="/posture/${id}/accept" aria-label="Accept the risk">${csrfField(context)}
<div><label for="p-reason">Why it may stay</label><input type="text" id="p-reason" name="reason" required maxlength="500"></div>
<div><label for="p-until">Until (UTC day)</label><input type="date" id="p-until" name="until" required min="${today}"></div>
<div><button class="primary" type="submit">Accept the risk</button></div></form></div>
<p class="muted"><code>trailwatch posture accept ${finding.alert.alert_id} --until DAY --reason …</code> does the same.</p>`
}

export function posturePage(view: PostureView, context: PageContext, today: string): Html {
  const { alert } = view.finding
  const evidence = Object.entries(alert.evidence).filter(([, value]) => value !== null && value !== '')
  return page(
    alertHeadline(alert),
    html`${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}<h1>${alertHeadline(alert)}</h1>
<dl class="facts"><dt>Severity</dt><dd>${severity(alert.severity)}</dd><dt>State</dt><dd>${stateText(view.finding)}</dd>
<dt>Who</dt><dd>${principalLink(alert.principal)}</dd><dt>Account</dt><dd>${alert.account}</dd>
<dt>Check</dt><dd><a href="/detectors/${encodeURIComponent(alert.detector)}">${alert.detector}</a></dd><dt>Since</dt><dd>${time(alert.first_seen)}</dd>
<dt>Last found</dt><dd>${time(alert.detected_at)}</dd><dt>Last check</dt><dd>${time(view.finding.checkedAt || null)}</dd></dl>
<h2>Why it matters</h2><p>${alert.why}</p>
<h2>How to fix it</h2><ul>${alert.runbook.map((line) => html`<li>${runbookLineText(line)}</li>`)}</ul>
${evidence.length ? html`<h2>What the check saw</h2><dl class="facts">${evidence.map(([key, value]) => html`<dt>${key.replaceAll('_', ' ')}</dt><dd>${ident(evidenceText(value))}</dd>`)}</dl>` : ''}
${decisionSection(view, context, today)}
${view.history.length ? dataTable('Decisions, oldest first', ['When', 'Who', 'Decision', 'Until', 'Why'], view.history.map((d) => [time(d.at), d.actor, d.action, d.until ? time(d.until) : '—', d.reason])) : ''}`,
    context,
  )
}
