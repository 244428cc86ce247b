import { describe, expect, it } from 'vitest'
import { addDays, clickHouseTime, isoFromMillis, isoTime, localTime, utcText, zonedInstant } from './time.js'

describe('local time', () => {
  it('finds the instant a zone’s clock shows a time, across offset changes and half-hour zones', () => {
    expect(new Date(zonedInstant('2026-03-28', 3, 10, 'Europe/Berlin')).toISOString()).toBe('2026-03-28T02:10:00.000Z')
    // The day Europe moves its clocks forward, and the day New York moves them back.
    expect(new Date(zonedInstant('2026-03-29', 3, 10, 'Europe/Berlin')).toISOString()).toBe('2026-03-29T01:10:00.000Z')
    expect(new Date(zonedInstant('2026-11-01', 9, 0, 'America/New_York')).toISOString()).toBe('2026-11-01T14:00:00.000Z')
    expect(new Date(zonedInstant('2026-10-31', 9, 0, 'America/New_York')).toISOString()).toBe('2026-10-31T13:00:00.000Z')
    expect(new Date(zonedInstant('2026-11-30', 9, 45, 'Asia/Kolkata')).toISOString()).toBe('2026-11-30T04:15:00.000Z')
  })

  it('reads a zone’s clock back', () => {
    expect(localTime(Date.parse('2026-11-30T04:15:00Z'), 'Asia/Kolkata')).toEqual({ weekday: 1, hour: 9, minute: 45, date: '2026-11-30', text: 'Mon 2026-11-30 09:45 Asia/Kolkata' })
  })

  it('counts calendar days over month and year ends', () => {
    expect([addDays('2026-03-01', -1), addDays('2026-12-31', 1), addDays('2028-02-28', 1)]).toEqual(['2026-02-28', '2027-01-01', '2028-02-29'])
  })
})

describe('time as text', () => {
  const instant = Date.parse('2026-11-24T03:12:09.042Z')

  it('writes the store’s form and reads it back to the same instant', () => {
    expect(clickHouseTime(instant)).toBe('2026-11-24 03:12:09.042')
    expect(isoTime(clickHouseTime(instant))).toBe('2026-11-24T03:12:09.042Z')
    expect(isoFromMillis.parse(String(instant))).toBe('2026-11-24T03:12:09.042Z')
  })

  it('writes a person’s UTC time to the second', () => {
    expect(utcText(new Date(instant).toISOString())).toBe('2026-11-24 03:12:09 UTC')
  })
})
