import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import { incidentRunbook } from '../alerting/incident-email.js'
import { addSuppression, listSuppressions, removeSuppression } from '../alerting/suppressions.js'
import { AppError } from '../errors.js'
import { changeIncident, DAY, incidentById, listIncidents, noteIncident, type CaseNote } from '../incidents/incidents.js'
import { buildTimeline, incidentTimelineSubject } from '../incidents/timeline.js'
import { attackCoverage } from '../alerts/tactics.js'
import { searchEvents, SEARCH_FIELDS, type EventFilter } from '../events/search.js'
import { triggerEvents } from '../incidents/triggers.js'
import { latestSnapshots } from '../iam/snapshots.js'
import { reachOf } from '../iam/reach.js'
import { knownWorkingTime } from '../people/working-time.js'
import { HttpError } from '../ops/server.js'
import { credentialAgeReport, credentialReportSummary } from '../reports/credential-age.js'
import { atLeast, SEVERITIES, type Severity } from '../severity.js'
import { detectorSwitches, switchDetector, switchedOff } from '../alerts/switches.js'
import { listContainments } from '../contain/contain.js'
import { readAudit } from './audit.js'
import { eventsPage } from './events-page.js'
import { postureListPage, posturePage } from './posture-page.js'
import { policiesAttached } from './contain-page.js'
import { decidePosture, postureFinding, postureFindings, postureHistory, POSTURE_STATES } from '../alerts/posture.js'
import { incidentPage, timelinePage, type IncidentView, type TimelineFilter } from './incident-page.js'
import type { PageContext } from './layout.js'
import { formField, sendPage, type ConsoleScope } from './scope.js'
import * as pages from './pages.js'
import { addressesOf, callsPerDay, dataFreshness, detectorHealth, hoursOfWeek, keysUsed, lastCallOf, overview, recentAlerts } from './queries.js'

const SHOWN_INCIDENTS = 500
/** Calls a timeline reads, to be collapsed, filtered and paged; `trailwatch timeline` gives the rest. */
const TIMELINE_CALLS = 5000
/** The overview's days by default, and at most: a year and a little. */
const OVERVIEW_DAYS = 30
const MAX_OVERVIEW_DAYS = 400
/** Events a search page lists. */
const EVENTS_SHOWN = 100
const INCIDENT_ID = /^inc-[0-9a-f]{12}$/
/** How far back a detector's page replays by default, and at most. */
const HISTORY_DAYS = 30
const SUPPRESSION_ID = /^[0-9a-f]{8}$/
const ALERT_ID = /^[0-9a-f]{32}$/
/** Posture findings a page lists; `trailwatch posture list` gives the rest. */
const SHOWN_POSTURE = 500
/** The case forms of an incident page, by the action in their address. */
const CASE_FORMS: Partial<Record<string, CaseNote>> = { assign: 'assigned', comment: 'commented', ticket: 'ticket' }
const DONE: Record<string, string> = {
  acknowledged: 'Incident acknowledged.',
  resolved: 'Incident resolved.',
  suppressed: 'Suppression added: trailwatch suppress list shows it.',
  assigned: 'Assignee changed.',
  commented: 'Comment added.',
  ticket: 'Ticket link changed.',
  accepted: 'Risk accepted: the finding is told to nobody until the acceptance ends.',
  reopened: 'Acceptance taken back: the finding is open.',
}

type IdRequest = FastifyRequest<{ Params: { id: string } }>

/** A form field or query parameter with something in it; an empty one is absent. */
function filled(value: string | null): string | undefined {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? undefined : trimmed
}

/** A UTC day from a form or a query string, or the fallback when absent or not a day. */
function day(value: string | null, fallback: string): string {
  return value && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : fallback
}

export function query(request: FastifyRequest): URLSearchParams {
  return new URL(request.url, 'http://console').searchParams
}

export function user(request: FastifyRequest): string {
  return request.session.user ?? ''
}

export function pageContext(request: FastifyRequest, reply: FastifyReply, scope: ConsoleScope): PageContext {
  const name = user(request)
  return { user: name, csrf: reply.generateCsrf(), signedIn: Boolean(scope.users) && !name.startsWith('local:') }
}

export function incidentId(request: IdRequest): string {
  if (!INCIDENT_ID.test(request.params.id)) throw new HttpError(404, `There is no page ${request.url.split('?')[0] ?? ''}.`)
  return request.params.id
}

