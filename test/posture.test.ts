import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import staleAccessKey from '../detectors/stale-access-key/detector.js'
import { DetectorScheduler } from '../detectors/scheduler.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { decidePosture, postureFinding, postureFindings, postureHistory } from '../src/alerts/posture.js'
import { listIncidents } from '../src/incidents/incidents.js'
import { ACCOUNT } from './helpers/events.js'
import { testSettings } from './helpers/detect.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'

const DAY = 86_400_000
const T0 = Date.parse('2026-11-27T06:00:00Z')
const HEADER = 'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated'
const user = (name: string, key1: string) => `${name},arn:aws:iam::${ACCOUNT}:${name === '<root_account>' ? 'root' : `user/${name}`},2020-01-01T00:00:00+00:00,true,N/A,N/A,N/A,true,${key1},false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`
const ROOT_KEY = 'true,2024-03-01T00:00:00+00:00,2026-11-20T00:00:00+00:00,us-east-1,iam'
const ALICE_OLD_KEY = 'true,2025-01-15T10:00:00+00:00,2026-11-20T00:00:00+00:00,us-east-1,s3'

let store: TestStore
let now = new Date(T0)
let scheduler: DetectorScheduler
const report = (lines: string[], at: number): Promise<void> => insertCredentialReport(store, parseCredentialReport([HEADER, ...lines].join('\n')), at - 3_600_000, at)
const states = async (): Promise<Record<string, string>> => Object.fromEntries((await postureFindings(store, now)).map((f) => [f.alert.principal.split(':').pop() ?? '', f.state]))

beforeAll(async () => {
  store = await openTestStore()
  scheduler = new DetectorScheduler(store, [staleAccessKey], { settings: testSettings(), logger: testLogger, clock: () => now })
  await report([user('<root_account>', ROOT_KEY), user('alice', ALICE_OLD_KEY)], T0)
  await scheduler.runScheduled(staleAccessKey)
})
afterAll(async () => {
  await store.close()
})

describe('posture findings, apart from incidents', () => {
  it('are stored as posture and never opened as incidents', async () => {
    const findings = await postureFindings(store, now)
    expect(findings.map((f) => [f.alert.severity, f.alert.kind, f.state])).toEqual([
      ['critical', 'posture', 'open'],
      ['medium', 'posture', 'open'],
    ])
    expect(await listIncidents(store, { from: new Date(0), to: now })).toEqual([])
  })

  it('are accepted until a day with who and why, open again when the acceptance lapses or is taken back', async () => {
    const [, alice] = (await postureFindings(store, now)).map((f) => f.alert.alert_id) as [string, string]
    await expect(decidePosture(store, alice, { action: 'accepted', actor: 'pat', reason: ' ', until: new Date(T0 + 30 * DAY) }, now)).rejects.toThrow('give a reason for accepting')
    await expect(decidePosture(store, alice, { action: 'accepted', actor: 'pat', reason: 'vendor key', until: new Date(T0 - DAY) }, now)).rejects.toThrow('an end within the next year')
    await expect(decidePosture(store, alice, { action: 'accepted', actor: 'pat', reason: 'vendor key', until: new Date(T0 + 400 * DAY) }, now)).rejects.toThrow('an end within the next year')
    await expect(decidePosture(store, alice, { action: 'reopened', actor: 'pat', reason: 'changed my mind' }, now)).rejects.toThrow('the finding is open, not accepted')
    await expect(decidePosture(store, 'no-such-finding', { action: 'accepted', actor: 'pat', reason: 'x', until: new Date(T0 + DAY) }, now)).rejects.toThrow('no posture finding no-such-finding')

    const accepted = await decidePosture(store, alice, { action: 'accepted', actor: 'pat', reason: 'the vendor rotates it in January', until: new Date(T0 + 30 * DAY) }, now)
    expect(accepted.state).toBe('accepted')
    expect(accepted.decision).toMatchObject({ action: 'accepted', actor: 'pat', reason: 'the vendor rotates it in January', until: new Date(T0 + 30 * DAY).toISOString() })
    // The day after it lapses, it is open again, and still says who had accepted it.
    const lapsed = await postureFinding(store, alice, new Date(T0 + 31 * DAY))
    expect([lapsed.state, lapsed.decision?.actor]).toEqual(['open', 'pat'])

    now = new Date(T0 + 60_000)
    const reopened = await decidePosture(store, alice, { action: 'reopened', actor: 'sam', reason: 'the vendor is gone' }, now)
    expect([reopened.state, reopened.decision?.action, reopened.decision?.until]).toEqual(['open', 'reopened', null])
    expect((await postureHistory(store, alice)).map((d) => [d.action, d.actor, d.until])).toEqual([
      ['accepted', 'pat', new Date(T0 + 30 * DAY).toISOString()],
      ['reopened', 'sam', null],
    ])
  })

  it('are fixed once their check runs and no longer finds them, and open again when found again', async () => {
    // The next day alice's key was rotated; root's key is still there.
    now = new Date(T0 + DAY)
    await report([user('<root_account>', ROOT_KEY), user('alice', 'true,2026-11-27T10:00:00+00:00,2026-11-28T05:00:00+00:00,us-east-1,s3')], now.getTime())
    expect(await states()).toEqual({ root: 'open', 'user/alice': 'open' })
    await scheduler.runScheduled(staleAccessKey)
    expect(await states()).toEqual({ root: 'open', 'user/alice': 'fixed' })

    // A day later someone put the old key back: the same finding, open again.
    now = new Date(T0 + 2 * DAY)
    await report([user('<root_account>', ROOT_KEY), user('alice', ALICE_OLD_KEY)], now.getTime())
    await scheduler.runScheduled(staleAccessKey)
    expect(await states()).toEqual({ root: 'open', 'user/alice': 'open' })
    expect(await listIncidents(store, { from: new Date(0), to: now })).toEqual([])
  })
})
