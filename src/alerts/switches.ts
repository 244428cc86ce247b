import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

/** A detector or rule as a person last set it. */
export interface DetectorSwitch {
  detector: string
  enabled: boolean
  actor: string
  reason: string
  at: string
}

const Switch = z.object({ detector: z.string(), enabled: z.coerce.boolean(), actor: z.string(), reason: z.string(), changed_at: isoFromMillis }).transform(({ changed_at: at, ...rest }) => ({ ...rest, at }))

/** Turns a detector or rule off or on again, with who and why: the scheduler reads it within half a minute. */
export async function switchDetector(store: Store, change: Omit<DetectorSwitch, 'at'>, at: Date): Promise<void> {
  const reason = change.reason.trim()
  if (!reason) throw new AppError('USAGE', `give a reason for turning ${change.detector} ${change.enabled ? 'on' : 'off'}: it is kept with the change`)
  if (reason.length > 500) throw new AppError('USAGE', 'a reason is at most 500 characters')
  await store.client.insert({
    table: 'detector_switches',
    values: [{ ...change, reason, at: clickHouseTime(at.getTime()) }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

/** Each detector's latest switch, by id: those never switched are absent. */
export async function detectorSwitches(store: Store): Promise<Map<string, DetectorSwitch>> {
  const rows = await selectRows(
    store,
    `SELECT detector, argMax(enabled, at) AS enabled, argMax(actor, at) AS actor, argMax(reason, at) AS reason, toUnixTimestamp64Milli(max(at)) AS changed_at
     FROM detector_switches GROUP BY detector`,
    {},
    Switch,
  )
  return new Map(rows.map((row) => [row.detector, row]))
}

/** The ids a person has turned off. */
export async function switchedOff(store: Store): Promise<Set<string>> {
  return new Set([...(await detectorSwitches(store)).values()].filter((s) => !s.enabled).map((s) => s.detector))
}
