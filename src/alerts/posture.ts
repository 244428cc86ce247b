/**
 * Posture findings: states of the accounts (a key past its rotation, an administrator on a user, a
 * trust in anyone) rather than acts, kept apart from incidents with a workflow of their own. A
 * finding is open until its check no longer finds it (fixed) or a person accepts it until a day,
 * saying why (accepted); an acceptance that lapses or is taken back leaves it open again.
 */
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { SEVERITIES } from '../severity.js'
import { clickHouseTime, isoFromMillis } from '../time.js'
import { ALERT_COLUMNS, StoredAlertRow, type StoredAlert } from './table.js'

export const POSTURE_STATES = ['open', 'accepted', 'fixed'] as const
export type PostureState = (typeof POSTURE_STATES)[number]

/** The longest a risk may be accepted for: a year, then someone looks again. */
const MAX_ACCEPTANCE_MS = 366 * 86_400_000
const MAX_REASON = 500

/** What a person decided about a posture finding. */
export interface PostureDecision {
  action: 'accepted' | 'reopened'
  actor: string
  reason: string
  /** Until when an acceptance holds (ISO 8601); null for a reopening. */
  until: string | null
  at: string
}

export interface PostureFinding {
  alert: StoredAlert
  state: PostureState
  /** The latest decision, in force or not: an acceptance that lapsed still says who accepted it. */
  decision: PostureDecision | undefined
  /** When its check last ran (ISO 8601), '' when no scheduled run is recorded. */
  checkedAt: string
}

const Decision = z
  .object({
    alert_id: z.string(),
    action: z.enum(['accepted', 'reopened']),
    actor: z.string(),
    reason: z.string(),
    until: z.coerce.number().nullable().transform((ms) => (ms === null ? null : new Date(ms).toISOString())),
    decided_at: isoFromMillis,
  })
  .transform(({ decided_at: at, ...rest }) => ({ ...rest, at }))

/**
 * Fixed when its check ran after it was last found (each run stores every finding it makes again);
 * otherwise accepted while an acceptance holds, else open.
 */
export function postureState(alert: StoredAlert, checkedAt: string, decision: PostureDecision | undefined, now: Date): PostureState {
  if (checkedAt && Date.parse(alert.detected_at) < Date.parse(checkedAt)) return 'fixed'
  if (decision?.action === 'accepted' && decision.until !== null && Date.parse(decision.until) > now.getTime()) return 'accepted'
  return 'open'
}

/** Every posture finding detected by `now` (or the ones named), with its state: the worst first, then the newest. */
export async function postureFindings(store: Store, now: Date, alertIds?: string[]): Promise<PostureFinding[]> {
  const only = alertIds ? 'AND alert_id IN {ids:Array(String)}' : ''
  const params = { now: clickHouseTime(now.getTime()), ids: alertIds ?? [] }
  const [alerts, checks, decisions] = await Promise.all([
    selectRows(store, `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM alerts FINAL WHERE kind = 'posture' AND detected_at <= {now:DateTime64(3)} ${only})`, params, StoredAlertRow),
    selectRows(
      store,
      `SELECT detector, toUnixTimestamp64Milli(window_end) AS checked_at FROM detector_watermarks FINAL
       WHERE detector IN (SELECT DISTINCT detector FROM alerts WHERE kind = 'posture') AND window_end <= {now:DateTime64(3)}`,
      params,
      z.object({ detector: z.string(), checked_at: isoFromMillis }),
    ),
    latestDecisions(store, now, alertIds),
  ])
  const checkedAt = new Map(checks.map((c) => [c.detector, c.checked_at]))
  return alerts
    .map((alert) => {
      const decision = decisions.get(alert.alert_id)
      const checked = checkedAt.get(alert.detector) ?? ''
      return { alert, state: postureState(alert, checked, decision, now), decision, checkedAt: checked }
    })
    .sort((a, b) => SEVERITIES.indexOf(b.alert.severity) - SEVERITIES.indexOf(a.alert.severity) || b.alert.first_seen.localeCompare(a.alert.first_seen) || a.alert.alert_id.localeCompare(b.alert.alert_id))
}

// A tuple keeps the latest row's NULL: argMax would pass over it to an older acceptance's end.
async function latestDecisions(store: Store, now: Date, alertIds?: string[]): Promise<Map<string, PostureDecision>> {
  const rows = await selectRows(
    store,
    `SELECT alert_id, argMax(action, at) AS action, argMax(actor, at) AS actor, argMax(reason, at) AS reason,
            toUnixTimestamp64Milli(argMax(tuple(until), at).1) AS until, toUnixTimestamp64Milli(max(at)) AS decided_at
     FROM posture_actions WHERE at <= {now:DateTime64(3)} ${alertIds ? 'AND alert_id IN {ids:Array(String)}' : ''} GROUP BY alert_id`,
    { now: clickHouseTime(now.getTime()), ids: alertIds ?? [] },
    Decision,
  )
  return new Map(rows.map(({ alert_id: id, ...decision }) => [id, decision]))
}

/** One posture finding with its state, or a clear refusal. */
export async function postureFinding(store: Store, alertId: string, now: Date): Promise<PostureFinding> {
  const [found] = await postureFindings(store, now, [alertId])
  if (!found) throw new AppError('NOT_FOUND', `no posture finding ${alertId}: trailwatch posture list shows them`)
  return found
}

/** Every decision on a finding, oldest first. */
export async function postureHistory(store: Store, alertId: string): Promise<PostureDecision[]> {
  const rows = await selectRows(
    store,
    `SELECT alert_id, action, actor, reason, toUnixTimestamp64Milli(until) AS until, toUnixTimestamp64Milli(at) AS decided_at
     FROM posture_actions WHERE alert_id = {id:String} ORDER BY at`,
    { id: alertId },
    Decision,
  )
  return rows.map(({ alert_id: _, ...decision }) => decision)
}

export interface PostureChange {
  action: PostureDecision['action']
  actor: string
  reason: string
  /** For an acceptance: the moment it lapses. */
  until?: Date | undefined
}

/**
 * Accepts a finding's risk until a day, or takes an acceptance back, with who and why. Refused, with
 * the reason, when there is no such finding, no reason, an acceptance without an end in the next
 * year, or nothing to take back.
 */
export async function decidePosture(store: Store, alertId: string, change: PostureChange, now: Date): Promise<PostureFinding> {
  const reason = change.reason.trim()
  if (!reason) throw new AppError('USAGE', `give a reason for ${change.action === 'accepted' ? 'accepting' : 'reopening'} the finding: it is kept with the decision`)
  if (reason.length > MAX_REASON) throw new AppError('USAGE', `a reason is at most ${String(MAX_REASON)} characters`)
  const finding = await postureFinding(store, alertId, now)
  let until: string | null = null
  if (change.action === 'accepted') {
    const ms = change.until?.getTime()
    if (ms === undefined || Number.isNaN(ms) || ms <= now.getTime() || ms > now.getTime() + MAX_ACCEPTANCE_MS) {
      throw new AppError('USAGE', 'an acceptance needs an end within the next year: someone looks at the risk again then')
    }
    until = clickHouseTime(ms)
  } else if (finding.state !== 'accepted') {
    throw new AppError('USAGE', `the finding is ${finding.state}, not accepted: there is no acceptance to take back`)
  }
  await store.client.insert({
    table: 'posture_actions',
    values: [{ alert_id: alertId, action: change.action, actor: change.actor, reason, until, at: clickHouseTime(now.getTime()) }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
  return postureFinding(store, alertId, now)
}