/** A timeline's filters from the query string: each a value, the page a positive whole number. */
function timelineFilter(params: URLSearchParams): TimelineFilter {
  const page = Number(params.get('page') ?? 1)
  return {
    principal: filled(params.get('principal')),
    event: filled(params.get('event')),
    error: filled(params.get('error')),
    address: filled(params.get('address')),
    page: Number.isInteger(page) && page >= 1 ? page : 1,
  }
}

async function incidentView(scope: ConsoleScope, request: IdRequest, notice?: string, error?: string): Promise<IncidentView> {
  const { store } = scope
  const incident = await incidentById(store, incidentId(request))
  const calls = await triggerEvents(store, incident.members.map((m) => m.alert), 50)
  const triggers = [...calls.values()].flat()
  const { subject, span } = incidentTimelineSubject(incident)
  const timeline = await buildTimeline(store, subject, { from: new Date(span.from), to: new Date(span.to) }, TIMELINE_CALLS)
  const params = query(request)
  const containments = await listContainments(store, undefined, incident.id)
  return { incident, triggers, runbook: incidentRunbook(incident, triggers), timeline, filter: timelineFilter(params), suppressFrom: filled(params.get('suppress')), aliases: scope.aliases, containments, attached: policiesAttached(incident, calls), notice, error }
}

async function incidentsList(scope: ConsoleScope, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const now = scope.clock()
  const params = query(request)
  const filters: pages.IncidentFilters = {
    severity: SEVERITIES.find((s) => s === params.get('severity')),
    status: filled(params.get('status')),
    account: filled(params.get('account')),
    detector: filled(params.get('detector')),
    from: day(params.get('from'), new Date(now.getTime() - 7 * DAY).toISOString().slice(0, 10)),
    to: day(params.get('to'), now.toISOString().slice(0, 10)),
  }
  const to = new Date(Math.min(Date.parse(filters.to) + DAY - 1, now.getTime()))
  const all = await listIncidents(scope.store, { from: new Date(Date.parse(filters.from)), to })
  const chosen = all.filter(
    (i) =>
      (!filters.severity || atLeast(i.severity, filters.severity as Severity)) &&
      (!filters.status || i.status === filters.status) &&
      (!filters.account || i.accounts.includes(filters.account)) &&
      (!filters.detector || i.detectors.includes(filters.detector)),
  )
  const choices = { accounts: [...new Set(all.flatMap((i) => i.accounts))].sort(), detectors: [...new Set(all.flatMap((i) => i.detectors))].sort() }
  return sendPage(reply, 200, pages.incidentsPage(chosen, filters, choices, SHOWN_INCIDENTS, pageContext(request, reply, scope)))
}

async function principal(scope: ConsoleScope, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const arn = query(request).get('arn') ?? ''
  if (!arn) throw new HttpError(400, 'name a principal: /principals?arn=ARN')
  const { store } = scope
  // Their own span, as the detectors judged them: the 30 days to their last call.
  const end = await lastCallOf(store, arn, scope.clock())
  const span = { from: new Date(end.getTime() - 30 * DAY), to: end }
  const working = await knownWorkingTime(store, scope.principals, arn, new Date(end.getTime() + 1))
  const userName = arn.includes(':user/') ? (arn.split('/').pop() ?? '') : undefined
  const [networks, activity, hours, report, used, alerts, reach] = await Promise.all([
    addressesOf(store, arn, span),
    callsPerDay(store, arn, span),
    hoursOfWeek(store, arn, end, working.zone),
    userName ? credentialAgeReport(store, end) : undefined,
    keysUsed(store, arn, span),
    recentAlerts(store, arn),
    reachOf(store, [arn], scope.clock()),
  ])
  const reported = report?.keys.filter((k) => k.user === userName && arn.split(':')[4] === k.account) ?? []
  const keys = used.map((k) => ({ ...k, reported: reported.find((r) => r.access_key_id === k.key) }))
  const keysIdle = reported.filter((r) => !used.some((k) => k.key === r.access_key_id))
  return sendPage(reply, 200, pages.principalPage({ principal: arn, span: { from: span.from.toISOString(), to: end.toISOString() }, working, networks, activity, hours, keysUsed: keys, keysIdle, alerts, reach: reach.get(arn) }, pageContext(request, reply, scope)))
}

