/** The engine's `YYYY-MM-DD hh:mm:ss.sss` (UTC) as ISO 8601, for findings people and tools read. */
export function isoTime(text: string): string {
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 }
const formatters = new Map<string, Intl.DateTimeFormat>()

/** A moment on the clock of a time zone: ISO weekday (Monday = 1), hour, local date, and `Tue 2026-11-24 04:12 Europe/Berlin`. */
export function localTime(ms: number, zone: string): { weekday: number; hour: number; date: string; text: string } {
  let format = formatters.get(zone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    formatters.set(zone, format)
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]))
  const date = `${parts.year ?? ''}-${parts.month ?? ''}-${parts.day ?? ''}`
  return { weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0, hour: Number(parts.hour), date, text: `${parts.weekday ?? ''} ${date} ${parts.hour ?? ''}:${parts.minute ?? ''} ${zone}` }
}
