import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StoreHost } from '../clickhouse/shared-store.js'
import { AppError, errorMessage } from '../errors.js'
import { moduleLogger, type Logger } from '../logger.js'
import { registry } from '../metrics.js'

/** A named check: true when fine, otherwise what is wrong. */
export type Readiness = () => Promise<Record<string, true | string>>

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
  /** A web surface (the console): every path that is not one of the above. */
  pages?: PageHandler | undefined
}

const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])
const STORE_PREFIX = '/store/'
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost'])

/** A page of a web surface served beside the endpoints; it carries its own security headers. */
export interface PageReply {
  status: number
  body: string
  type: string
  headers: Record<string, string>
}
export type PageHandler = (request: IncomingMessage, url: URL) => Promise<PageReply>

export interface OpsServer {
  url: string
  close(): Promise<void>
}

/** The largest /store/ body: a batch of events as the ingest writer makes it (64 MiB at most), and its statement. */
const MAX_STORE_BODY = 72 * 1024 * 1024

const TEXT = 'text/plain; charset=utf-8'

/** Status, body, content type, more headers. */
type Reply = [number, string | Buffer, string?, Record<string, string>?]

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function send(response: ServerResponse, code: number, body: string | Buffer, type = 'application/json', headers: Record<string, string> = {}): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers })
  response.end(body)
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, `the request body is over ${String(limit)} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/**
 * /healthz (the process answers), /readyz (it can do its work), /metrics (Prometheus), and, for the
 * commands that find the store held by this process, /store/. That one reads and changes data, so
 * it answers only a request that carries the run's secret, names this server as its Host (a web
 * page cannot point a name it controls here) and comes from no web page (no Origin).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const logger = moduleLogger(options.logger, 'ops.http')
  let port = options.port
  const token = options.shared ? Buffer.from(options.shared.token) : undefined

  /** A page that rebinds a name of its own to this address sends that name as Host: refused. */
  const checkHost = (request: IncomingMessage): void => {
    const hosts = new Set([`127.0.0.1:${String(port)}`, `localhost:${String(port)}`, `[::1]:${String(port)}`, `${options.host}:${String(port)}`])
    if (!hosts.has(request.headers.host ?? '')) throw new HttpError(403, 'unexpected Host header')
  }
  // Served on a loopback address, readiness and metrics answer only to this server's own names; on
  // another address (a container, behind a scraper) any Host may reach them.
  const loopbackOnly = LOOPBACK_HOSTS.has(options.host)

  const authorize = (request: IncomingMessage): void => {
    if (!token) throw new HttpError(404, 'not served')
    checkHost(request)
    if (request.headers.origin !== undefined) throw new HttpError(403, 'requests from web pages are not accepted')
    const given = Buffer.from(/^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '')
    if (given.length !== token.length || !timingSafeEqual(given, token)) throw new HttpError(401, 'a valid token is required (the one trailwatch run keeps in run.json)')
  }

  const answer = async (request: IncomingMessage): Promise<Reply> => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const route = url.pathname
    if (route.startsWith(STORE_PREFIX) && options.shared) {
      authorize(request)
      const reply = await options.shared.host.handle(request.method ?? 'GET', route.slice(STORE_PREFIX.length), await readBody(request, MAX_STORE_BODY))
      return [reply.status, reply.body, reply.type]
    }
    if (options.pages && !OPS_ROUTES.has(route)) {
      const page = await options.pages(request, url)
      return [page.status, page.body, page.type, page.headers]
    }
    if (request.method !== 'GET') throw new HttpError(405, 'GET only')
    if (route === '/healthz') return [200, JSON.stringify({ status: 'ok' })]
    if ((route === '/readyz' || route === '/metrics') && loopbackOnly) checkHost(request)
    if (route === '/readyz') {
      const checks = await options.readiness()
      const ready = Object.values(checks).every((check) => check === true)
      return [ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready', checks })]
    }
    if (route === '/metrics') return [200, await registry.metrics(), registry.contentType]
    throw new HttpError(404, `no ${route}; try /healthz, /readyz, /metrics`)
  }

  const failure = (err: unknown): Reply => {
    // What is left of a body too large is not read: the connection ends with the reply.
    if (err instanceof HttpError) return [err.status, err.message, TEXT, err.status === 413 ? { connection: 'close' } : {}]
    // Raised on purpose (a refused or failing query): the person needs the message.
    if (err instanceof AppError) return [400, err.message, TEXT]
    logger.error({ err: errorMessage(err) }, 'request failed')
    return [500, 'internal error; see the log', TEXT]
  }

  const server = createServer((request, response) => {
    void answer(request)
      .catch(failure)
      .then(([code, body, type, headers]) => {
        send(response, code, body, type, headers)
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new AppError('HTTP', `cannot serve on ${options.host}:${String(options.port)} (${err.code ?? err.message}): set TRAILWATCH_HTTP_PORT to a free port, or 0 for any`))
    })
    server.listen(options.port, options.host, resolve)
  })
  port = (server.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  logger.info({ url }, options.pages ? 'serving the console, /healthz /readyz /metrics' : 'serving /healthz /readyz /metrics')
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
