import { timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import type { StoreHost } from '../clickhouse/shared-store.js'
import { AppError, errorMessage } from '../errors.js'
import { moduleLogger, type Logger } from '../logger.js'
import { registry } from '../metrics.js'

/** A named check: true when fine, otherwise what is wrong. */
export type Readiness = () => Promise<Record<string, true | string>>

/** A web surface served beside the endpoints (the console): its own routes, hooks and error pages. */
export type Surface = FastifyPluginAsync

export interface OpsServerOptions {
  host: string
  port: number
  logger: Logger
  readiness: Readiness
  /**
   * The embedded store this process holds, shared under /store/ with the commands of the user who
   * holds `token` (`Authorization: Bearer …`). Without both, /store/ is not served at all.
   */
  shared?: { host: StoreHost; token: string } | undefined
  /** Every path that is not one of the endpoints. */
  surface?: Surface | undefined
}

export interface OpsServer {
  url: string
  close(): Promise<void>
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost'])

/** The largest /store/ body: a batch of events as the ingest writer makes it (64 MiB at most), and its statement. */
const MAX_STORE_BODY = 72 * 1024 * 1024

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** The names this server answers to: a page that rebinds a name of its own to this address sends that name as Host. */
export function ownHosts(app: FastifyInstance, extra: string[] = []): Set<string> {
  const port = String((app.server.address() as AddressInfo).port)
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...extra.map((host) => `${host}:${port}`)])
}

/** The status and message of a failure any route may raise; undefined for one nobody meant. */
export function refusalOf(err: unknown): { status: number; message: string } | undefined {
  if (err instanceof HttpError) return { status: err.status, message: err.message }
  // Raised on purpose (a refused or failing query): the person needs the message.
  if (err instanceof AppError) return { status: err.code === 'NOT_FOUND' ? 404 : 400, message: err.message }
  // The framework's own refusals: a body too large, a media type it does not read, too many requests.
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, message: errorMessage(err) }
  return undefined
}

/**
 * /store/: the store this process holds, for the commands that find it held. It reads and changes
 * data, so it answers only a request that carries the run's secret, names this server as its Host (a
 * web page cannot point a name it controls here) and comes from no web page (no Origin); all that
 * before a byte of the body is read.
 */
function storeRoutes(shared: { host: StoreHost; token: string }, host: string): FastifyPluginAsync {
  const token = Buffer.from(shared.token)
  return async (app) => {
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_STORE_BODY }, (_request, body, done) => {
      done(null, body)
    })
    app.addHook('onRequest', async (request) => {
      if (!ownHosts(app, [host]).has(request.headers.host ?? '')) throw new HttpError(403, 'unexpected Host header')
      if (request.headers.origin !== undefined) throw new HttpError(403, 'requests from web pages are not accepted')
      const given = Buffer.from(/^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '')
      if (given.length !== token.length || !timingSafeEqual(given, token)) throw new HttpError(401, 'a valid token is required (the one trailwatch run keeps in run.json)')
    })
    app.all('/store/*', async (request: FastifyRequest<{ Params: { '*': string } }>, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const answer = await shared.host.handle(request.method, request.params['*'], body)
      return reply.code(answer.status).type(answer.type).send(answer.body)
    })
  }
}

/** /healthz (the process answers), /readyz (it can do its work), /metrics (Prometheus). */
function endpointRoutes(options: OpsServerOptions): FastifyPluginAsync {
  return async (app) => {
    // Served on a loopback address, readiness and metrics answer only to this server's own names; on
    // another address (a container, behind a scraper) any Host may reach them.
    const loopbackOnly = LOOPBACK_HOSTS.has(options.host)
    const checkHost = async (request: FastifyRequest): Promise<void> => {
      if (loopbackOnly && !ownHosts(app, [options.host]).has(request.headers.host ?? '')) throw new HttpError(403, 'unexpected Host header')
    }
    app.get('/healthz', async (_request, reply) => reply.type('application/json').send(JSON.stringify({ status: 'ok' })))
    app.get('/readyz', { onRequest: checkHost }, async (_request, reply) => {
      const checks = await options.readiness()
      const ready = Object.values(checks).every((check) => check === true)
      return reply
        .code(ready ? 200 : 503)
        .type('application/json')
        .send(JSON.stringify({ status: ready ? 'ready' : 'not ready', checks }))
    })
    app.get('/metrics', { onRequest: checkHost }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  }
}

/** The endpoints, /store/ when shared, and the surface (the console) on every other path. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const logger = moduleLogger(options.logger, 'ops.http')
  const app = Fastify({
    // A malformed path names nothing here.
    frameworkErrors: (err, _request, reply) => {
      const badUrl = err.code === 'FST_ERR_BAD_URL'
      void (reply as FastifyReply)
        .code(badUrl ? 404 : 400)
        .type('text/plain; charset=utf-8')
        .send(badUrl ? 'not found' : err.message)
    },
  })
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff')
  })
  app.setErrorHandler(async (err, _request: FastifyRequest, reply: FastifyReply) => {
    const refusal = refusalOf(err)
    if (!refusal) logger.error({ err: errorMessage(err) }, 'request failed')
    return reply
      .code(refusal?.status ?? 500)
      .type('text/plain; charset=utf-8')
      .send(refusal?.message ?? 'internal error; see the log')
  })
  await app.register(endpointRoutes(options))
  if (options.shared) await app.register(storeRoutes(options.shared, options.host))
  if (options.surface) await app.register(options.surface)
  else app.setNotFoundHandler(async (request, reply) => reply.code(404).type('text/plain; charset=utf-8').send(`no ${request.url.split('?')[0] ?? ''}; try /healthz, /readyz, /metrics`))
  try {
    await app.listen({ port: options.port, host: options.host })
  } catch (err) {
    throw new AppError('HTTP', `cannot serve on ${options.host}:${String(options.port)} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): set TRAILWATCH_HTTP_PORT to a free port, or 0 for any`)
  }
  const port = (app.server.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  logger.info({ url }, options.surface ? 'serving the console, /healthz /readyz /metrics' : 'serving /healthz /readyz /metrics')
  return {
    url,
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}
