import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import type { Principals } from '../principals.js'
import { clickHouseTime } from '../time.js'
import { workingDayOf, type WorkingDay } from '../working-day.js'

const DAY = 86_400_000
/** The history a person's working day is learned from: off-hours-activity's baseline. */
export const WORKING_HISTORY_DAYS = 28

export interface KnownWorkingTime {
  /** The clock the person is judged and shown on: as configured, inferred from their hours, or UTC when neither. */
  zone: string
  source: 'configured' | 'inferred' | 'none'
  /** Their own days on that clock, when their history holds any. */
  day: WorkingDay | undefined
  historyDays: number
  /** The country most of their calls came from ('' when none is known). */
  country: string
}

const History = z.object({ active: z.array(z.tuple([z.string(), z.coerce.number()])), days: z.coerce.number() })
const Country = z.object({ source_country: z.string() })

/**
 * A person's working time as the off-hours detector judges it, for the console and the emails:
 * the configured zone when one is set, else the zone their last four weeks imply once they hold
 * enough days, each with the working day learned on it.
 */
export async function knownWorkingTime(store: Store, principals: Principals, principal: string, now: Date): Promise<KnownWorkingTime> {
  const range = { principal, from: clickHouseTime(now.getTime() - WORKING_HISTORY_DAYS * DAY), now: clickHouseTime(now.getTime()) }
  const [[history], [country]] = await Promise.all([
    selectRows(
      store,
      `SELECT arraySort(groupUniqArray((toString(day), hour_of_week))) AS active, uniqExact(day) AS days FROM baseline_person_hours
       WHERE principal_arn = {principal:String} AND day >= toDate({from:DateTime64(3)}) AND day < toDate({now:DateTime64(3)})`,
      range,
      History,
    ),
    // The detector's choice among equals: most calls, then the last name.
    selectRows(
      store,
      `SELECT source_country, sum(calls) AS calls FROM baseline_principal_source_days
       WHERE principal_arn = {principal:String} AND day >= toDate({from:DateTime64(3)}) AND day < toDate({now:DateTime64(3)}) AND source_country != ''
       GROUP BY source_country ORDER BY calls DESC, source_country DESC LIMIT 1`,
      range,
      Country,
    ),
  ])
  const active = history?.active ?? []
  const historyDays = history?.days ?? 0
  const configured = principals.workingTimeOf(principal)
  const source = configured.configured ? 'configured' : historyDays >= principals.learning.learnAfterDays ? 'inferred' : 'none'
  const day = workingDayOf(active, country?.source_country ?? '', source === 'configured' ? (configured.timezone ?? 'UTC') : source === 'inferred' ? undefined : 'UTC', principals.learning)
  return { zone: day.zone, source, day: active.length ? day : undefined, historyDays, country: country?.source_country ?? '' }
}
