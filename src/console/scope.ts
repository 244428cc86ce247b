import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Store } from '../clickhouse/client.js'
import type { Config } from '../config.js'
import type { Html } from '../html.js'
import type { Logger } from '../logger.js'
import { HttpError } from '../ops/server.js'
import type { Principals } from '../principals.js'
import type { DetectorHistory } from './pages.js'

declare module 'fastify' {
  interface Session {
    /** Who signed in: a password user, the name a trusted proxy sent, or `local:` and the local user. */
    user?: string
  }
}

export interface ConsoleOptions {
  store: Store
  settings: Config['console']
  /** How `contain` reaches AWS, whom it never touches, and who approves. */
  contain: Config['contain']
  /** Where the server listens: bound to a loopback address, the console may go without sign-in. */
  host: string
  aliases: Record<string, string>
  principals: Principals
  detectors: { id: string; title: string; schedule: string; attack: readonly string[] }[]
  /** What a detector or rule would have found over a range of the stored history: none for an id that runs nowhere here. */
  history?: (id: string, range: { from: Date; to: Date }) => Promise<DetectorHistory | undefined>
  /** Rule files that could not be loaded, each as a line saying where and why. */
  skippedRules?: string[]
  /** Failed runs per detector since the process started. */
  failures: () => Promise<Map<string, number>>
  logger: Logger
  clock?: () => Date
}

/** What every route of the console shares. */
export interface ConsoleScope extends ConsoleOptions {
  clock: () => Date
  users: Map<string, string> | undefined
  audit: (request: FastifyRequest, actor: string, action: string, target: string, detail: string) => Promise<void>
}

const HTML = 'text/html; charset=utf-8'

export function sendPage(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).type(HTML).send(body.markup)
}

export function peer(request: FastifyRequest): string {
  return request.ip.replace(/^::ffff:/, '')
}

/** A form field as text; absent, repeated or not text, empty. */
export function formField(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value : ''
}

/** A change must come from a page of this console: the browser says where a request comes from. */
export function sameOrigin(consoleUrl: string | undefined): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const site = request.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'a change from another site is refused')
    const origin = request.headers.origin
    if (origin === undefined) return
    const allowed = new Set([`http://${request.headers.host ?? ''}`, `https://${request.headers.host ?? ''}`, ...(consoleUrl ? [new URL(consoleUrl).origin] : [])])
    if (!allowed.has(origin)) throw new HttpError(403, 'a change from another site is refused')
  }
}
