import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
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
  return timingSafeEqual(await scrypt(password, Buffer.from(salt, 'base64'), options), expected)
}

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

export interface Session {
  id: string
  user: string
  /** Every change carries it: a page of another site cannot read it, so cannot send it. */
  csrf: string
  expiresAt: number
}

const MAX_SESSIONS = 10_000

/** Sessions in memory: a restart signs everyone out, which is the safe way to lose them. */
export class Sessions {
  private readonly sessions = new Map<string, Session>()

  constructor(private readonly lifetimeMs: number) {}

  open(user: string, now: number): Session {
    this.prune(now)
    // A client that never keeps its cookie opens a session per request: the oldest give way.
    const oldest = this.sessions.keys().next()
    if (this.sessions.size >= MAX_SESSIONS && !oldest.done) this.sessions.delete(oldest.value)
    const session = { id: randomBytes(32).toString('base64url'), user, csrf: randomBytes(32).toString('base64url'), expiresAt: now + this.lifetimeMs }
    this.sessions.set(session.id, session)
    return session
  }

  find(id: string | undefined, now: number): Session | undefined {
    const session = id ? this.sessions.get(id) : undefined
    if (!session) return undefined
    if (session.expiresAt > now) return session
    this.sessions.delete(session.id)
    return undefined
  }

  close(id: string): void {
    this.sessions.delete(id)
  }

  private prune(now: number): void {
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id)
  }
}

/** Failed sign-ins per address: after `limit` in `windowMs`, more attempts wait. */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
  ) {}

  blocked(address: string, now: number): boolean {
    return this.recent(address, now).length >= this.limit
  }

  failed(address: string, now: number): void {
    this.failures.set(address, [...this.recent(address, now), now])
  }

  succeeded(address: string): void {
    this.failures.delete(address)
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs)
  }
}

/** Equal strings, in time that does not tell how much of them matched. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
