import { z } from 'zod'
import { localTime } from './time.js'

const HOUR = 3_600_000

/**
 * Time zones a person may be inferred to live in, with the country each is the usual zone of:
 * every offset people work at, the half- and three-quarter-hour ones included, and each distinct
 * daylight-saving rule. Where several zones share offsets and rules, the first listed stands for them.
 */
export const INFERABLE_ZONES: { zone: string; countries: string[] }[] = [
  { zone: 'America/New_York', countries: ['US'] },
  { zone: 'America/Chicago', countries: ['US'] },
  { zone: 'America/Denver', countries: ['US'] },
  { zone: 'America/Phoenix', countries: ['US'] },
  { zone: 'America/Los_Angeles', countries: ['US'] },
  { zone: 'America/Anchorage', countries: ['US'] },
  { zone: 'Pacific/Honolulu', countries: ['US'] },
  { zone: 'America/Halifax', countries: ['CA'] },
  { zone: 'America/St_Johns', countries: ['CA'] },
  { zone: 'America/Mexico_City', countries: ['MX'] },
  { zone: 'America/Bogota', countries: ['CO', 'EC'] },
  { zone: 'America/Sao_Paulo', countries: ['BR'] },
  { zone: 'America/Argentina/Buenos_Aires', countries: ['AR', 'UY'] },
  { zone: 'America/Santiago', countries: ['CL'] },
  { zone: 'Europe/London', countries: ['GB'] },
  { zone: 'Atlantic/Reykjavik', countries: ['IS'] },
  { zone: 'Europe/Berlin', countries: ['DE', 'BE', 'AT', 'NO', 'DK', 'CZ', 'HU', 'LU', 'SK', 'SI', 'HR', 'RS'] },
  { zone: 'Africa/Lagos', countries: ['NG'] },
  { zone: 'Europe/Helsinki', countries: ['FI', 'EE', 'LV', 'LT', 'RO', 'BG', 'CY'] },
  { zone: 'Africa/Johannesburg', countries: ['ZA'] },
  { zone: 'Africa/Cairo', countries: ['EG'] },
  { zone: 'Asia/Jerusalem', countries: ['IL'] },
  { zone: 'Europe/Istanbul', countries: ['TR'] },
  { zone: 'Europe/Moscow', countries: ['RU', 'BY'] },
  { zone: 'Africa/Nairobi', countries: ['KE'] },
  { zone: 'Asia/Riyadh', countries: ['SA'] },
  { zone: 'Asia/Tehran', countries: ['IR'] },
  { zone: 'Asia/Dubai', countries: ['AE'] },
  { zone: 'Asia/Karachi', countries: ['PK'] },
  { zone: 'Asia/Kolkata', countries: ['IN'] },
  { zone: 'Asia/Kathmandu', countries: ['NP'] },
  { zone: 'Asia/Dhaka', countries: ['BD'] },
  { zone: 'Asia/Yangon', countries: ['MM'] },
  { zone: 'Asia/Bangkok', countries: ['TH'] },
  { zone: 'Asia/Jakarta', countries: ['ID'] },
  { zone: 'Asia/Singapore', countries: ['SG'] },
  { zone: 'Australia/Perth', countries: ['AU'] },
  { zone: 'Asia/Tokyo', countries: ['JP'] },
  { zone: 'Australia/Darwin', countries: ['AU'] },
  { zone: 'Australia/Adelaide', countries: ['AU'] },
  { zone: 'Australia/Brisbane', countries: ['AU'] },
  { zone: 'Australia/Sydney', countries: ['AU'] },
  { zone: 'Pacific/Auckland', countries: ['NZ'] },
  // A country's own zone where it shares another's offsets and rules: named as its people know it.
  { zone: 'America/Toronto', countries: ['CA'] },
  { zone: 'America/Winnipeg', countries: ['CA'] },
  { zone: 'America/Edmonton', countries: ['CA'] },
  { zone: 'America/Vancouver', countries: ['CA'] },
  { zone: 'America/Lima', countries: ['PE'] },
  { zone: 'Europe/Dublin', countries: ['IE'] },
  { zone: 'Europe/Lisbon', countries: ['PT'] },
  { zone: 'Europe/Paris', countries: ['FR'] },
  { zone: 'Europe/Amsterdam', countries: ['NL'] },
  { zone: 'Europe/Madrid', countries: ['ES'] },
  { zone: 'Europe/Rome', countries: ['IT'] },
  { zone: 'Europe/Zurich', countries: ['CH'] },
  { zone: 'Europe/Stockholm', countries: ['SE'] },
  { zone: 'Europe/Warsaw', countries: ['PL'] },
  { zone: 'Europe/Athens', countries: ['GR'] },
  { zone: 'Europe/Kyiv', countries: ['UA'] },
  { zone: 'Asia/Colombo', countries: ['LK'] },
  { zone: 'Asia/Ho_Chi_Minh', countries: ['VN'] },
  { zone: 'Asia/Shanghai', countries: ['CN'] },
  { zone: 'Asia/Hong_Kong', countries: ['HK'] },
  { zone: 'Asia/Taipei', countries: ['TW'] },
  { zone: 'Asia/Manila', countries: ['PH'] },
  { zone: 'Asia/Kuala_Lumpur', countries: ['MY'] },
  { zone: 'Asia/Seoul', countries: ['KR'] },
]

