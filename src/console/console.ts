import type { IncomingMessage } from 'node:http'
import { userInfo } from 'node:os'
import { incidentRunbook } from '../alerting/incident-email.js'
import { addSuppression, listSuppressions, removeSuppression } from '../alerting/suppressions.js'
import type { Store } from '../clickhouse/client.js'
import type { Config } from '../config.js'
import { AppError, errorMessage } from '../errors.js'
import { changeIncident, DAY, incidentById, listIncidents } from '../incidents/incidents.js'
import { buildTimeline, incidentTimelineSubject } from '../incidents/timeline.js'
import { triggerEvents } from '../incidents/triggers.js'
import type { Logger } from '../logger.js'
import type { PageHandler, PageReply } from '../ops/server.js'
import type { Principals } from '../principals.js'
import { credentialAgeReport, credentialReportSummary } from '../reports/credential-age.js'
import { atLeast, SEVERITIES, type Severity } from '../severity.js'
import { readAudit, recordAudit } from './audit.js'
import { LoginThrottle, loadUsers, sameSecret, Sessions, verifyPassword, type Session } from './auth.js'
import * as pages from './pages.js'
import { dataFreshness, detectorHealth, hoursOfWeek, recentAlerts, usualNetworks } from './queries.js'

type ConsoleReply = PageReply

export interface ConsoleOptions {
  store: Store
  settings: Config['console']
  /** Where the server listens: bound to a loopback address, the console may go without sign-in. */
  host: string
  port: () => number
  aliases: Record<string, string>
  principals: Principals
  detectors: { id: string; title: string; schedule: string }[]
  /** Rule files that could not be loaded, each as a line saying where and why. */
  skippedRules?: string[]
  /** Failed runs per detector since the process started. */
  failures: () => Promise<Map<string, number>>
  logger: Logger
  clock?: () => Date
}

const HTML = 'text/html; charset=utf-8'
const COOKIE = 'trailwatch_session'
const MAX_FORM_BYTES = 16 * 1024
const SHOWN_INCIDENTS = 500
/** Calls a timeline page shows; `trailwatch timeline` gives the rest. */
const TIMELINE_CALLS = 1000
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** No script, no inline style, nothing from elsewhere, never in a frame. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
const SECURITY_HEADERS = { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-frame-options': 'DENY', 'referrer-policy': 'same-origin' }

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function cookieValue(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/.test(request.headers['content-type'] ?? '')) throw new Refusal(415, 'expected a form')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > MAX_FORM_BYTES) throw new Refusal(413, 'the form is too large')
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

/** A form field or query parameter with something in it; an empty one is absent. */
function filled(value: string | null): string | undefined {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? undefined : trimmed
}

/** A UTC day from a form or a query string, or the fallback when absent or not a day. */
function day(value: string | null, fallback: string): string {
  return value && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : fallback
}

/**
 * The web console: incidents, their timelines, principals, detectors, freshness, credential age
 * and the audit log, server-rendered, with no script. Who is asking is known by a password
 * sign-in (a session cookie), by a header a trusted proxy sets, or, on a loopback address with
 * neither configured, is the local user. Every change carries the session's token and must come
 * from this site, and goes into the audit log.
 */
