import { describe, expect, it } from 'vitest'
import { zonedInstant, addDays } from './time.js'
import { inferTimeZone, learnWorkingDay, spanText, withinWorkingDay } from './working-day.js'

const HOUR = 3_600_000

/** The UTC hours someone acts in who works from `start` to `end` o'clock on `zone`'s clock, on the weekdays of `days` days from `first`. */
function workdays(first: string, days: number, zone: string, start: number, end: number, weekdays = [1, 2, 3, 4, 5]): number[] {
  const hours = new Set<number>()
  for (let i = 0; i < days; i++) {
    const date = addDays(first, i)
    const weekday = ((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7) + 1
    if (!weekdays.includes(weekday)) continue
    // Every half hour of the day, as the store keeps it: the UTC hour it fell in.
    for (let t = start; t < end; t += 0.5) {
      const at = zonedInstant(date, Math.floor(t), (t % 1) * 60, zone)
      hours.add(Math.floor(at / HOUR) * HOUR)
    }
  }
  return [...hours].sort((a, b) => a - b)
}

describe('inferTimeZone', () => {
  it('tells a Londoner from a zone of the same offset without summer time, by the clock change inside the history', () => {
    // Four weeks either side of 25 October 2026, when London left summer time.
    const history = workdays('2026-10-05', 42, 'Europe/London', 9, 17.5)
    expect(inferTimeZone(history)).toBe('Europe/London')
    // Her day after the change on a clock with no change would be an hour off; on hers it is the same day.
    const day = learnWorkingDay(history, 'Europe/London')
    // Half past five falls in the hour from five, as the store keeps hours.
    expect(spanText(day.weekday)).toBe('08:00–19:00')
    expect(withinWorkingDay(day, Date.parse('2026-11-17T08:00:00Z'))).toBe(true)
    expect(withinWorkingDay(day, Date.parse('2026-11-17T05:00:00Z'))).toBe(false)
  })

  it('finds half-hour zones: Kolkata from India, Adelaide from Australia across its April change', () => {
    expect(inferTimeZone(workdays('2026-11-02', 21, 'Asia/Kolkata', 9.5, 18), 'IN')).toBe('Asia/Kolkata')
    const adelaide = workdays('2026-03-16', 42, 'Australia/Adelaide', 9, 17)
    expect(inferTimeZone(adelaide, 'AU')).toBe('Australia/Adelaide')
    // Without the country too: no other zone puts her day in its middle and changes when Adelaide does.
    expect(inferTimeZone(adelaide)).toBe('Australia/Adelaide')
  })

  it('keeps to the zones of the country the person works from', () => {
    // Eight to four in Chicago is nine to five in New York: the country is the same, the clock decides.
    expect(inferTimeZone(workdays('2026-11-02', 21, 'America/Chicago', 9, 17), 'US')).toBe('America/Chicago')
    expect(inferTimeZone(workdays('2026-11-02', 21, 'America/Chicago', 9, 17), 'GB')).toBe('Europe/London')
  })
})

describe('learnWorkingDay', () => {
  const zone = 'Europe/Berlin'
  const history = [...workdays('2026-11-02', 21, zone, 9, 18), ...workdays('2026-11-02', 14, zone, 10, 12, [6])]

  it('learns weekdays and weekends apart, with a margin, from three weeks', () => {
    const day = learnWorkingDay(history, zone)
    expect([spanText(day.weekday), spanText(day.weekend)]).toEqual(['08:00–19:00', 'none learned'])
    // 18:30 on a Thursday is inside the margin; 21:00 is not.
    expect(withinWorkingDay(day, zonedInstant('2026-11-26', 18, 0, zone))).toBe(true)
    expect(withinWorkingDay(day, zonedInstant('2026-11-26', 21, 0, zone))).toBe(false)
    // Two Saturday mornings make Saturday at ten hers; Sunday afternoon is not.
    expect(withinWorkingDay(day, zonedInstant('2026-11-28', 10, 0, zone))).toBe(true)
    expect(withinWorkingDay(day, zonedInstant('2026-11-29', 15, 0, zone))).toBe(false)
  })

  it('keeps the nights of an on-call rota as the person’s own once they recur', () => {
    const nights = [zonedInstant('2026-11-10', 2, 0, zone), zonedInstant('2026-11-17', 2, 0, zone)]
    const day = learnWorkingDay([...history, ...nights], zone)
    expect(withinWorkingDay(day, zonedInstant('2026-11-24', 3, 0, zone))).toBe(true)
    expect(withinWorkingDay(learnWorkingDay(history, zone), zonedInstant('2026-11-24', 3, 0, zone))).toBe(false)
  })
})