/** Where a person's working day sits on the clock: hours since local midnight, fractional for half-hour zones. */
type Span = [number, number]

export interface WorkingDay {
  zone: string
  /** Each day kind's envelope, margin included; absent when the history holds too few such days. */
  weekday: Span | undefined
  weekend: Span | undefined
  /** Per day kind, on how many days the person acted in each local hour of the day (0–23). */
  hourDays: { weekday: number[]; weekend: number[] }
  /** Days the history holds. */
  days: number
}

export interface WorkingDayOptions {
  /** Hours added either side of the envelope. */
  marginHours: number
  /** Days of a kind it takes to learn that kind's envelope. */
  minDays: number
  /** An hour of the day (or the one either side) worked on this many days of the same kind is the person's own. */
  usualDays: number
}

const WORKING_DAY_DEFAULTS: WorkingDayOptions = { marginHours: 1, minDays: 3, usualDays: 2 }

/** Active days of history after which, with nothing configured, a person's own day on their inferred clock is the rule. */
const LEARN_AFTER_DAYS = 10

/**
 * How people's working days are learned: the off-hours-activity detector's settings, which the
 * console and the emails follow too, so that all three show the day the detector judged by.
 */
export const DayLearning = z.object({
  /** An hour of the day (or one either side) the person worked on this many days of the same kind (weekday, weekend) is their own. */
  usualDays: z.number().int().positive().default(WORKING_DAY_DEFAULTS.usualDays),
  /** Days of a kind it takes to learn that kind's working day. */
  minDays: z.number().int().positive().default(WORKING_DAY_DEFAULTS.minDays),
  /** Hours either side of the learned working day that are still the person's. */
  marginHours: z.number().min(0).max(6).default(WORKING_DAY_DEFAULTS.marginHours),
  /** With nothing configured for a person, this many active days of history make their own day, on their inferred clock, the rule. */
  learnAfterDays: z.number().int().positive().default(LEARN_AFTER_DAYS),
})
export type DayLearning = z.output<typeof DayLearning>

/** Where an instant is on a zone's clock: its local date, ISO weekday, and hours since local midnight. */
type Clock = (ms: number) => { date: string; weekday: number; at: number }

/** How far a zone's clock is ahead of UTC at an instant, to the minute. */
function offsetAt(ms: number, zone: string): number {
  const local = localTime(ms, zone)
  const [year, month, day] = local.date.split('-').map(Number) as [number, number, number]
  return Date.UTC(year, month - 1, day, local.hour, local.minute) - Math.floor(ms / 60_000) * 60_000
}

/**
 * A zone's clock over a span of history, asking the time zone database a dozen times rather than
 * once per hour: offsets change at most once in the few weeks a baseline holds, found by bisection.
 */
