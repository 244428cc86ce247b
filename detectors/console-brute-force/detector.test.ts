import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, consoleSignIn, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const signIn = consoleSignIn
const T = Date.parse('2026-11-20T10:00:00Z')
const minute = 60_000

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // Hour 1: someone guesses alice's password six times, then gets in.
    ...Array.from({ length: 6 }, (_, i) => signIn(T + i * minute, 'alice', '185.220.101.1', 'Failure')),
    signIn(T + 10 * minute, 'alice', '185.220.101.1', 'Success'),
    // Hour 2: one address tries eight users twice each: spraying.
    ...['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal'].flatMap((user, i) => [signIn(T + 60 * minute + i * minute, user, '5.255.255.77', 'Failure'), signIn(T + 61 * minute + i * minute, user, '5.255.255.77', 'Failure')]),
    // Hour 4: carl signs in from home; then someone guesses his password five times and gives up.
    signIn(T + 185 * minute, 'carl', '73.15.20.9', 'Success'),
    ...Array.from({ length: 5 }, (_, i) => signIn(T + 190 * minute + i * minute, 'carl', '185.220.101.2', 'Failure')),
    signIn(T + 210 * minute, 'carl', '73.15.20.9', 'Success'),
    // Hour 3: bob mistypes twice, then signs in: ordinary.
    signIn(T + 120 * minute, 'bob', '73.15.20.1', 'Failure'),
    signIn(T + 121 * minute, 'bob', '73.15.20.1', 'Failure'),
    signIn(T + 122 * minute, 'bob', '73.15.20.1', 'Success'),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports guessing one user, higher when a sign-in then succeeds', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T11:00:00Z')
  expect(findings.map((f) => [f.evidence.kind, f.principal, f.severity, f.evidence.succeeded_after])).toEqual([['user', `arn:aws:iam::${ACCOUNT}:user/alice`, 'high', true]])
})

it('reports spraying from one address across many users', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  const spray = findings.find((f) => f.evidence.kind === 'source')
  expect(spray).toMatchObject({ severity: 'high', principal: ACCOUNT, evidence: { failures: 16, sources: ['5.255.255.77'] } })
  expect(spray?.title).toBe('5.255.255.77 failed to sign in as 8 different users 16 times (password spraying)')
})

it('does not call the user’s own sign-in from home, before or after the guessing, the guesser getting in', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T14:00:00Z')
  expect(findings.map((f) => [f.evidence.kind, f.principal, f.severity, f.evidence.succeeded_after])).toEqual([['user', `arn:aws:iam::${ACCOUNT}:user/carl`, 'medium', false]])
  expect(findings[0]?.title).toBe('5 failed console sign-ins for carl from 185.220.101.2')
})

it('stays quiet on a couple of typos', async () => {
  expect(await detectAt(store, detector, '2026-11-20T13:00:00Z')).toEqual([])
})
