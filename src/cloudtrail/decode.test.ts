import { describe, expect, it } from 'vitest'
import { decodeEvent } from './decode.js'

const RECORD = { eventID: 'e1', eventTime: '2026-11-02T09:15:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com', recipientAccountId: '111122223333' }
const decode = (fields: object) => decodeEvent(Buffer.from(JSON.stringify({ ...RECORD, ...fields })))

describe('decodeEvent', () => {
  it('reads an optional field written with the other common type as meant', () => {
    const decoded = decode({ readOnly: 'true', managementEvent: 'false', sessionCredentialFromConsole: true, userIdentity: { type: 'IAMUser', accountId: 111122223333, userName: 'carol' } })
    expect(decoded.ok).toBe(true)
    if (!decoded.ok) return
    expect(decoded.event).toMatchObject({ readOnly: true, managementEvent: false, consoleSession: true, principalAccountId: '111122223333' })
    // The original record is kept as it came.
    expect(decoded.event.raw).toContain('"readOnly":"true"')
    // In any case, as Python and SIEM exports write them.
    expect(decode({ readOnly: 'True', managementEvent: ' FALSE' })).toMatchObject({ ok: true, event: { readOnly: true, managementEvent: false } })
  })

  it('still rejects a record whose required or optional fields are of no usable type, and says which', () => {
    expect(decode({ eventName: 7 })).toEqual({ ok: false, reason: expect.stringMatching(/^eventName: /) as string })
    expect(decode({ readOnly: 'sometimes' })).toEqual({ ok: false, reason: expect.stringMatching(/^readOnly: /) as string })
    expect(decode({ userAgent: { name: 'aws-cli' } })).toEqual({ ok: false, reason: expect.stringMatching(/^userAgent: /) as string })
  })

  it('reads an aggregated data event as an event of its own shape, at the start of its window, and names what it lacks', () => {
    const aggregated = {
      eventVersion: '1.0',
      accountId: '111122223333',
      eventId: '62759c1a-6248-48e1-a6b3-d5fb7e6c4bc0',
      eventCategory: 'Aggregated',
      eventType: 'AwsAggregatedEvent',
      awsRegion: 'us-west-2',
      eventSource: 's3.amazonaws.com',
      timeWindow: { windowStart: '2026-11-17T19:20:00Z', windowEnd: '2026-11-17T19:25:00Z', windowSize: 'PT5M' },
      summary: { primaryDimension: { dimension: 'eventName', statistics: [{ name: 'PutObject', value: 1000 }], aggregationType: 'Count' }, details: [] },
    }
    const decoded = decodeEvent(Buffer.from(JSON.stringify(aggregated)))
    expect(decoded).toMatchObject({
      ok: true,
      event: { eventId: aggregated.eventId, eventTimeMs: Date.parse('2026-11-17T19:20:00Z'), eventType: 'AwsAggregatedEvent', eventCategory: 'Aggregated', eventName: '', accountId: '111122223333', principalArn: '', actorKind: 'aws-service' },
    })
    expect(decodeEvent(Buffer.from(JSON.stringify({ ...aggregated, timeWindow: {} })))).toEqual({ ok: false, reason: 'timeWindow.windowStart: missing' })
    expect(decodeEvent(Buffer.from(JSON.stringify({ ...aggregated, eventId: undefined })))).toEqual({ ok: false, reason: 'eventId: missing' })
  })

  it('reads a network activity event (a call through a VPC endpoint) as the call it is', () => {
    const decoded = decode({
      eventVersion: '1.11',
      eventType: 'AwsVpceEvent',
      eventCategory: 'NetworkActivity',
      eventSource: 'kms.amazonaws.com',
      eventName: 'Decrypt',
      errorCode: 'VpceAccessDenied',
      errorMessage: 'The request was denied due to a VPC endpoint policy',
      sourceIPAddress: '10.0.1.15',
      vpcEndpointId: 'vpce-0123456789abcdef0',
      vpcEndpointAccountId: '111122223333',
      userIdentity: { type: 'AWSAccount', principalId: 'AROA123:session', accountId: '444455556666' },
    })
    expect(decoded).toMatchObject({ ok: true, event: { eventType: 'AwsVpceEvent', eventCategory: 'NetworkActivity', eventName: 'Decrypt', errorCode: 'VpceAccessDenied', vpcEndpointId: 'vpce-0123456789abcdef0', sourceIp: '10.0.1.15' } })
  })
})
