import { describe, expect, it } from 'vitest'
import { decodeEvent } from '../cloudtrail/decode.js'
import { eventLine, eventRow } from './events.js'

function decoded(record: object): Parameters<typeof eventLine>[0] {
  const result = decodeEvent(Buffer.from(JSON.stringify(record)))
  if (!result.ok) throw new Error(result.reason)
  return result.event
}

describe('eventLine', () => {
  const record = { eventID: 'e1', eventTime: '2026-11-02T09:15:00.123Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com', userAgent: 'a\tb\\c' }

  it('writes one line with the engine’s time and escapes only what TabSeparated needs', () => {
    const event = { ...decoded(record), raw: '{"x":"one\ntwo\r\tthree\\"}' }
    const line = eventRow(event)
    const { eventId, eventTimeMs, line: bytes } = eventLine(event)
    expect(eventId).toBe('e1')
    expect(eventTimeMs).toBe(Date.parse('2026-11-02T09:15:00.123Z'))
    expect(bytes.toString()).toBe(line)
    expect(line.endsWith('\n')).toBe(true)
    const cells = line.slice(0, -1).split('\t')
    expect(cells).toHaveLength(35)
    expect(cells.slice(0, 3)).toEqual(['e1', '1793610900.123', 'ListUsers'])
    expect(cells).toContain('a\\tb\\\\c')
    expect(cells.at(-1)).toBe('{"x":"one\\ntwo\\r\\tthree\\\\"}')
  })

  it('writes the time as Unix seconds with every millisecond, leading zeros kept', () => {
    const cells = eventRow({ ...decoded(record), eventTimeMs: Date.parse('2026-11-02T09:15:00.005Z') }).split('\t')
    expect(cells[1]).toBe('1793610900.005')
  })

  it('writes a missing address and an unknown read-only flag as NULL, booleans as words', () => {
    const cells = eventRow({ ...decoded(record), sourceIp: null, readOnly: null, mfaAuthenticated: true }).split('\t')
    expect(cells.filter((cell) => cell === '\\N')).toHaveLength(3)
    expect(cells).toContain('true')
  })
})
