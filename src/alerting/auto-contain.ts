/**
 * Automatic containment, for the detectors and rules the operator named (TRAILWATCH_CONTAIN_AUTO):
 * an alert of one of them, severe enough, contains its identity at once, once per identity per
 * incident, at most so many an hour, never a protected principal; the incident's history and an
 * email say what was done and how to undo it.
 */
import { z } from 'zod'
import type { StoredAlert } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import type { Config } from '../config.js'
import type { ContainAction } from '../contain/changes.js'
import { applyContainment, type ContainmentOutcome, type ContainTarget } from '../contain/contain.js'
import { errorMessage } from '../errors.js'
import { noteIncident } from '../incidents/incidents.js'
import { triggerEvents } from '../incidents/triggers.js'
import type { Logger } from '../logger.js'
import { atLeast } from '../severity.js'
import { clickHouseTime } from '../time.js'

/** Who automatic containments are kept as. */
export const AUTOMATIC = 'trailwatch (automatic)'
const HOUR = 3_600_000
const PRINCIPAL = /^arn:aws[\w-]*:iam::\d{12}:(user|role)\//

export interface AutoContainment {
  alert: StoredAlert
  incident: string
  action: ContainAction
  /** The key or principal it was aimed at. */
  target: string
  /** What was done; absent when nothing was. */
  outcome?: ContainmentOutcome | undefined
  /** Why nothing was done (refused, failed, over the hourly limit, nothing to contain). */
  failure?: string | undefined
}

/** Incident and target pairs automatic containment tried already, and how many it made in the last hour. */
async function earlierAttempts(store: Store, incidents: string[], now: Date): Promise<{ tried: Set<string>; lastHour: number }> {
  const rows = await selectRows(
    store,
    `SELECT containment_id, incident_id, target, toUnixTimestamp64Milli(at) AS at FROM containments
     WHERE actor = {actor:String} AND (incident_id IN {incidents:Array(String)} OR at >= {since:DateTime64(3)})`,
    { actor: AUTOMATIC, incidents, since: clickHouseTime(now.getTime() - HOUR) },
    z.object({ containment_id: z.string(), incident_id: z.string(), target: z.string(), at: z.coerce.number() }),
  )
  return {
    tried: new Set(rows.map((r) => `${r.incident_id}|${r.target}`)),
    lastHour: new Set(rows.filter((r) => r.at >= now.getTime() - HOUR).map((r) => r.containment_id)).size,
  }
}

/** The key or principal an alert's action aims at: a long-term key it used, or its user or role. */
async function targetOf(store: Store, alert: StoredAlert, action: ContainAction): Promise<ContainTarget | undefined> {
  if (action === 'deactivate-key') {
    const events = (await triggerEvents(store, [alert], 50)).get(alert.alert_id) ?? []
    const key = events.map((e) => e.key).find((k) => k.startsWith('AKIA'))
    return key ? { type: 'key', key } : undefined
  }
  return PRINCIPAL.test(alert.principal) ? { type: 'principal', arn: alert.principal } : undefined
}

/** Contains what the new alerts of the named detectors point at, each once per incident; returns what it did and did not do. */
export async function containAutomatically(store: Store, settings: Config['contain'], alerts: StoredAlert[], incidentOf: Map<string, string>, logger: Logger, now: Date): Promise<AutoContainment[]> {
  const rules = new Map<string, ContainAction>(settings.auto.map((r) => [r.detector, r.action]))
  const due = alerts.filter((a) => rules.has(a.detector) && atLeast(a.severity, settings.autoMinSeverity) && incidentOf.has(a.alert_id))
  if (due.length === 0) return []
  const { tried, lastHour } = await earlierAttempts(store, [...new Set(due.map((a) => incidentOf.get(a.alert_id) ?? ''))], now)
  let made = lastHour
  const results: AutoContainment[] = []
  for (const alert of due) {
    const incident = incidentOf.get(alert.alert_id) ?? ''
    const action = rules.get(alert.detector) as ContainAction
    const target = await targetOf(store, alert, action)
    if (!target) {
      logger.debug({ alert: alert.alert_id, action }, 'nothing for automatic containment to act on: no long-term key, or no user or role')
      continue
    }
    const aim = target.type === 'key' ? target.key : target.arn
    if ([aim, alert.principal].some((t) => tried.has(`${incident}|${t}`))) continue
    tried.add(`${incident}|${aim}`)
    const result: AutoContainment = { alert, incident, action, target: aim }
    results.push(result)
    if (made >= settings.autoPerHour) {
      result.failure = `over TRAILWATCH_CONTAIN_AUTO_PER_HOUR (${String(settings.autoPerHour)} an hour): nothing contained now; a person decides`
      logger.warn({ alert: alert.alert_id, incident, target: aim }, 'automatic containment over its hourly limit')
      await noteIncident(store, incident, 'contained', AUTOMATIC, `automatic ${action} of ${aim} not done: ${result.failure}`, now)
      continue
    }
    try {
      // applyContainment keeps what it did, or why not, in the incident's log.
      result.outcome = await applyContainment(store, settings, { target, actions: [action], actor: AUTOMATIC, reason: `automatic, on ${alert.detector} alert ${alert.alert_id}`, incident }, now)
      made++
    } catch (err) {
      // Whatever went wrong, the alerts still go out: containment failing must not hold them back.
      result.failure = errorMessage(err)
    }
  }
  return results
}
