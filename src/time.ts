import { z } from 'zod'

/** `YYYY-MM-DD hh:mm:ss.sss` in UTC: the store's text form of DateTime64(3), for its rows and query parameters. */
export function clickHouseTime(ms: number): string {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
}

/** The engine's `YYYY-MM-DD hh:mm:ss.sss` (UTC) as ISO 8601, for findings people and tools read. */
export function isoTime(text: string): string {
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}

/** ISO 8601 for a person: `2026-11-24 03:12:09 UTC`. */
export function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`
}

/** A time selected as toUnixTimestamp64Milli(…), as ISO 8601. */
export const isoFromMillis = z.coerce.number().transform((ms) => new Date(ms).toISOString())

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 }
const formatters = new Map<string, Intl.DateTimeFormat>()

/** A moment on the clock of a time zone: ISO weekday (Monday = 1), hour, local date, and `Tue 2026-11-24 04:12 Europe/Berlin`. */
export function localTime(ms: number, zone: string): { weekday: number; hour: number; minute: number; date: string; text: string } {
  let format = formatters.get(zone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    formatters.set(zone, format)
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]))
  const date = `${parts.year ?? ''}-${parts.month ?? ''}-${parts.day ?? ''}`
  return { weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0, hour: Number(parts.hour), minute: Number(parts.minute), date, text: `${parts.weekday ?? ''} ${date} ${parts.hour ?? ''}:${parts.minute ?? ''} ${zone}` }
}

/** The instant at which the clock of a time zone shows `date` (YYYY-MM-DD) at hour:minute. */
export function zonedInstant(date: string, hour: number, minute: number, zone: string): number {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number]
  const wall = Date.UTC(year, month - 1, day, hour, minute)
  // The zone's offset at a guess, then again at the answer: the two differ only across a change of offset.
  const offsetAt = (ms: number) => {
    const local = localTime(ms, zone)
    const [y, m, d] = local.date.split('-').map(Number) as [number, number, number]
    return Date.UTC(y, m - 1, d, local.hour, local.minute) - Math.floor(ms / 60_000) * 60_000
  }
  const first = wall - offsetAt(wall)
  return wall - offsetAt(first)
}

/** Every UTC day (YYYY-MM-DD) from the one holding `fromMs` to the one holding `toMs`. */
export function utcDays(fromMs: number, toMs: number): string[] {
  const days: string[] = []
  for (let ms = Math.floor(fromMs / 86_400_000) * 86_400_000; ms <= toMs; ms += 86_400_000) days.push(new Date(ms).toISOString().slice(0, 10))
  return days
}

/** The local date `days` after `date` (YYYY-MM-DD), counted on the calendar. */
export function addDays(date: string, days: number): string {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10)
}