export function createConsole(options: ConsoleOptions): PageHandler {
  const { store } = options
  const clock = options.clock ?? (() => new Date())
  const users = options.settings.usersFile ? loadUsers(options.settings.usersFile) : undefined
  const sessions = new Sessions(options.settings.sessionMs)
  const throttle = new LoginThrottle()
  const exposed = !LOOPBACK.has(options.host)
  const localUser = `local:${userInfo().username}`
  const secureCookie = options.settings.url?.startsWith('https:') ?? false
  const consoleHost = options.settings.url ? new URL(options.settings.url).host : undefined

  const reply = (status: number, body: string, headers: Record<string, string> = {}): ConsoleReply => ({ status, body, type: HTML, headers })
  const redirect = (location: string, headers: Record<string, string> = {}): ConsoleReply => ({ status: 303, body: '', type: HTML, headers: { location, ...headers } })
  const sessionCookie = (session: Session): Record<string, string> => ({
    'set-cookie': `${COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${String(Math.floor(options.settings.sessionMs / 1000))}${secureCookie ? '; Secure' : ''}`,
  })
  const peer = (request: IncomingMessage): string => request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? ''

  /** A page another site's script could read through a name it points here must not be served. */
  const checkHost = (request: IncomingMessage): void => {
    if (exposed) return
    const port = String(options.port())
    const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...(consoleHost ? [consoleHost] : [])])
    if (!hosts.has(request.headers.host ?? '')) throw new Refusal(403, 'unexpected Host header')
  }

  /** A change must come from a page of this console: the browser says where a request comes from. */
  const checkSameOrigin = (request: IncomingMessage): void => {
    const site = request.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new Refusal(403, 'a change from another site is refused')
    const origin = request.headers.origin
    if (origin === undefined) return
    const allowed = new Set([`http://${request.headers.host ?? ''}`, `https://${request.headers.host ?? ''}`, ...(options.settings.url ? [new URL(options.settings.url).origin] : [])])
    if (!allowed.has(origin)) throw new Refusal(403, 'a change from another site is refused')
  }

  /** The person asking, with their session; undefined when they must sign in first. */
  const identify = (request: IncomingMessage, now: number): { session: Session; fresh: boolean } | undefined => {
    const existing = sessions.find(cookieValue(request, COOKIE), now)
    const header = options.settings.trustedHeader
    if (header && options.settings.trustedProxies.includes(peer(request))) {
      const user = request.headers[header]
      if (typeof user === 'string' && user.trim()) {
        const name = user.trim().slice(0, 128)
        return existing?.user === name ? { session: existing, fresh: false } : { session: sessions.open(name, now), fresh: true }
      }
    }
    if (existing) return { session: existing, fresh: false }
    if (users || header || exposed) return undefined
    return { session: sessions.open(localUser, now), fresh: true }
  }

  const audit = (request: IncomingMessage, actor: string, action: string, target: string, detail: string): Promise<void> =>
    recordAudit(store, { at: clock().toISOString(), actor, action, target, detail, address: peer(request) })

  async function signIn(request: IncomingMessage, now: Date): Promise<ConsoleReply> {
    checkSameOrigin(request)
    const address = peer(request)
    if (!users) throw new Refusal(404, 'password sign-in is not configured')
    const turn = throttle.begin(address, now.getTime())
    if (turn === 'too-many-failures') return reply(429, pages.loginPage('Too many failed sign-ins from this address: wait a few minutes.'))
    if (turn === 'busy') return reply(429, pages.loginPage('Too many sign-ins at once: try again in a moment.'))
    let valid = false
    let user: string
    try {
      const form = await readForm(request)
      user = form.get('user') ?? ''
      const hash = users.get(user)
      // A user that does not exist costs the same time as a wrong password.
      valid = (await verifyPassword(form.get('password') ?? '', hash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')) && hash !== undefined
    } finally {
      throttle.end(address, clock().getTime(), valid)
    }
    if (!valid) {
      await audit(request, user.slice(0, 128), 'sign-in-refused', '', 'wrong user or password')
      return reply(401, pages.loginPage('Wrong user or password.'))
    }
    const session = sessions.open(user, now.getTime())
    await audit(request, user, 'sign-in', '', '')
    return redirect('/', sessionCookie(session))
  }

  async function incidentView(id: string, notice?: string, error?: string): Promise<pages.IncidentView> {
    const incident = await incidentById(store, id)
    const triggers = [...(await triggerEvents(store, incident.members.map((m) => m.alert), 50)).values()].flat()
    const { subject, span } = incidentTimelineSubject(incident)
    const timeline = await buildTimeline(store, subject, { from: new Date(span.from), to: new Date(span.to) }, TIMELINE_CALLS)
    return { incident, triggers, runbook: incidentRunbook(incident, triggers), timeline, aliases: options.aliases, notice, error }
  }

  async function change(request: IncomingMessage, session: Session, route: string, now: Date): Promise<ConsoleReply> {
    const form = await readForm(request)
    if (!sameSecret(form.get('csrf') ?? '', session.csrf)) throw new Refusal(403, 'the form is stale or came from another site: reload the page and try again')
    const incidentAction = /^\/incidents\/(inc-[0-9a-f]{12})\/(ack|resolve|suppress)$/.exec(route)
    if (incidentAction) {
      const id = incidentAction[1] ?? ''
      const what = incidentAction[2]
      const reason = (form.get('reason') ?? '').trim()
      const page = `/incidents/${encodeURIComponent(id)}`
      if (what === 'ack' || what === 'resolve') {
        if (!reason) return reply(400, pages.incidentPage(await incidentView(id, undefined, 'Give a reason: it goes into the incident’s log.'), pageContext(session), now.toISOString().slice(0, 10)))
        const action = what === 'ack' ? 'acknowledged' : 'resolved'
        await changeIncident(store, id, action, session.user, reason, now)
        await audit(request, session.user, action, id, reason)
        return redirect(`${page}?done=${action}`)
      }
      const expires = day(form.get('expires'), '')
      try {
        const rule = await addSuppression(
          store,
          {
            detector: filled(form.get('detector')),
            principal: filled(form.get('principal')),
            owner: (form.get('owner') ?? '').trim(),
            reason,
            // The end of the chosen day, UTC.
            expiresAt: expires ? new Date(Date.parse(expires) + DAY - 1) : now,
          },
          now,
        )
        await audit(request, session.user, 'suppressed', id, `rule ${rule.rule_id}: ${[rule.detector, rule.principal].filter(Boolean).join(' ')} until ${rule.expires_at}: ${rule.reason}`)
        return redirect(`${page}?done=suppressed`)
      } catch (err) {
        if (!(err instanceof AppError)) throw err
        return reply(400, pages.incidentPage(await incidentView(id, undefined, err.message.replace(/--/g, '')), pageContext(session), now.toISOString().slice(0, 10)))
      }
    }
    const removal = /^\/suppressions\/([0-9a-f]{8})\/remove$/.exec(route)
    if (removal) {
      const rule = await removeSuppression(store, removal[1] ?? '', session.user, now)
      await audit(request, session.user, 'unsuppressed', rule.rule_id, rule.reason)
      return redirect('/suppressions?done=removed')
    }
    throw new Refusal(404, `no ${route}`)
  }

  const pageContext = (session: Session): pages.PageContext => ({ user: session.user, csrf: session.csrf, signedIn: Boolean(users) && !session.user.startsWith('local:') })

  async function show(url: URL, session: Session, now: Date): Promise<ConsoleReply> {
    const route = url.pathname
    const context = pageContext(session)
    const query = url.searchParams
    if (route === '/') {
      const today = now.toISOString().slice(0, 10)
      const filters: pages.IncidentFilters = {
        severity: SEVERITIES.find((s) => s === query.get('severity')),
        status: filled(query.get('status')),
        account: filled(query.get('account')),
        detector: filled(query.get('detector')),
        from: day(query.get('from'), new Date(now.getTime() - 7 * DAY).toISOString().slice(0, 10)),
        to: day(query.get('to'), today),
      }
      const to = new Date(Math.min(Date.parse(filters.to) + DAY - 1, now.getTime()))
      const all = await listIncidents(store, { from: new Date(Date.parse(filters.from)), to })
      const chosen = all.filter(
        (i) =>
          (!filters.severity || atLeast(i.severity, filters.severity as Severity)) &&
          (!filters.status || i.status === filters.status) &&
          (!filters.account || i.accounts.includes(filters.account)) &&
          (!filters.detector || i.detectors.includes(filters.detector)),
      )
      const choices = { accounts: [...new Set(all.flatMap((i) => i.accounts))].sort(), detectors: [...new Set(all.flatMap((i) => i.detectors))].sort() }
      return reply(200, pages.incidentsPage(chosen, filters, choices, SHOWN_INCIDENTS, context))
    }
    const incident = /^\/incidents\/(inc-[0-9a-f]{12})$/.exec(route)
    if (incident) {
      const done = query.get('done')
      const notice = done === 'acknowledged' || done === 'resolved' ? `Incident ${done}.` : done === 'suppressed' ? 'Suppression added: trailwatch suppress list shows it.' : undefined
      return reply(200, pages.incidentPage(await incidentView(incident[1] ?? '', notice), context, now.toISOString().slice(0, 10)))
    }
    if (route === '/principals') {
      const principal = query.get('arn') ?? ''
      if (!principal) throw new Refusal(400, 'name a principal: /principals?arn=ARN')
      const working = options.principals.workingTimeOf(principal)
      const timeZone = working.timezone ?? 'UTC'
      const userName = principal.includes(':user/') ? (principal.split('/').pop() ?? '') : undefined
      const [networks, hours, report, alerts] = await Promise.all([
        usualNetworks(store, principal, now),
        hoursOfWeek(store, principal, now, timeZone),
        userName ? credentialAgeReport(store, now) : undefined,
        recentAlerts(store, principal),
      ])
      const keys = report?.keys.filter((k) => k.user === userName && principal.split(':')[4] === k.account) ?? []
      return reply(200, pages.principalPage({ principal, timeZone, configuredZone: working.timezone !== undefined, networks, hours, keys, alerts }, context))
    }
    if (route === '/timeline') {
      const principal = query.get('principal')
      const address = query.get('ip')
      if (!principal && !address) throw new Refusal(400, 'name a principal or an address: /timeline?principal=ARN or ?ip=ADDRESS')
      const to = query.get('to') ? new Date(Date.parse(day(query.get('to'), '')) + DAY - 1) : now
      const timeline = await buildTimeline(store, { principals: principal ? [principal] : [], keys: [], addresses: address ? [address] : [] }, { from: new Date(to.getTime() - DAY), to }, TIMELINE_CALLS)
      return reply(200, pages.timelinePage(`Timeline of ${principal ?? address ?? ''}`, timeline, context))
    }
    if (route === '/suppressions') return reply(200, pages.suppressionsPage(await listSuppressions(store, now), context, query.get('done') === 'removed' ? 'Suppression removed.' : undefined))
    if (route === '/detectors') return reply(200, pages.detectorsPage(await detectorHealth(store, options.detectors, await options.failures(), now), options.skippedRules ?? [], now, context))
    if (route === '/freshness') return reply(200, pages.freshnessPage(await dataFreshness(store, now), now, context))
    if (route === '/credentials') {
      const report = await credentialAgeReport(store, now)
      return reply(200, pages.credentialsPage(report, credentialReportSummary(report), context))
    }
    if (route === '/audit') return reply(200, pages.auditPage(await readAudit(store, 500), context))
    throw new Refusal(404, `There is no page ${route}.`)
  }

  const handle = async (request: IncomingMessage, url: URL): Promise<ConsoleReply> => {
    const now = clock()
    const route = url.pathname
    try {
      checkHost(request)
      if (route === '/console.css') return { status: 200, body: pages.CONSOLE_CSS, type: 'text/css; charset=utf-8', headers: {} }
      if (exposed && !users && !options.settings.trustedHeader) {
        throw new Refusal(503, 'The console is served on a non-loopback address without a sign-in: set TRAILWATCH_CONSOLE_USERS_FILE (or TRAILWATCH_CONSOLE_TRUSTED_HEADER behind a proxy that signs people in).')
      }
      if (route === '/login') {
        if (request.method === 'POST') return await signIn(request, now)
        return reply(200, pages.loginPage())
      }
      const who = identify(request, now.getTime())
      if (!who) {
        if (request.method === 'GET') return redirect('/login')
        throw new Refusal(401, 'sign in first')
      }
      const { session } = who
      const cookie = who.fresh ? sessionCookie(session) : {}
      if (request.method === 'POST') {
        checkSameOrigin(request)
        if (route === '/logout') {
          const form = await readForm(request)
          if (!sameSecret(form.get('csrf') ?? '', session.csrf)) throw new Refusal(403, 'the form is stale or came from another site')
          sessions.close(session.id)
          await audit(request, session.user, 'sign-out', '', '')
          return redirect('/login', { 'set-cookie': `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` })
        }
        const answer = await change(request, session, route, now)
        return { ...answer, headers: { ...answer.headers, ...cookie } }
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new Refusal(405, 'GET or POST only')
      const answer = await show(url, session, now)
      return { ...answer, headers: { ...answer.headers, ...cookie } }
    } catch (err) {
      if (err instanceof Refusal) return reply(err.status, pages.messagePage(err.status === 404 ? 'Not found' : 'Refused', err.message))
      if (err instanceof AppError && err.code === 'NOT_FOUND') return reply(404, pages.messagePage('Not found', err.message))
      options.logger.error({ err: errorMessage(err), route }, 'console request failed')
      return reply(500, pages.messagePage('Something went wrong', 'The request failed; the log says why.'))
    }
  }

  // On every reply: pages, refusals and the style sheet.
  return async (request, url) => {
    const page = await handle(request, url)
    return { ...page, headers: { ...SECURITY_HEADERS, ...page.headers } }
  }
}
