import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Session } from 'fastify'
import { BoundedSessionStore, hashPassword, LoginThrottle, loadUsers, verifyPassword } from './auth.js'

describe('console passwords', () => {
  it('verifies the password a hash was made from and nothing else, salted differently each time', async () => {
    const hash = await hashPassword('correct horse battery staple')
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true)
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false)
    expect(await hashPassword('correct horse battery staple')).not.toBe(hash)
    // A line of another shape never matches, rather than failing open or throwing.
    for (const broken of ['', 'plain', 'scrypt$1$1$1$$', 'md5$x$y', hash.slice(0, -4)]) expect(await verifyPassword('x', broken)).toBe(false)
  })

  it('reads a users file and names the line that is wrong', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-users-'))
    const file = path.join(dir, 'users')
    writeFileSync(file, `# people\nalice:${await hashPassword('a password of length')}\n\n`)
    expect([...loadUsers(file).keys()]).toEqual(['alice'])
    writeFileSync(file, 'alice:hunter2\n')
    expect(() => loadUsers(file)).toThrow(`TRAILWATCH_CONSOLE_USERS_FILE ${file}:1: expected NAME:scrypt$`)
  })
})

describe('console sessions', () => {
  it('keeps at most 10,000, the oldest giving way, and forgets one destroyed', () => {
    const sessions = new BoundedSessionStore()
    const kept = (id: string): Session | null | undefined => {
      let found: Session | null | undefined
      sessions.get(id, (_err, session) => (found = session))
      return found
    }
    const done = (): void => undefined
    sessions.set('first', { user: 'first' } as Session, done)
    for (let i = 0; i < 10_000; i++) sessions.set(`id-${String(i)}`, { user: `user-${String(i)}` } as Session, done)
    expect([kept('first'), kept('id-9999')?.user, sessions.size]).toEqual([null, 'user-9999', 10_000])
    sessions.destroy('id-9999', done)
    expect(kept('id-9999')).toBeNull()
  })

  it('holds an address back after ten failed sign-ins in a quarter of an hour', () => {
    const throttle = new LoginThrottle()
    for (let i = 0; i < 10; i++) {
      expect(throttle.begin('203.0.113.9', i * 1000)).toBe('checking')
      throttle.end('203.0.113.9', i * 1000, false)
    }
    expect(throttle.begin('203.0.113.9', 10_000)).toBe('too-many-failures')
    expect(throttle.begin('198.51.100.1', 10_000)).toBe('checking')
    expect(throttle.begin('203.0.113.9', 15 * 60_000 + 10_000)).toBe('checking')
  })

  it('counts attempts before checking them: two hundred at once from one address are held like two hundred in a row', () => {
    const throttle = new LoginThrottle(10, 15 * 60_000, 2, 4)
    const turns = Array.from({ length: 200 }, () => throttle.begin('203.0.113.9', 0))
    expect(turns.filter((t) => t === 'checking')).toHaveLength(2)
    // Everyone shares a bound on how many are checked at once.
    const others = ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((address) => throttle.begin(address, 0))
    expect(others).toEqual(['checking', 'checking', 'busy'])
    // Failures still under way count against the address, so no burst gets past the limit.
    throttle.end('203.0.113.9', 1, false)
    throttle.end('203.0.113.9', 1, false)
    let checked = 2
    for (let round = 0; round < 100; round++) {
      if (throttle.begin('203.0.113.9', 2) !== 'checking') continue
      checked++
      throttle.end('203.0.113.9', 2, false)
    }
    expect(checked).toBe(10)
  })
})
