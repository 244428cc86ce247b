import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { selectRows } from '../src/clickhouse/rows.js'
import { apiCall, iamUser, ingestRecords } from '../test/helpers/events.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { compileDetection, UnsupportedRule } from './sigma.js'

const HOSTILE = "x'; DROP TABLE events; --"
const call = (id: string, extra: Record<string, unknown>) => apiCall('2026-11-20T11:00:00Z', iamUser('carol'), '203.0.113.9', { eventID: id, ...extra })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    call('stop', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name: 'Org-Trail' } }),
    call('denied', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', errorCode: 'AccessDenied' }),
    call('star', { eventSource: 's3.amazonaws.com', eventName: 'PutObject', requestParameters: { key: 'a*b', tags: ['x', 'y'] }, readOnly: false }),
    call('hostile', { eventSource: 's3.amazonaws.com', eventName: 'GetObject', userAgent: HOSTILE }),
  ])
})
afterAll(async () => {
  await store.close()
})

/** The ids of the stored events the detection matches. */
async function matching(detection: Record<string, unknown>): Promise<string[]> {
  const { sql, params } = compileDetection(detection)
  const rows = await selectRows(store, `SELECT DISTINCT event_id FROM events WHERE ${sql} ORDER BY event_id`, params, z.object({ event_id: z.string() }))
  return rows.map((r) => r.event_id)
}

describe('Sigma detection compiled to ClickHouse', () => {
  it('compares text without regard to case, and reads nested fields from the original record', async () => {
    expect(await matching({ selection: { eventName: 'stoplogging', 'requestParameters.name': 'org-trail' }, condition: 'selection' })).toEqual(['stop'])
  })

  it('treats null as absent, and `not 1 of` as none of them', async () => {
    expect(await matching({ selection: { eventName: 'StopLogging', errorCode: null }, condition: 'selection' })).toEqual(['stop'])
    expect(await matching({ selection: { eventSource: '*.amazonaws.com' }, filter_a: { eventName: 'GetObject' }, filter_b: { errorCode: 'AccessDenied' }, condition: 'selection and not 1 of filter_*' })).toEqual(['star', 'stop'])
  })

  it('keeps an escaped star literal, and a bare star asks only whether the field is there', async () => {
    expect(await matching({ selection: { 'requestParameters.key': 'a\\*b' }, condition: 'selection' })).toEqual(['star'])
    expect(await matching({ selection: { 'requestParameters.key': 'a\\*c' }, condition: 'selection' })).toEqual([])
    expect(await matching({ selection: { 'errorCode|contains': '*' }, condition: 'selection' })).toEqual(['denied'])
  })

  it('reads booleans and arrays as JSON writes them, and takes every value with |all', async () => {
    expect(await matching({ selection: { readOnly: false, 'requestParameters.tags|contains|all': ['"x"', '"y"'] }, condition: 'selection' })).toEqual(['star'])
    expect(await matching({ selection: { 'requestParameters.tags|contains|all': ['"x"', '"z"'] }, condition: 'selection' })).toEqual([])
  })

  it('never puts a value into the SQL text', async () => {
    const compiled = compileDetection({ selection: { userAgent: HOSTILE, [`requestParameters.${HOSTILE}`]: 'v' }, condition: 'selection or not selection' })
    expect(compiled.sql).not.toContain('DROP')
    expect(Object.values(compiled.params)).toContain(HOSTILE)
    expect(await matching({ selection: { userAgent: HOSTILE }, condition: 'selection' })).toEqual(['hostile'])
  })

  it('names what it cannot express', () => {
    expect(() => compileDetection({ selection: { 'eventName|base64offset|contains': 'x' }, condition: 'selection' })).toThrow(new UnsupportedRule('eventName|base64offset|contains: the modifier base64offset'))
    expect(() => compileDetection({ keywords: ['evil'], condition: 'keywords' })).toThrow(/keywords \(values without a field\)/)
    expect(() => compileDetection({ selection: { eventName: 'x' }, condition: 'selection | count() > 5' })).toThrow(/aggregation/)
    expect(() => compileDetection({ selection: { eventName: 'x' }, condition: 'selection and other' })).toThrow(/no selection other/)
  })
})