/** An instant from a query string: an ISO 8601 time or a UTC day; absent or not a time, none. */
function instant(value: string | null): Date | undefined {
  const text = value?.trim() ?? ''
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : Number.NaN
  return Number.isNaN(ms) ? undefined : new Date(ms)
}

async function events(scope: ConsoleScope, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const params = query(request)
  const filter: EventFilter = Object.fromEntries(SEARCH_FIELDS.map((field) => [field, filled(params.get(field))]))
  const from = instant(params.get('from'))
  const before = instant(params.get('before'))
  const range = { from: from ?? new Date(0), before: before ?? new Date(scope.clock().getTime() + 1), beforeEvent: before ? filled(params.get('before_event')) : undefined }
  const asked = { filter, from: from ? (params.get('from') ?? '') : '', before: before ? (params.get('before') ?? '') : '' }
  try {
    const found = await searchEvents(scope.store, filter, range, EVENTS_SHOWN)
    return await sendPage(reply, 200, eventsPage({ ...asked, found }, pageContext(request, reply, scope)))
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return sendPage(reply, 400, eventsPage({ ...asked, found: { events: [], older: undefined }, error: err.message }, pageContext(request, reply, scope)))
  }
}

async function timeline(scope: ConsoleScope, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const params = query(request)
  const arn = params.get('principal')
  const address = params.get('ip')
  if (!arn && !address) throw new HttpError(400, 'name a principal or an address: /timeline?principal=ARN or ?ip=ADDRESS')
  const to = instant(params.get('to')) ?? scope.clock()
  const calls = await buildTimeline(scope.store, { principals: arn ? [arn] : [], keys: [], addresses: address ? [address] : [] }, { from: new Date(to.getTime() - DAY), to }, TIMELINE_CALLS)
  const subject = { ...(arn ? { principal: arn } : { ip: address ?? '' }), to: to.toISOString() }
  return sendPage(reply, 200, timelinePage(`Timeline of ${arn ?? address ?? ''}`, calls, timelineFilter(params), subject, pageContext(request, reply, scope)))
}

/** A detector's page: what it would have found over the last days (`?days=`, at most a month), and whether it is on. */
async function detectorView(scope: ConsoleScope, request: IdRequest, reply: FastifyReply, status: number, notice?: string, error?: string): Promise<FastifyReply> {
  const asked = Number(query(request).get('days') ?? HISTORY_DAYS)
  // A replay is work: at most a month of it per page.
  const days = Number.isInteger(asked) && asked >= 1 && asked <= HISTORY_DAYS ? asked : HISTORY_DAYS
  // Whole UTC days, today the last of them.
  const end = scope.clock()
  const history = await scope.history?.(request.params.id, { from: new Date(Math.floor(end.getTime() / DAY) * DAY - (days - 1) * DAY), to: end })
  if (!history) throw new HttpError(404, `There is no detector or rule ${request.params.id}.`)
  const switched = (await detectorSwitches(scope.store)).get(request.params.id)
  return sendPage(reply, status, pages.detectorPage({ history, days, switched, notice, error }, pageContext(request, reply, scope)))
}

function postureId(request: IdRequest): string {
  if (!ALERT_ID.test(request.params.id)) throw new HttpError(404, `There is no page ${request.url.split('?')[0] ?? ''}.`)
  return request.params.id
}

async function postureView(scope: ConsoleScope, request: IdRequest, reply: FastifyReply, status: number, notice?: string, error?: string): Promise<FastifyReply> {
  const id = postureId(request)
  const now = scope.clock()
  const finding = await postureFinding(scope.store, id, now).catch((err: unknown) => {
    throw err instanceof AppError && err.code === 'NOT_FOUND' ? new HttpError(404, err.message) : err
  })
  const view = { finding, history: await postureHistory(scope.store, id), notice, error }
  return sendPage(reply, status, posturePage(view, pageContext(request, reply, scope), now.toISOString().slice(0, 10)))
}

