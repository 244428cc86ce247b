import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { SessionStore } from '@fastify/session'
import type { Session } from 'fastify'
import { ConfigError } from '../errors.js'

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }
const KEY_BYTES = 32
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_BYTES, options, (err, key) => {
      if (err) reject(err)
      else resolve(key)
    })
  })
}

/** `scrypt$N$r$p$salt$key`, base64: what a line of the users file holds after `NAME:`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, SCRYPT)
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** Whether `password` is the one `hash` was made from; a hash of another shape never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = hash.split('$')
  if (kind !== 'scrypt' || !salt || !key) return false
  const expected = Buffer.from(key, 'base64')
  const options = { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem }
  if (![options.N, options.r, options.p].every((v) => Number.isInteger(v) && v > 0) || expected.length !== KEY_BYTES) return false
  return timingSafeEqual(await passwordThread.derive(password, Buffer.from(salt, 'base64'), options), expected)
}

/**
 * Password checks on a thread of their own, one after another. Node's async scrypt runs on the
 * thread pool that file reads and compression share, so a flood of sign-ins would hold up ingest;
 * here it costs one thread, and never the event loop. The thread keeps no process alive.
 */
class PasswordThread {
  private worker: Worker | undefined
  private readonly waiting = new Map<number, { resolve: (key: Buffer) => void; reject: (err: Error) => void }>()
  private next = 0

  derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
    const worker = this.start()
    const id = this.next++
    const key = new Promise<Buffer>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    worker.ref()
    worker.postMessage({ id, password, salt, keyBytes: KEY_BYTES, options })
    return key
  }

  private start(): Worker {
    if (this.worker) return this.worker
    // Plain JavaScript, evaluated: the same whether trailwatch runs from its build or its sources.
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads')
       const { scryptSync } = require('node:crypto')
       parentPort.on('message', ({ id, password, salt, keyBytes, options }) => {
         try { parentPort.postMessage({ id, key: scryptSync(password, salt, keyBytes, options) }) }
         catch (err) { parentPort.postMessage({ id, error: String(err && err.message) }) }
       })`,
      { eval: true },
    )
    worker.unref()
    worker.on('message', ({ id, key, error }: { id: number; key?: Uint8Array; error?: string }) => {
      const waiter = this.waiting.get(id)
      this.waiting.delete(id)
      if (this.waiting.size === 0) worker.unref()
      if (key) waiter?.resolve(Buffer.from(key))
      else waiter?.reject(new Error(`checking a password failed: ${error ?? 'no answer'}`))
    })
    worker.on('exit', () => {
      this.worker = undefined
      for (const waiter of this.waiting.values()) waiter.reject(new Error('the password thread ended'))
      this.waiting.clear()
    })
    this.worker = worker
    return worker
  }
}

const passwordThread = new PasswordThread()

/** A users file: `NAME:HASH` per line (`trailwatch console-user NAME` writes one), `#` comments. */
export function loadUsers(file: string): Map<string, string> {
  const users = new Map<string, string>()
  for (const [index, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    const name = line.slice(0, colon)
    if (colon < 0 || !USER_NAME.test(name) || !line.slice(colon + 1).startsWith('scrypt$')) {
      throw new ConfigError(`TRAILWATCH_CONSOLE_USERS_FILE ${file}:${String(index + 1)}: expected NAME:scrypt$… as trailwatch console-user NAME prints it`)
    }
    users.set(name, line.slice(colon + 1))
  }
  return users
}

export function validUserName(name: string): boolean {
  return USER_NAME.test(name)
}

const MAX_SESSIONS = 10_000

/**
 * Sessions in memory, for the framework's session plugin: a restart signs everyone out, which is the
 * safe way to lose them. A client that never keeps its cookie opens a session per request: past
 * 10,000 the oldest give way. Expiry is the plugin's: it drops a session whose cookie has expired.
 */
export class BoundedSessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>()

  get size(): number {
    return this.sessions.size
  }

  set(id: string, session: Session, done: (err?: unknown) => void): void {
    this.sessions.delete(id)
    const oldest = this.sessions.keys().next()
    if (this.sessions.size >= MAX_SESSIONS && !oldest.done) this.sessions.delete(oldest.value)
    this.sessions.set(id, session)
    done()
  }

  get(id: string, done: (err: unknown, session?: Session | null) => void): void {
    done(null, this.sessions.get(id) ?? null)
  }

  destroy(id: string, done: (err?: unknown) => void): void {
    this.sessions.delete(id)
    done()
  }
}

export type SignInTurn = 'checking' | 'too-many-failures' | 'busy'

const MAX_ADDRESSES = 10_000

/**
 * Sign-ins counted before any password is hashed: an address with `limit` failures in `windowMs`,
 * counting the attempts it has under way, waits; so does one with `perAddress` under way, and
 * everyone while `concurrent` are being checked. Two hundred guesses sent at once are held to the
 * same limit as two hundred sent one after the other.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>()
  private readonly underWay = new Map<string, number>()
  private checking = 0

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly perAddress = 2,
    private readonly concurrent = 4,
  ) {}

  /** A turn to check a password, or why there is none; a turn taken must be ended with `end`. */
  begin(address: string, now: number): SignInTurn {
    const underWay = this.underWay.get(address) ?? 0
    if (this.recent(address, now).length + underWay >= this.limit) return 'too-many-failures'
    if (underWay >= this.perAddress || this.checking >= this.concurrent) return 'busy'
    this.underWay.set(address, underWay + 1)
    this.checking++
    return 'checking'
  }

  end(address: string, now: number, succeeded: boolean): void {
    const underWay = (this.underWay.get(address) ?? 1) - 1
    if (underWay > 0) this.underWay.set(address, underWay)
    else this.underWay.delete(address)
    this.checking--
    if (succeeded) {
      this.failures.delete(address)
      return
    }
    // Many addresses, each failing once, give way oldest first rather than growing without end.
    const oldest = this.failures.keys().next()
    if (this.failures.size >= MAX_ADDRESSES && !oldest.done && !this.failures.has(address)) this.failures.delete(oldest.value)
    this.failures.set(address, [...this.recent(address, now), now])
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs)
  }
}
