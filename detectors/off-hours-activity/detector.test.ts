import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, apiCall, daily, iamUser, ingestRecords, roleSession, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { testSettings } from '../../test/helpers/detect.js'
import { detectorConfig, runDetector } from '../engine.js'
import detector from './detector.js'

const arn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`
const at = (iso: string) => Date.parse(iso)
const office = (name: string, until: string): RawEvent[] => [10, 14].flatMap((hour) => daily(21, at(until), hour, (t) => apiCall(t, iamUser(name), '73.15.20.1')))
const secret = { eventSource: 'secretsmanager.amazonaws.com', eventName: 'GetSecretValue', readOnly: true }
const failedSignIn = (t: number, user: string): RawEvent =>
  apiCall(t, { type: 'IAMUser', principalId: `AIDA${user}`, accountId: ACCOUNT, accessKeyId: '', userName: user }, '185.220.101.1', {
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    responseElements: { ConsoleLogin: 'Failure' },
    errorMessage: 'Failed authentication',
  })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  const ciKey = 'AKIACIBOTEXAMPLE0001'
  await ingestRecords(store, [
    ...office('alice', '2026-11-18T00:00:00Z'),
    ...office('carol', '2026-11-23T00:00:00Z'),
    ...office('bob', '2026-12-25T00:00:00Z'),
    // eve always works late: 21:00–23:00 in Berlin.
    ...[20, 21].flatMap((hour) => daily(21, at('2026-11-18T00:00:00Z'), hour, (t) => apiCall(t, iamUser('eve'), '73.15.20.2'))),
    // A CI key, used every 20 minutes all week for three weeks.
    ...Array.from({ length: 21 * 72 }, (_, i) => apiCall(at('2026-11-18T02:00:00Z') - (i + 1) * 20 * 60_000, iamUser('ci-bot', ciKey), '3.90.1.1')),

    // Wednesday 18 November, 02:00–03:00 in Berlin.
    apiCall(at('2026-11-18T01:30:00Z'), iamUser('alice'), '73.15.20.1', secret),
    apiCall(at('2026-11-18T01:40:00Z'), iamUser('carol'), '73.15.20.1'),
    apiCall(at('2026-11-18T01:20:00Z'), iamUser('ci-bot', ciKey), '3.90.1.1'),
    apiCall(at('2026-11-18T01:10:00Z'), roleSession('nightly-export', 'i-0abc1234def567890', { ec2RoleDelivery: '2.0' }), '3.90.1.1'),
    apiCall(at('2026-11-18T01:15:00Z'), { type: 'AWSService', invokedBy: 'backup.amazonaws.com' }, 'backup.amazonaws.com'),
    // A partner account assuming a role in ours, at its own working hours.
    apiCall(at('2026-11-18T01:50:00Z'), { type: 'AWSAccount', principalId: 'AIDAPARTNEREXAMPLE', accountId: '444455556666' }, '52.94.1.1', {
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRole',
      readOnly: false,
      requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/partner-reader`, roleSessionName: 'sync' },
    }),
    // The same evening, eve at her usual hour.
    apiCall(at('2026-11-18T20:30:00Z'), iamUser('eve'), '73.15.20.2'),
    // Monday 23 November, 04:30 UTC: 10:00 in Kolkata, 05:30 in Berlin.
    apiCall(at('2026-11-23T04:30:00Z'), iamUser('in-priya'), '49.36.1.1'),
    apiCall(at('2026-11-23T04:35:00Z'), iamUser('carol'), '73.15.20.1'),
    // nora in New York, whom nobody configured: three weeks of 9:00–17:00 her time (14–22 UTC).
    ...Array.from({ length: 8 }, (_, h) => daily(21, at('2026-11-24T00:00:00Z'), 14 + h, (t) => apiCall(t, iamUser('nora'), '73.15.20.3'))).flat(),
    // Someone fails to sign in as nora at 05:00 UTC on most days: not her at work.
    ...daily(14, at('2026-11-24T00:00:00Z'), 5, (t) => failedSignIn(t, 'nora')),
    // On Tuesday she herself works at 05:20 UTC, and on Wednesday someone fails again at 06:10 UTC.
    apiCall(at('2026-11-24T05:20:00Z'), iamUser('nora'), '73.15.20.3'),
    failedSignIn(at('2026-11-25T06:10:00Z'), 'nora'),
    // Tuesday 24 November: a secret read at 03:10 her time (08:10 UTC), and her usual 14:00 (19:00 UTC).
    apiCall(at('2026-11-24T08:10:00Z'), iamUser('nora'), '73.15.20.3', secret),
    apiCall(at('2026-11-24T19:00:00Z'), iamUser('nora'), '73.15.20.3', { eventName: 'ConsoleLogin', eventSource: 'signin.amazonaws.com', responseElements: { ConsoleLogin: 'Success' } }),
    // Christmas Day, noon in Berlin.
    apiCall(at('2026-12-25T11:30:00Z'), iamUser('bob'), '73.15.20.1'),
  ])
})
afterAll(async () => {
  await store.close()
})