/** The pages: each reads the store and shows what it found. */
export function pageRoutes(app: FastifyInstance, scope: ConsoleScope): void {
  const { store } = scope
  const context = (request: FastifyRequest, reply: FastifyReply) => pageContext(request, reply, scope)
  app.get('/', (request, reply) => incidentsList(scope, request, reply))
  app.get('/incidents/:id', async (request: IdRequest, reply) => {
    const notice = DONE[query(request).get('done') ?? '']
    return sendPage(reply, 200, incidentPage(await incidentView(scope, request, notice), context(request, reply), scope.clock().toISOString().slice(0, 10)))
  })
  app.get('/overview', async (request, reply) => {
    const params = query(request)
    const asked = Number(params.get('days') ?? OVERVIEW_DAYS)
    const days = Number.isInteger(asked) && asked >= 1 && asked <= MAX_OVERVIEW_DAYS ? asked : OVERVIEW_DAYS
    const until = params.get('to') ? new Date(day(params.get('to'), scope.clock().toISOString().slice(0, 10))) : undefined
    const off = await switchedOff(store)
    const coverage = attackCoverage(scope.detectors.filter((d) => !off.has(d.id)))
    return sendPage(reply, 200, pages.overviewPage(await overview(store, scope.clock(), { until, days }), coverage, days, context(request, reply)))
  })
  app.get('/posture', async (request, reply) => {
    const params = query(request)
    // Open ones unless asked: `state=` (any) lists every state.
    const state = params.has('state') ? POSTURE_STATES.find((s) => s === params.get('state')) : 'open'
    const filter = { state, severity: SEVERITIES.find((s) => s === params.get('severity')) }
    return sendPage(reply, 200, postureListPage(await postureFindings(store, scope.clock()), filter, SHOWN_POSTURE, context(request, reply)))
  })
  app.get('/posture/:id', (request: IdRequest, reply) => postureView(scope, request, reply, 200, DONE[query(request).get('done') ?? '']))
  app.get('/principals', (request, reply) => principal(scope, request, reply))
  app.get('/timeline', (request, reply) => timeline(scope, request, reply))
  app.get('/events', (request, reply) => events(scope, request, reply))
  app.get('/suppressions', async (request, reply) =>
    sendPage(reply, 200, pages.suppressionsPage(await listSuppressions(store, scope.clock()), context(request, reply), query(request).get('done') === 'removed' ? 'Suppression removed.' : undefined)),
  )
  app.get('/detectors', async (request, reply) => {
    const now = scope.clock()
    return sendPage(reply, 200, pages.detectorsPage(await detectorHealth(store, scope.detectors, await scope.failures(), now), scope.skippedRules ?? [], now, context(request, reply)))
  })
  app.get('/detectors/:id', async (request: IdRequest, reply) => {
    const done = query(request).get('done')
    return detectorView(scope, request, reply, 200, done === 'disabled' ? 'Turned off: a running trailwatch stops running it within a minute.' : done === 'enabled' ? 'Turned on again.' : undefined)
  })
  app.get('/freshness', async (request, reply) => {
    const now = scope.clock()
    const [events, snapshots] = await Promise.all([dataFreshness(store, now), latestSnapshots(store, now)])
    return sendPage(reply, 200, pages.freshnessPage(events, snapshots, now, context(request, reply)))
  })
  app.get('/credentials', async (request, reply) => {
    const report = await credentialAgeReport(store, scope.clock())
    return sendPage(reply, 200, pages.credentialsPage(report, credentialReportSummary(report), context(request, reply)))
  })
  app.get('/audit', async (request, reply) => sendPage(reply, 200, pages.auditPage(await readAudit(store, 500), context(request, reply))))
}

