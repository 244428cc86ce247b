import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AppError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { QueryRequest } from '../cli/query.js'
import { registry } from '../metrics.js'

/** A named check: true when fine, otherwise what is wrong. */
export type Readiness = () => Promise<Record<string, true | string>>

export interface OpsServerOptions {
  host: string
  port: number
  logger: Logger
  readiness: Readiness
  /** What `trailwatch status` shows, served to a status command that finds the store held by this process. */
  status?: () => Promise<unknown>
  /** Runs `trailwatch query` for a command that finds the store held by this process; loopback only. */
  query?: (request: QueryRequest) => Promise<AsyncIterable<Buffer>>
}

export interface OpsServer {
  url: string
  close(): Promise<void>
}

function send(response: ServerResponse, code: number, body: string, type = 'application/json'): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' })
  response.end(body)
}

/** /healthz (the process answers), /readyz (it can do its work), /metrics (Prometheus) and /status. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const logger = options.logger.child({ module: 'ops.http' })
  const answer = async (request: IncomingMessage): Promise<[number, string, string?]> => {
    const route = new URL(request.url ?? '/', 'http://localhost').pathname
    if (request.method !== 'GET') return [405, JSON.stringify({ error: 'GET only' })]
    if (route === '/healthz') return [200, JSON.stringify({ status: 'ok' })]
    if (route === '/readyz') {
      const checks = await options.readiness()
      const ready = Object.values(checks).every((check) => check === true)
      return [ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : 'not ready', checks })]
    }
    if (route === '/metrics') return [200, await registry.metrics(), registry.contentType]
    if (route === '/status' && options.status) return [200, JSON.stringify(await options.status())]
    return [404, JSON.stringify({ error: `no ${route}; try /healthz, /readyz, /metrics${options.status ? ', /status' : ''}` })]
  }
  const query = async (run: NonNullable<OpsServerOptions['query']>, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<QueryRequest>
    let output: AsyncIterable<Buffer>
    try {
      if (typeof body.sql !== 'string') throw new Error('expected {"sql": "…"}')
      output = await run({ sql: body.sql, json: Boolean(body.json), color: Boolean(body.color) })
    } catch (err) {
      send(response, 400, errorMessage(err), 'text/plain')
      return
    }
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
    for await (const chunk of output) response.write(chunk)
    response.end()
  }
  const server = createServer((request, response) => {
    if (options.query && request.method === 'POST' && request.url === '/query') {
      query(options.query, request, response).catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'query failed')
        if (!response.headersSent) send(response, 500, errorMessage(err), 'text/plain')
        else response.end()
      })
      return
    }
    answer(request)
      .then(([code, body, type]) => {
        send(response, code, body, type)
      })
      .catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'request failed')
        if (!response.headersSent) send(response, 500, JSON.stringify({ error: errorMessage(err) }))
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new AppError('HTTP', `cannot serve on ${options.host}:${String(options.port)} (${err.code ?? err.message}): set TRAILWATCH_HTTP_PORT to a free port, or 0 for any`))
    })
    server.listen(options.port, options.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  logger.info({ url }, 'serving /healthz /readyz /metrics')
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
