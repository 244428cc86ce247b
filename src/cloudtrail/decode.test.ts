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
})
