import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { selectRows } from '../src/clickhouse/rows.js'
import { apiCall, iamUser, ingestRecords, roleSession } from '../test/helpers/events.js'
import { openTestStore, type TestStore } from '../test/helpers/store.js'
import { compileDetection, fieldExpression, UnsupportedRule } from './sigma.js'

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
    call('launch', { eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances', requestParameters: { instanceType: 'g5.xlarge', instancesSet: { items: [{ imageId: 'ami-1' }] } } }),
    call('resize', { eventSource: 'ec2.amazonaws.com', eventName: 'ModifyInstanceAttribute', requestParameters: { instanceId: 'i-1', instanceType: { value: 'p3.2xlarge' } } }),
    call('group', {
      eventSource: 'autoscaling.amazonaws.com',
      eventName: 'CreateAutoScalingGroup',
      requestParameters: { mixedInstancesPolicy: { launchTemplate: { overrides: [{ instanceType: 'm5.large' }, { instanceType: 'g4dn.xlarge' }, { instanceType: 'm5.large' }] } } },
    }),
    call('image', {
      eventSource: 'ec2.amazonaws.com',
      eventName: 'ModifyImageAttribute',
      requestParameters: { launchPermission: { add: { items: [{ group: 'all' }, { userId: '999988887777' }, { organizationArn: 'arn:aws:organizations::999988887777:organization/o-abc' }, { futureKind: 'z' }] }, remove: { items: [{ userId: '111122220000' }] } } },
    }),
    call('database', { eventSource: 'rds.amazonaws.com', eventName: 'ModifyDBSnapshotAttribute', requestParameters: { attributeName: 'restore', valuesToAdd: ['all'], valuesToRemove: ['111122220000'] } }),
    call('fleet', { eventSource: 'ec2.amazonaws.com', eventName: 'CreateFleet', requestParameters: { CreateFleetRequest: { LaunchTemplateConfigs: { Overrides: [{ InstanceType: 'c5.large', tag: 1 }], tag: 1 } } } }),
    apiCall('2026-11-20T11:00:00Z', roleSession('deploy', 'run-1'), '203.0.113.9', { eventID: 'run-1', eventSource: 'lambda.amazonaws.com', eventName: 'UpdateFunctionCode20150331v2' }),
    apiCall('2026-11-20T11:05:00Z', roleSession('deploy', 'run-2'), '203.0.113.9', { eventID: 'run-2', eventSource: 'lambda.amazonaws.com', eventName: 'UpdateFunctionCode20150331v2' }),
    call('policy', {
      eventSource: 's3.amazonaws.com',
      eventName: 'PutBucketPolicy',
      requestParameters: {
        bucketName: 'b',
        bucketPolicy: { Statement: [{ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::193672423079:root', '111122223333', '444455556666'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] },
      },
    }),
    // A Tor exit on the bundled list.
    apiCall('2026-11-20T11:06:00Z', iamUser('carol'), '185.220.101.1', { eventID: 'tor', eventSource: 'iam.amazonaws.com', eventName: 'ListUsers' }),
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

/** A field's values on the stored event of that id, once each. */
async function fieldOf(field: string, id: string): Promise<string[]> {
  const rows = await selectRows(store, `SELECT DISTINCT ${fieldExpression(field, {})} AS value FROM events WHERE event_id = {id:String}`, { id }, z.object({ value: z.string() }))
  return rows.map((r) => r.value)
}

describe('Sigma detection compiled to ClickHouse', () => {
  it('compares text without regard to case, and reads nested fields from the original record', async () => {
    expect(await matching({ selection: { eventName: 'stoplogging', 'requestParameters.name': 'org-trail' }, condition: 'selection' })).toEqual(['stop'])
  })

  it('treats null as absent, and `not 1 of` as none of them', async () => {
    expect(await matching({ selection: { eventName: 'StopLogging', errorCode: null }, condition: 'selection' })).toEqual(['stop'])
    expect(await matching({ selection: { eventSource: '*.amazonaws.com' }, filter_a: { eventName: 'GetObject' }, filter_b: { errorCode: 'AccessDenied' }, condition: 'selection and not 1 of filter_*' })).toEqual(['database', 'fleet', 'group', 'image', 'launch', 'policy', 'resize', 'run-1', 'run-2', 'star', 'stop', 'tor'])
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

  it('knows trailwatch.principal, the role behind every session, and trailwatch.actor', async () => {
    expect(await matching({ selection: { 'trailwatch.principal': 'arn:aws:iam::111122223333:role/deploy' }, condition: 'selection' })).toEqual(['run-1', 'run-2'])
    expect(await matching({ selection: { 'userIdentity.arn|endswith': '/run-1' }, condition: 'selection' })).toEqual(['run-1'])
    expect(await matching({ selection: { eventSource: 'lambda.amazonaws.com' }, people: { 'trailwatch.actor': ['human-cli', 'human-console'] }, condition: 'selection and not people' })).toEqual(['run-1', 'run-2'])
  })

  it('reads every instance type a request names as trailwatch.instanceTypes, however deep, and none as absent', async () => {
    const types = (id: string) => fieldOf('trailwatch.instanceTypes', id)
    expect(await types('launch')).toEqual(['g5.xlarge'])
    expect(await types('resize')).toEqual(['p3.2xlarge'])
    expect(await types('group')).toEqual(['g4dn.xlarge,m5.large'])
    expect(await types('fleet')).toEqual(['c5.large'])
    expect(await types('stop')).toEqual([''])
    expect(await matching({ selection: { 'trailwatch.instanceTypes|re': '(^|,)(g|p)[0-9]' }, condition: 'selection' })).toEqual(['group', 'launch', 'resize'])
    expect(await matching({ selection: { eventSource: 'cloudtrail.amazonaws.com', 'trailwatch.instanceTypes': null }, condition: 'selection' })).toEqual(['denied', 'stop'])
  })

  it('says whom a share gives an image or a snapshot to as trailwatch.sharedWith, everyone for the public group, never whom it takes it from', async () => {
    const sharedWith = (id: string) => fieldOf('trailwatch.sharedWith', id)
    expect(await sharedWith('image')).toEqual(['999988887777, arn:aws:organizations::999988887777:organization/o-abc, everyone, {"futureKind":"z"}'])
    expect(await sharedWith('database')).toEqual(['everyone'])
    expect(await sharedWith('launch')).toEqual([''])
  })

  it('says which other accounts a request names as trailwatch.accountsNamed, never its own account', async () => {
    expect(await fieldOf('trailwatch.accountsNamed', 'policy')).toEqual(['193672423079, 444455556666'])
    expect(await fieldOf('trailwatch.accountsNamed', 'stop')).toEqual([''])
  })

  it('reads the address lists the caller was on as trailwatch.addressLists, for a rule to match', async () => {
    expect(await fieldOf('trailwatch.addressLists', 'tor')).toEqual(['tor-exit'])
    expect(await fieldOf('trailwatch.addressLists', 'launch')).toEqual([''])
    expect(await matching({ selection: { 'trailwatch.addressLists|contains': 'tor-exit' }, condition: 'selection' })).toEqual(['tor'])
    // A column: read first, before the original record.
    expect(compileDetection({ selection: { 'trailwatch.addressLists|contains': 'tor-exit' }, condition: 'selection' }).pre).toContain('source_lists')
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