const settings = testSettings({}, {
  defaults: { timezone: 'Europe/Berlin', hours: [8, 19], days: [1, 2, 3, 4, 5], holidays: ['2026-12-24', '2026-12-25'] },
  overrides: [{ name: 'india team', principals: [`arn:aws:iam::*:user/in-*`], timezone: 'Asia/Kolkata', hours: [9, 18] }],
})
const run = async (now: string) => {
  const findings = await runDetector(store, detector, { now: new Date(at(now)), from: new Date(at(now) - 3_600_000) }, settings)
  return findings.map((f) => [f.principal, f.severity])
}

describe('off-hours-activity', () => {
  it('flags people at night in their time zone, higher for a secret read, and never automation, AWS or another account', async () => {
    expect(await run('2026-11-18T02:00:00Z')).toEqual([
      [arn('alice'), 'medium'],
      [arn('carol'), 'low'],
    ])
  })

  it('learns that an evening person works evenings', async () => {
    expect(await run('2026-11-18T21:00:00Z')).toEqual([])
  })

  it("judges a team in Asia/Kolkata by its own day, and a Berliner at 05:30 as off-hours", async () => {
    expect(await run('2026-11-23T05:00:00Z')).toEqual([[arn('carol'), 'low']])
  })

  it('counts a holiday as off-hours and says so', async () => {
    const findings = await runDetector(store, detector, { now: new Date(at('2026-12-25T12:00:00Z')), from: new Date(at('2026-12-25T11:00:00Z')) }, settings)
    expect(findings.map((f) => [f.principal, f.severity])).toEqual([[arn('bob'), 'low']])
    expect(findings[0]?.title).toBe(`${arn('bob')} acted at Fri 2026-12-25 12:00 Europe/Berlin, on a holiday (2026-12-25)`)
  })

  it('learns a person nobody configured from their own hours: an hour they never work is off-hours, their usual hours never', async () => {
    const unconfigured = testSettings()
    const window = (end: string) => ({ now: new Date(at(end)), from: new Date(at(end) - 3_600_000) })
    const night = await runDetector(store, detector, window('2026-11-24T09:00:00Z'), unconfigured)
    expect(night.map((f) => [f.principal, f.severity])).toEqual([[arn('nora'), 'medium']])
    expect(night[0]?.title).toBe(`${arn('nora')} acted at Tue 2026-11-24 03:00 America/New_York (inferred from their hours), outside the working day it kept in 21 days of history (08:00–18:00), including GetSecretValue`)
    // 19:00 UTC is outside a default 8–19 UTC day, and is her usual afternoon.
    expect(await runDetector(store, detector, window('2026-11-24T20:00:00Z'), unconfigured)).toEqual([])
    // Failed sign-ins in her name are not her at work: they never made 05:00 UTC her hour, and alone they are no finding.
    expect((await runDetector(store, detector, window('2026-11-24T06:00:00Z'), unconfigured)).map((f) => [f.principal, f.severity])).toEqual([[arn('nora'), 'low']])
    expect(await runDetector(store, detector, window('2026-11-25T07:00:00Z'), unconfigured)).toEqual([])
  })

  it('refuses a time zone that does not exist, naming the setting', () => {
    expect(() => testSettings({}, { defaults: { timezone: 'Mars/Olympus' } })).toThrow(/defaults.timezone: expected an IANA time zone/)
  })

  it('says where working time is set now when it meets the old place', () => {
    expect(() => detectorConfig(detector, { 'off-hours-activity': { defaults: { timezone: 'Europe/Berlin' } } })).toThrow(/detector off-hours-activity: defaults: working time is set per principal in TRAILWATCH_PRINCIPALS_FILE now/)
  })
})
