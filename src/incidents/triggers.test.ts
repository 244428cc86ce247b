import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, apiCall, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { triggerEvents } from './triggers.js'

const T0 = Date.parse('2026-11-20T12:00:00Z')
const minutes = (n: number): number => T0 + n * 60_000
const carol = `arn:aws:iam::${ACCOUNT}:user/carol`

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    apiCall(minutes(0), iamUser('carol'), '98.207.1.1', { eventName: 'ListUsers', eventSource: 'iam.amazonaws.com' }),
    apiCall(minutes(1), iamUser('carol'), '98.207.1.1', { eventName: 'GetSecretValue', eventSource: 'secretsmanager.amazonaws.com' }),
    apiCall(minutes(2), iamUser('carol'), '98.207.1.1', { eventName: 'GetSecretValue', eventSource: 'secretsmanager.amazonaws.com' }),
    apiCall(minutes(30), iamUser('carol'), '98.207.1.1', { eventName: 'ListUsers', eventSource: 'iam.amazonaws.com' }),
    apiCall(minutes(1), iamUser('dave'), '98.207.1.2', { eventName: 'GetSecretValue', eventSource: 'secretsmanager.amazonaws.com' }),
  ])
})
afterAll(async () => {
  await store.close()
})

const alert = (id: string, evidence: Record<string, unknown>, from = 0, to = 5, principal = carol) => ({
  alert_id: id, principal, account: ACCOUNT, first_seen: new Date(minutes(from)).toISOString(), last_seen: new Date(minutes(to)).toISOString(), evidence,
})

describe('triggerEvents', () => {
  it('reads each alert’s own calls in one batch: the ones its evidence names, else all in its span, oldest first', async () => {
    const found = await triggerEvents(store, [
      alert('named', { event: 'GetSecretValue' }),
      alert('named-but-absent', { event: 'DeleteTrail' }),
      alert('unnamed', {}),
      alert('later', {}, 20, 40),
      alert('nobody', {}, 0, 5, `arn:aws:iam::${ACCOUNT}:user/erin`),
    ])
    const names = (id: string): string[] => (found.get(id) ?? []).map((e) => `${e.time.slice(11, 16)} ${e.event}`)
    expect(names('named')).toEqual(['12:01 GetSecretValue', '12:02 GetSecretValue'])
    expect(names('named-but-absent')).toEqual(['12:00 ListUsers', '12:01 GetSecretValue', '12:02 GetSecretValue'])
    expect(names('unnamed')).toEqual(names('named-but-absent'))
    expect(names('later')).toEqual(['12:30 ListUsers'])
    expect(names('nobody')).toEqual([])
  })

  it('keeps at most `limit` calls per alert, the earliest', async () => {
    const found = await triggerEvents(store, [alert('a', {}), alert('b', { event: 'GetSecretValue' })], 1)
    expect([...found].map(([id, events]) => `${id} ${events.map((e) => e.event).join(',')}`)).toEqual(['a ListUsers', 'b GetSecretValue'])
  })
})
