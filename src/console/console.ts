import { randomBytes } from 'node:crypto'
import { userInfo } from 'node:os'
import cookie from '@fastify/cookie'
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import session from '@fastify/session'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import type { Config } from '../config.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { HttpError, ownHosts, refusalOf, type Surface } from '../ops/server.js'
import { recordAudit } from './audit.js'
import { BoundedSessionStore, LoginThrottle, loadUsers, verifyPassword } from './auth.js'
import { changeRoutes, pageRoutes } from './routes.js'
import { containRoutes } from './contain-routes.js'
import { CONSOLE_CSS } from './layout.js'
import * as pages from './pages.js'
import { formField, peer, sameOrigin, sendPage, type ConsoleOptions, type ConsoleScope } from './scope.js'

const COOKIE = 'trailwatch_session'
const MAX_FORM_BYTES = 16 * 1024
/** Requests a minute from one address: far above a person's clicking, far below a flood. */
const REQUESTS_PER_MINUTE = 600
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
/** Costs what checking a real hash costs, so a user that does not exist is not told apart by time. */
const NO_SUCH_USER = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='

/** Headers, rate limit, forms, session cookie and CSRF tokens: each by the framework's maintained plugin. */
async function registerSafeguards(app: FastifyInstance, settings: Config['console']): Promise<void> {
  const secure = settings.url?.startsWith('https:') ?? false
  await app.register(helmet, {
    // No script, no inline style, nothing from elsewhere, never in a frame.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    hsts: secure,
  })
  await app.register(rateLimit, { max: REQUESTS_PER_MINUTE, timeWindow: 60_000, errorResponseBuilder: (_request, context) => new HttpError(429, `too many requests from this address: try again in ${context.after}`) })
  // Forms only: a JSON or text body is not something a page of this console sends.
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: MAX_FORM_BYTES })
  await app.register(cookie)
  await app.register(session, {
    // A restart signs everyone out, which is the safe way to lose sessions.
    secret: randomBytes(32).toString('base64url'),
    cookieName: COOKIE,
    saveUninitialized: false,
    store: new BoundedSessionStore(),
    cookie: { path: '/', httpOnly: true, sameSite: 'strict', secure, maxAge: settings.sessionMs },
  })
  await app.register(csrf, { sessionPlugin: '@fastify/session', getToken: (request) => formField(request.body, 'csrf') })
}

/** Failures as pages: a refusal says why, anything else is logged and said to have failed. */
function errorPages(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler(async (err, request, reply) => {
    const refusal = refusalOf(err)
    if (!refusal) logger.error({ err: errorMessage(err), route: request.url.split('?')[0] }, 'console request failed')
    const stale = ((err as { code?: string }).code ?? '').startsWith('FST_CSRF_')
    const status = refusal?.status ?? 500
    if (status === 413) reply.header('connection', 'close')
    const message = stale ? 'the form is stale or came from another site: reload the page and try again' : (refusal?.message ?? 'The request failed; the log says why.')
    return sendPage(reply, status, pages.messagePage(status === 404 ? 'Not found' : status === 500 ? 'Something went wrong' : 'Refused', message))
  })
  app.setNotFoundHandler(async (request, reply) => sendPage(reply, 404, pages.messagePage('Not found', `There is no page ${request.url.split('?')[0] ?? ''}.`)))
}

