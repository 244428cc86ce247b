import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { usedActions } from '../src/iam/least-privilege.js'
import { storeSnapshot } from '../src/iam/snapshots.js'
import { permissionUsage, principalFromSnapshot } from '../src/iam/usage.js'
import { ACCOUNT, apiCall, ingestRecords, roleSession } from './helpers/events.js'
import { openTestStore, type TestStore } from './helpers/store.js'

const TAKEN = Date.parse('2026-11-30T06:00:00Z')
const AT = new Date('2026-11-30T12:00:00Z')
const RUNTIME = `arn:aws:iam::${ACCOUNT}:role/app-runtime`

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await storeSnapshot(store, ACCOUNT, TAKEN, readFileSync(path.resolve(import.meta.dirname, 'fixtures/iam/authorization-details.json'), 'utf8'), TAKEN)
  const session = roleSession('app-runtime', 'i-0abc')
  await ingestRecords(store, [
    apiCall('2026-11-29T10:00:00Z', session, '10.0.1.5', { eventSource: 's3.amazonaws.com', eventName: 'GetObject' }),
    apiCall('2026-11-29T10:05:00Z', session, '10.0.1.5', { eventSource: 'ec2.amazonaws.com', eventName: 'DescribeInstances' }),
    // Refused: not use.
    apiCall('2026-11-29T10:06:00Z', session, '10.0.1.5', { eventSource: 'iam.amazonaws.com', eventName: 'ListUsers', errorCode: 'AccessDenied' }),
  ])
})
afterAll(async () => {
  await store.close()
})

const usageOf = async (arn: string) => {
  const { principal, snapshot } = await principalFromSnapshot(store, arn, AT)
  return permissionUsage(principal, snapshot, await usedActions(store, arn, { from: new Date(AT.getTime() - 90 * 86_400_000), to: AT }))
}

describe('what a principal is granted against what it used', () => {
  it('app-runtime: read-only access used for S3 and EC2, never for IAM or CloudTrail', async () => {
    const usage = await usageOf(RUNTIME)
    expect(usage).toMatchObject({ kind: 'role', snapshot: new Date(TAKEN).toISOString(), administrator: false })
    expect(usage.statements).toEqual([
      { statement: 'arn:aws:iam::aws:policy/ReadOnlyAccess#0', grants: ['s3:Get*', 's3:List*', 'ec2:Describe*', 'iam:Get*', 'iam:List*', 'cloudtrail:Describe*', 'cloudtrail:LookupEvents'], used: ['ec2:DescribeInstances', 's3:GetObject'] },
    ])
    expect(usage.unusedServices).toEqual(['cloudtrail', 'iam'])
  })

  it('bob: administrator, and nothing of it used; a grant of every service names no unused service', async () => {
    const usage = await usageOf(`arn:aws:iam::${ACCOUNT}:user/bob`)
    expect(usage.administrator).toBe(true)
    expect(usage.statements.map((s) => [s.statement, s.used.length])).toEqual([['arn:aws:iam::aws:policy/AdministratorAccess#0', 0]])
    expect(usage.unusedServices).toEqual([])
  })

  it('says which snapshot lacks whom, and when there is none', async () => {
    await expect(principalFromSnapshot(store, `arn:aws:iam::${ACCOUNT}:user/nobody`, AT)).rejects.toThrow(`the IAM snapshot of account ${ACCOUNT} taken at 2026-11-30T06:00:00.000Z has no user or role arn:aws:iam::${ACCOUNT}:user/nobody`)
    await expect(principalFromSnapshot(store, RUNTIME, new Date(TAKEN - 1))).rejects.toThrow(`no IAM snapshot of account ${ACCOUNT}`)
  })
})