function clockOver(zone: string, hourStarts: number[]): Clock {
  const first = Math.min(...hourStarts)
  const last = Math.max(...hourStarts)
  const [before, after] = [offsetAt(first, zone), offsetAt(last, zone)]
  let change = Infinity
  if (before !== after) {
    let [lo, hi] = [first, last]
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000
      if (offsetAt(mid, zone) === before) lo = mid
      else hi = mid
    }
    change = hi
  }
  return (ms) => {
    const shifted = new Date(ms + (ms >= change ? after : before))
    return { date: shifted.toISOString().slice(0, 10), weekday: ((shifted.getUTCDay() + 6) % 7) + 1, at: shifted.getUTCHours() + shifted.getUTCMinutes() / 60 }
  }
}

/** The clock of a zone at one instant. */
const clockAt = (zone: string): Clock => (ms) => {
  const local = localTime(ms, zone)
  return { date: local.date, weekday: local.weekday, at: local.hour + local.minute / 60 }
}

const isWeekend = (weekday: number): boolean => weekday >= 6

/** Each local day's first and last active hour (its start, and its start plus one). */
function daySpans(hourStarts: number[], clock: Clock): { weekday: number; span: Span }[] {
  const days = new Map<string, { weekday: number; span: Span }>()
  for (const hourStart of hourStarts) {
    const { date, weekday, at } = clock(hourStart)
    const day = days.get(date)
    if (day) day.span = [Math.min(day.span[0], at), Math.max(day.span[1], at + 1)]
    else days.set(date, { weekday, span: [at, at + 1] })
  }
  return [...days.values()]
}

/** The value at quantile q by nearest rank: an outlying day or two does not stretch the envelope. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
}

/**
 * How badly a zone explains a history: how far the middle of the person's active hours sits from
 * 13:00 (a working day's middle), plus how much their days' starts and ends wander. A zone whose
 * daylight-saving rule is not the person's moves their day by an hour at the change, and wanders more.
 */
function zoneCost(hourStarts: number[], zone: string): number {
  const clock = clockOver(zone, hourStarts)
  let x = 0
  let y = 0
  for (const hourStart of hourStarts) {
    const angle = ((clock(hourStart).at + 0.5) / 24) * 2 * Math.PI
    x += Math.cos(angle)
    y += Math.sin(angle)
  }
  const middle = ((Math.atan2(y, x) / (2 * Math.PI)) * 24 + 24) % 24
  const fromMidday = Math.abs(((middle - 13 + 36) % 24) - 12)
  const spans = daySpans(hourStarts, clock).map((d) => d.span)
  const [starts, ends] = [spans.map((s) => s[0]), spans.map((s) => s[1])]
  const [startMedian, endMedian] = [quantile(starts, 0.5), quantile(ends, 0.5)]
  const wander = spans.reduce((sum, [start, end]) => sum + (start - startMedian) ** 2 + (end - endMedian) ** 2, 0) / Math.max(1, spans.length)
  return fromMidday ** 2 + wander
}

/**
 * The time zone a person's history fits best: among the zones of the country they mostly work
 * from when it is known, else among all. Daylight saving is part of the fit, and half-hour zones are candidates.
 */
export function inferTimeZone(hourStarts: number[], country = ''): string {
  if (hourStarts.length === 0) return 'UTC'
  const local = INFERABLE_ZONES.filter((z) => z.countries.includes(country))
  const candidates = (local.length ? local : INFERABLE_ZONES).map((z) => z.zone)
  let best = { zone: candidates[0] ?? 'UTC', cost: Infinity }
  for (const zone of candidates) {
    const cost = zoneCost(hourStarts, zone)
    // Ties keep the zone listed first.
    if (cost < best.cost - 1e-9) best = { zone, cost }
  }
  return best.zone
}