/** Sign-in with a password from the users file, held back per address before any hashing. */
function signInRoutes(app: FastifyInstance, scope: ConsoleScope): void {
  const throttle = new LoginThrottle()
  app.get('/login', async (_request, reply) => sendPage(reply, 200, pages.loginPage()))
  app.post('/login', { preHandler: sameOrigin(scope.settings.url) }, async (request, reply) => {
    const { users } = scope
    if (!users) throw new HttpError(404, 'password sign-in is not configured')
    const address = peer(request)
    const turn = throttle.begin(address, scope.clock().getTime())
    if (turn === 'too-many-failures') return sendPage(reply, 429, pages.loginPage('Too many failed sign-ins from this address: wait a few minutes.'))
    if (turn === 'busy') return sendPage(reply, 429, pages.loginPage('Too many sign-ins at once: try again in a moment.'))
    const user = formField(request.body, 'user')
    let valid = false
    try {
      const hash = users.get(user)
      valid = (await verifyPassword(formField(request.body, 'password'), hash ?? NO_SUCH_USER)) && hash !== undefined
    } finally {
      throttle.end(address, scope.clock().getTime(), valid)
    }
    if (!valid) {
      await scope.audit(request, user.slice(0, 128), 'sign-in-refused', '', 'wrong user or password')
      return sendPage(reply, 401, pages.loginPage('Wrong user or password.'))
    }
    // A new session for the person signed in: one planted before cannot be carried into it.
    await request.session.regenerate()
    request.session.user = user
    await scope.audit(request, user, 'sign-in', '', '')
    return reply.redirect('/', 303)
  })
}

/**
 * Who is asking: a password sign-in, the user a trusted proxy names, or, on a loopback address with
 * neither configured, the local user. Anyone else is sent to sign in.
 */
function identify(scope: ConsoleScope, exposed: boolean): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const localUser = `local:${userInfo().username}`
  const { trustedHeader, trustedProxies } = scope.settings
  return async (request, reply) => {
    if (trustedHeader && trustedProxies.includes(peer(request))) {
      const named = request.headers[trustedHeader]
      if (typeof named === 'string' && named.trim()) {
        const user = named.trim().slice(0, 128)
        if (request.session.user !== user) {
          await request.session.regenerate()
          request.session.user = user
        }
        return
      }
    }
    if (request.session.user) return
    if (scope.users || trustedHeader || exposed) {
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(401, 'sign in first')
      await reply.redirect('/login', 303)
      return
    }
    request.session.user = localUser
  }
}

/**
 * The web console: incidents, their timelines, principals, detectors, freshness, credential age
 * and the audit log, server-rendered, with no script. Every change carries the session's CSRF token
 * and must come from this site, and goes into the audit log.
 */
export function consoleSurface(options: ConsoleOptions): Surface {
  const clock = options.clock ?? (() => new Date())
  const users = options.settings.usersFile ? loadUsers(options.settings.usersFile) : undefined
  const exposed = !LOOPBACK.has(options.host)
  const consoleHost = options.settings.url ? new URL(options.settings.url).host : undefined
  const audit: ConsoleScope['audit'] = (request, actor, action, target, detail) => recordAudit(options.store, { at: clock().toISOString(), actor, action, target, detail, address: peer(request) })
  const scope: ConsoleScope = { ...options, clock, users, audit }
  return async (app) => {
    await registerSafeguards(app, options.settings)
    errorPages(app, options.logger)
    app.addHook('onRequest', async (request) => {
      // A page another site's script could read through a name it points here must not be served.
      if (!exposed && !ownHosts(app).has(request.headers.host ?? '') && request.headers.host !== consoleHost) throw new HttpError(403, 'unexpected Host header')
      if (exposed && !users && !options.settings.trustedHeader && request.url !== '/console.css') {
        throw new HttpError(503, 'The console is served on a non-loopback address without a sign-in: set TRAILWATCH_CONSOLE_USERS_FILE (or TRAILWATCH_CONSOLE_TRUSTED_HEADER behind a proxy that signs people in).')
      }
    })
    app.get('/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CONSOLE_CSS))
    signInRoutes(app, scope)
    await app.register(async (signedIn) => {
      signedIn.addHook('onRequest', identify(scope, exposed))
      const guards: preHandlerHookHandler[] = [
        sameOrigin(options.settings.url),
        (request, reply, done) => {
          signedIn.csrfProtection(request, reply, done)
        },
      ]
      pageRoutes(signedIn, scope)
      changeRoutes(signedIn, scope, guards)
      containRoutes(signedIn, scope, guards)
    })
  }
}
