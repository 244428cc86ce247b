import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, apiCall, iamUser, ingestRecords, roleSession } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { MAX_TERM_LENGTH, searchEvents, type FoundEvent } from './search.js'

const T0 = Date.parse('2026-03-02T09:00:00Z')
const ALL = { from: new Date(0), before: new Date('2030-01-01T00:00:00Z') }
const ANNA = iamUser('anna', 'AKIAANNAEXAMPLE00001')
const BUILD = roleSession('ci-deploy', 'build-4711')

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // anna lists buckets every minute for ten minutes, then deletes one and fails to stop a trail.
    ...Array.from({ length: 10 }, (_, i) => apiCall(T0 + i * 60_000, ANNA, '79.192.14.20')),
    apiCall(T0 + 11 * 60_000, ANNA, '79.192.14.20', { eventName: 'DeleteBucket', readOnly: false, requestParameters: { bucketName: 'finance-archive' } }),
    apiCall(T0 + 12 * 60_000, ANNA, '5.255.255.77', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', errorCode: 'AccessDenied', errorMessage: 'not allowed' }),
    // bob's two calls of the same millisecond, and one after.
    apiCall(T0 + 20 * 60_000, iamUser('bob', 'AKIABOBEXAMPLE000001'), '91.64.33.12', { eventName: 'GetUser' }),
    apiCall(T0 + 20 * 60_000, iamUser('bob', 'AKIABOBEXAMPLE000001'), '91.64.33.12', { eventName: 'ListUsers' }),
    apiCall(T0 + 21 * 60_000, iamUser('bob', 'AKIABOBEXAMPLE000001'), '91.64.33.12', { eventName: 'GetAccountSummary' }),
    // The CI role's session, from AWS itself.
    apiCall(T0 + 13 * 60_000, BUILD, 'cloudformation.amazonaws.com', { eventName: 'PutObject', resources: [{ ARN: 'arn:aws:s3:::deploy-artifacts/app.zip', type: 'AWS::S3::Object' }] }),
  ])
})
afterAll(async () => {
  await store.close()
})

describe('searchEvents on the real engine', () => {
  it('finds by each field, newest first, and by several at once', async () => {
    const names = async (filter: Parameters<typeof searchEvents>[1]) => (await searchEvents(store, filter, ALL, 50)).events.map((e) => e.event)
    expect(await names({ principal: `arn:aws:iam::${ACCOUNT}:user/anna`, event: 'DeleteBucket' })).toEqual(['DeleteBucket'])
    expect(await names({ key: 'AKIAANNAEXAMPLE00001' })).toEqual(['StopLogging', 'DeleteBucket', ...Array<string>(10).fill('ListBuckets')])
    expect(await names({ address: '5.255.255.77' })).toEqual(['StopLogging'])
    expect(await names({ address: 'cloudformation.amazonaws.com' })).toEqual(['PutObject'])
    expect(await names({ session: 'build-4711' })).toEqual(['PutObject'])
    expect(await names({ error: 'any' })).toEqual(['StopLogging'])
    expect(await names({ error: 'AccessDenied', address: '79.192.14.20' })).toEqual([])
    // A resource is found wherever the record names it: a request parameter or the resources list.
    expect(await names({ resource: 'finance-archive' })).toEqual(['DeleteBucket'])
    expect(await names({ resource: 'arn:aws:s3:::deploy-artifacts/app.zip' })).toEqual(['PutObject'])
    expect(await names({ account: '999999999999' })).toEqual([])
  })

  /** Every page of a search, `limit` at a time, each from where the one before ended. */
  async function allPages(key: string, limit: number): Promise<FoundEvent[]> {
    const seen: FoundEvent[] = []
    let cursor: { before: Date; beforeEvent?: string } = { before: ALL.before }
    for (let pages = 0; pages < 20; pages++) {
      const page = await searchEvents(store, { key }, { from: ALL.from, ...cursor }, limit)
      seen.push(...page.events)
      if (!page.older) break
      cursor = { before: new Date(page.older.before), beforeEvent: page.older.beforeEvent }
    }
    return seen
  }

  it('pages by time: each page ends where the next begins, nothing twice and nothing lost', async () => {
    const seen = (await allPages('AKIAANNAEXAMPLE00001', 5)).map((e) => e.event_id)
    expect(seen).toHaveLength(12)
    expect(new Set(seen).size).toBe(12)
  })

  it('pages through calls of the same millisecond one by one, skipping none', async () => {
    const seen = (await allPages('AKIABOBEXAMPLE000001', 1)).map((e) => e.event)
    expect(seen[0]).toBe('GetAccountSummary')
    expect(seen.slice(1).sort()).toEqual(['GetUser', 'ListUsers'])
  })

  it('keeps to the range it is given', async () => {
    const found = await searchEvents(store, { key: 'AKIAANNAEXAMPLE00001' }, { from: new Date(T0 + 2 * 60_000), before: new Date(T0 + 5 * 60_000) }, 50)
    expect(found.events.map((e) => e.time)).toEqual([4, 3, 2].map((m) => new Date(T0 + m * 60_000).toISOString()))
  })

  it('passes what was typed as a value, never as SQL, and refuses a term longer than any identifier', async () => {
    expect((await searchEvents(store, { principal: "x' OR 1=1 --" }, ALL, 50)).events).toEqual([])
    expect((await searchEvents(store, { resource: "finance-archive') OR ('1'='1" }, ALL, 50)).events).toEqual([])
    await expect(searchEvents(store, { resource: 'a'.repeat(MAX_TERM_LENGTH + 1) }, ALL, 50)).rejects.toThrow(`the resource searched for is longer than ${String(MAX_TERM_LENGTH)} characters`)
  })
})