/** A person's working day on `zone`'s clock, from the UTC hours they acted in. */
export function learnWorkingDay(hourStarts: number[], zone: string, options: WorkingDayOptions = WORKING_DAY_DEFAULTS): WorkingDay {
  const clock = hourStarts.length ? clockOver(zone, hourStarts) : clockAt(zone)
  const spans = daySpans(hourStarts, clock)
  const envelope = (weekend: boolean): Span | undefined => {
    const of = spans.filter((d) => isWeekend(d.weekday) === weekend).map((d) => d.span)
    if (of.length < options.minDays) return undefined
    return [Math.max(0, quantile(of.map((s) => s[0]), 0.1) - options.marginHours), Math.min(24, quantile(of.map((s) => s[1]), 0.9) + options.marginHours)]
  }
  const hourDays = { weekday: new Array<number>(24).fill(0), weekend: new Array<number>(24).fill(0) }
  const counted = new Set<string>()
  for (const hourStart of hourStarts) {
    const { date, weekday, at } = clock(hourStart)
    const hour = Math.floor(at)
    if (counted.has(`${date}|${String(hour)}`)) continue
    counted.add(`${date}|${String(hour)}`)
    const kind = isWeekend(weekday) ? hourDays.weekend : hourDays.weekday
    kind[hour] = (kind[hour] ?? 0) + 1
  }
  return { zone, weekday: envelope(false), weekend: envelope(true), hourDays, days: spans.length }
}

/** Whether an hour starting at `hourStart` (UTC) lies in the person's own working day. */
export function withinWorkingDay(day: WorkingDay, hourStart: number, options: WorkingDayOptions = WORKING_DAY_DEFAULTS): boolean {
  const { weekday, at } = clockAt(day.zone)(hourStart)
  const weekend = isWeekend(weekday)
  const span = weekend ? day.weekend : day.weekday
  if (span && at + 1 > span[0] && at < span[1]) return true
  const hours = weekend ? day.hourDays.weekend : day.hourDays.weekday
  const hour = Math.floor(at)
  return [-1, 0, 1].some((d) => (hours[(hour + d + 24) % 24] ?? 0) >= options.usualDays)
}

/** An envelope as a reader sees it: `08:30–19:00`. */
export function spanText(span: Span | undefined): string {
  if (!span) return 'none learned'
  const clock = (hours: number): string => `${String(Math.floor(hours)).padStart(2, '0')}:${String(Math.round((hours % 1) * 60)).padStart(2, '0')}`
  return `${clock(span[0])}–${clock(span[1])}`
}

/** The UTC hour starts of a history kept as (day, hour of the week) in UTC, as the store keeps it. */
export function hourStartsOf(days: { day: string; hourOfWeek: number }[]): number[] {
  return days.map(({ day, hourOfWeek }) => Date.parse(`${day}T00:00:00Z`) + (hourOfWeek % 24) * HOUR)
}

/** Histories whose working day was worked out, the oldest forgotten first past this many. */
const REMEMBERED_HISTORIES = 1000
const rememberedDays = new Map<string, WorkingDay>()

/**
 * A person's working day from their history as the store keeps it (the UTC days and hours of the
 * week they acted in), on `zone`'s clock or, with none, on the clock their hours and country fit
 * best. Remembered: every window of a replayed day reads the same history again, and working it
 * out is most of what judging a window costs.
 */
export function workingDayOf(active: readonly (readonly [string, number])[], country: string, zone: string | undefined, options: WorkingDayOptions = WORKING_DAY_DEFAULTS): WorkingDay {
  const key = JSON.stringify([active, country, zone ?? null, options.marginHours, options.minDays, options.usualDays])
  const remembered = rememberedDays.get(key)
  if (remembered) return remembered
  const hourStarts = hourStartsOf(active.map(([day, hourOfWeek]) => ({ day, hourOfWeek })))
  const day = learnWorkingDay(hourStarts, zone ?? inferTimeZone(hourStarts, country), options)
  if (rememberedDays.size >= REMEMBERED_HISTORIES) rememberedDays.delete(rememberedDays.keys().next().value as string)
  rememberedDays.set(key, day)
  return day
}