/** Acknowledge or resolve with a reason, or suppress what the incident's alerts came from. */
async function triage(scope: ConsoleScope, request: FastifyRequest<{ Params: { id: string; action: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const id = incidentId(request)
  const { action } = request.params
  const now = scope.clock()
  const reason = formField(request.body, 'reason').trim()
  const failed = async (error: string) => sendPage(reply, 400, incidentPage(await incidentView(scope, request, undefined, error), pageContext(request, reply, scope), now.toISOString().slice(0, 10)))
  if (action === 'ack' || action === 'resolve') {
    if (!reason) return failed('Give a reason: it goes into the incident’s log.')
    const done = action === 'ack' ? 'acknowledged' : 'resolved'
    await changeIncident(scope.store, id, done, user(request), reason, now)
    await scope.audit(request, user(request), done, id, reason)
    return reply.redirect(`/incidents/${encodeURIComponent(id)}?done=${done}`, 303)
  }
  const note = CASE_FORMS[action]
  if (note) {
    try {
      const incident = await noteIncident(scope.store, id, note, user(request), formField(request.body, 'text'), now)
      await scope.audit(request, user(request), note, id, incident.actions.at(-1)?.reason ?? '')
      return await reply.redirect(`/incidents/${encodeURIComponent(id)}?done=${note}#case`, 303)
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      return await failed(err.message)
    }
  }
  if (action !== 'suppress') throw new HttpError(404, `There is no page ${request.url}.`)
  const expires = day(formField(request.body, 'expires'), '')
  try {
    const rule = await addSuppression(
      scope.store,
      {
        detector: filled(formField(request.body, 'detector')),
        principal: filled(formField(request.body, 'principal')),
        owner: formField(request.body, 'owner').trim(),
        reason,
        // The end of the chosen day, UTC.
        expiresAt: expires ? new Date(Date.parse(expires) + DAY - 1) : now,
      },
      now,
    )
    await scope.audit(request, user(request), 'suppressed', id, `rule ${rule.rule_id}: ${[rule.detector, rule.principal].filter(Boolean).join(' ')} until ${rule.expires_at}: ${rule.reason}`)
    return await reply.redirect(`/incidents/${encodeURIComponent(id)}?done=suppressed`, 303)
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return failed(err.message.replace(/--/g, ''))
  }
}

/** The changes: each from this console's own page (checked by `guards`), each audited. */
export function changeRoutes(app: FastifyInstance, scope: ConsoleScope, guards: preHandlerHookHandler[]): void {
  app.post('/incidents/:id/:action', { preHandler: guards }, (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => triage(scope, request, reply))
  app.post('/detectors/:id/:action', { preHandler: guards }, async (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => {
    const { id, action } = request.params
    if ((action !== 'disable' && action !== 'enable') || !scope.detectors.some((d) => d.id === id)) throw new HttpError(404, `There is no page ${request.url}.`)
    const reason = formField(request.body, 'reason')
    try {
      await switchDetector(scope.store, { detector: id, enabled: action === 'enable', actor: user(request), reason }, scope.clock())
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      return detectorView(scope, request, reply, 400, undefined, err.message)
    }
    await scope.audit(request, user(request), `${action}d`, id, reason.trim())
    return reply.redirect(`/detectors/${encodeURIComponent(id)}?done=${action}d#switch`, 303)
  })
  app.post('/posture/:id/:action', { preHandler: guards }, async (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => {
    const { action } = request.params
    if (action !== 'accept' && action !== 'reopen') throw new HttpError(404, `There is no page ${request.url}.`)
    const id = postureId(request)
    const now = scope.clock()
    const reason = formField(request.body, 'reason')
    const until = day(formField(request.body, 'until'), '')
    const done = action === 'accept' ? 'accepted' : 'reopened'
    try {
      // The end of the chosen day, UTC.
      await decidePosture(scope.store, id, { action: done, actor: user(request), reason, until: until ? new Date(Date.parse(until) + DAY - 1) : undefined }, now)
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      if (err.code === 'NOT_FOUND') throw new HttpError(404, err.message)
      return postureView(scope, request, reply, 400, undefined, err.message)
    }
    await scope.audit(request, user(request), done === 'accepted' ? 'accepted risk' : 'reopened', id, `${reason.trim()}${until ? ` (until ${until})` : ''}`)
    return reply.redirect(`/posture/${encodeURIComponent(id)}?done=${done}#decide`, 303)
  })
  app.post('/suppressions/:id/remove', { preHandler: guards }, async (request: IdRequest, reply) => {
    if (!SUPPRESSION_ID.test(request.params.id)) throw new HttpError(404, `There is no page ${request.url}.`)
    const rule = await removeSuppression(scope.store, request.params.id, user(request), scope.clock())
    await scope.audit(request, user(request), 'unsuppressed', rule.rule_id, rule.reason)
    return reply.redirect('/suppressions?done=removed', 303)
  })
  app.post('/logout', { preHandler: guards }, async (request, reply) => {
    const name = user(request)
    await request.session.destroy()
    await scope.audit(request, name, 'sign-out', '', '')
    return reply.clearCookie('trailwatch_session', { path: '/' }).redirect('/login', 303)
  })
}
