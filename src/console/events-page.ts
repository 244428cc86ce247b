import type { EventFilter, EventPage } from '../events/search.js'
import { html, type Html, type HtmlValue } from '../html.js'
import { plural, shellWord } from '../text.js'
import { addressLink, dataTable, eventsLink, ident, keyLink, page, principalLink, queryString, time, type PageContext } from './layout.js'

export interface EventsView {
  filter: EventFilter
  /** As asked: ISO 8601 times or UTC days, or empty for all stored. */
  from: string
  before: string
  found: EventPage
  error?: string | undefined
}

const FIELDS: [keyof EventFilter, string, string][] = [
  ['principal', 'Principal ARN', ''],
  ['key', 'Access key', ''],
  ['session', 'Session name', ''],
  ['address', 'Address', ''],
  ['event', 'Call', 'e.g. DeleteTrail'],
  ['error', 'Error', 'a code, or any'],
  ['resource', 'Resource', 'an ARN or a name'],
  ['account', 'Account', ''],
  ['list', 'Address list', 'e.g. tor-exit'],
]

function resultCells(e: EventPage['events'][number]): HtmlValue[] {
  return [
    time(e.time),
    html`${eventsLink({ event: e.event }, e.event)}<br><span class="muted">${e.service}</span>${e.error ? html`<br><span class="failed">failed: ${eventsLink({ error: e.error }, e.error)}</span>` : ''}`,
    html`${principalLink(e.principal)}${e.session ? html`<br><span class="muted">session ${eventsLink({ session: e.session }, ident(e.session))}</span>` : ''}<br><span class="muted">account ${eventsLink({ account: e.account }, e.account)}</span>`,
    keyLink(e.key),
    html`${addressLink(e.address, e.lists)}${e.country ? ` (${e.country})` : ''}<br><span class="muted">${e.region}</span>`,
  ]
}

/** The search form, its results newest first, and the link to older ones: every value a link to its own search. */
export function eventsPage(view: EventsView, context: PageContext): Html {
  const { filter, found } = view
  const asked = Object.fromEntries(FIELDS.map(([name]) => [name, filter[name]]))
  const described = FIELDS.filter(([name]) => filter[name]).map(([name, label]) => `${label.toLowerCase()} ${filter[name] ?? ''}`)
  const older = found.older ? `/events${queryString({ ...asked, from: view.from, before: found.older.before, before_event: found.older.beforeEvent })}` : undefined
  return page(
    'Events',
    html`<h1>Events${described.length ? html`: ${described.join(', ')}` : ''}</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<details${described.length ? '' : html` open`}><summary>${described.length ? 'Change the search' : 'Search'}</summary>
<form class="filters" method="get" action="/events" aria-label="Search events">
${FIELDS.map(([name, label, hint]) => html`<div><label for="e-${name}">${label}</label><input type="text" id="e-${name}" name="${name}" value="${filter[name] ?? ''}" maxlength="2048"${hint ? html` placeholder="${hint}"` : ''}></div>`)}
<div><label for="e-from">From (UTC)</label><input type="text" id="e-from" name="from" value="${view.from}" placeholder="2026-11-24 or ISO 8601"></div>
<div><label for="e-before">Before (UTC)</label><input type="text" id="e-before" name="before" value="${view.before}" placeholder="empty: up to now"></div>
<div><button class="primary" type="submit">Search</button></div>
</form></details>
<p>${plural(found.events.length, 'event')}, newest first${older ? ' (more below)' : ''}. The same search from a shell: <code>trailwatch events${FIELDS.filter(([name]) => filter[name]).map(([name]) => ` --${name === 'address' ? 'ip' : name} ${shellWord(filter[name] ?? '')}`).join('')}</code></p>
${found.events.length ? dataTable('Events found, newest first', ['Time', 'Call', 'Who', 'Key', 'From'], found.events.map(resultCells)) : html`<p>No event matches.</p>`}
${older ? html`<nav class="pager" aria-label="Result pages"><a href="${older}">Older →</a></nav>` : ''}`,
    context,
  )
}
