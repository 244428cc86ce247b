import { z } from 'zod'
import { defineDetector } from '../define.js'
import { baselineFrom, earliestBaselineFrom, fewest, keys, windowed, windowFrom, windowQueries } from '../windows.js'
import { isoTime, localTime } from '../../src/time.js'

const MOVED = { error: 'working time is set per principal in TRAILWATCH_PRINCIPALS_FILE now (defaults and overrides, unchanged)' }

const HOUR = 3_600_000

const Config = z.object({
  /** An hour of the week is the principal's own when it acted then on this many days of its history. */
  usualDays: z.number().int().positive().default(2),
  /** With nothing configured for a person, this many active days of history make their own hours the rule. */
  learnAfterDays: z.number().int().positive().default(10),
  defaults: z.never(MOVED).optional(),
  overrides: z.never(MOVED).optional(),
})

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  hour_start: z.string(),
  last_seen: z.string(),
  calls: z.coerce.number(),
  sensitive_calls: z.coerce.number(),
  sample_events: z.array(z.string()),
  sensitive_events: z.array(z.string()),
  source_ips: z.array(z.string()),
  kinds: z.array(z.string()),
  profile: z.array(z.tuple([z.coerce.number(), z.coerce.number()])),
  history_days: z.coerce.number(),
})

/** What is read of a person's call, and whether it is one that matters more at night. */
const PERSON_CALL = `account_id, principal_arn, event_time, event_id, event_name, coalesce(source_ip, source_host) AS origin, actor_kind,
  (event_source = 'secretsmanager.amazonaws.com' AND event_name = 'GetSecretValue')
  OR (event_source = 'ssm.amazonaws.com' AND event_name = 'GetParameter' AND position(raw, '"withDecryption":true') > 0)
  OR (event_source IN ('iam.amazonaws.com', 'sts.amazonaws.com') AND read_only = false AND error_code = '')
  OR event_name = 'ConsoleLogin' AS sensitive`

/** A call that is its principal at work. */
const PERSON_AT_WORK = `
  -- A failed sign-in in someone's name is not them at work.
  NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure')
  -- Another account's callers keep their own hours; cross-account-assume-role watches who they are.
  AND NOT match(principal_arn, '^[0-9]{12}$')`

export default defineDetector({
  id: 'off-hours-activity',
  title: 'A person acted outside their own working hours',
  severity: 'low',
  schedule: '* * * * *',
  window: '1h',
  lookback: '28d',
  attack: ['T1078'],
  runbook: [
    'Is the person on call, travelling, or working late on a known incident? Ask them.',
    'If not: list what they did in the hour and from where, and treat the credential as stolen until shown otherwise.',
  ],
  config: Config,
  ...windowQueries(
    (replay) => `
    WITH
      recent AS (
        SELECT ${keys(replay, 'account_id, principal_arn')}, toStartOfHour(event_time) AS hour_start,
               toString(max(event_time)) AS last_seen, uniqExact(event_id) AS calls,
               uniqExactIf(event_id, sensitive) AS sensitive_calls,
               ${fewest('groupUniqArray(event_name)')} AS sample_events,
               ${fewest('groupUniqArrayIf(event_name, sensitive)')} AS sensitive_events,
               ${fewest('groupUniqArray(origin)')} AS source_ips,
               arraySort(groupUniqArray(actor_kind)) AS kinds
        FROM (${windowed({ columns: PERSON_CALL, pre: "actor_kind IN ('human-console', 'human-cli') AND principal_arn != '' AND error_code = ''", sql: PERSON_AT_WORK }, replay)})
        GROUP BY ${keys(replay, 'account_id, principal_arn, hour_start')}
      ),
      -- Each window's principals, with the days of their history before it, within its baseline.
      history AS (
        SELECT ${replay ? 'g.run AS run, ' : ''}h.account_id AS account_id, h.principal_arn AS principal_arn, h.hour_of_week AS hour_of_week, h.day AS day,
               uniqExact(h.day) OVER (PARTITION BY ${replay ? 'g.run, ' : ''}h.account_id, h.principal_arn) AS total_days
        FROM (SELECT DISTINCT ${keys(replay, 'account_id, principal_arn')} FROM recent) AS g
        INNER JOIN (
          SELECT * FROM baseline_person_hours
          WHERE day >= toDate(${earliestBaselineFrom(replay)}) AND day < toDate({now:DateTime64(3)})
            AND (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM recent)
        ) AS h ON g.account_id = h.account_id AND g.principal_arn = h.principal_arn
        WHERE h.day >= toDate(${baselineFrom(replay, 'g.run')}) AND h.day < toDate(${windowFrom(replay, 'g.run')})
      ),
      profile AS (
        SELECT ${keys(replay, 'account_id, principal_arn')}, arraySort(groupArray((hour_of_week, days))) AS profile, max(total_days) AS history_days
        FROM (
          SELECT ${keys(replay, 'account_id, principal_arn, hour_of_week')}, uniqExact(day) AS days, any(total_days) AS total_days
          FROM history
          GROUP BY ${keys(replay, 'account_id, principal_arn, hour_of_week')}
        )
        GROUP BY ${keys(replay, 'account_id, principal_arn')}
      )
    SELECT ${replay ? 'r.run AS run, ' : ''}r.account_id AS account_id, r.principal_arn AS principal_arn, toString(r.hour_start) AS hour_start, r.last_seen AS last_seen,
           r.calls AS calls, r.sensitive_calls AS sensitive_calls, r.sample_events AS sample_events, r.sensitive_events AS sensitive_events,
           r.source_ips AS source_ips, r.kinds AS kinds, p.profile AS profile, p.history_days AS history_days
    FROM recent AS r LEFT JOIN profile AS p ON ${replay ? 'r.run = p.run AND ' : ''}r.account_id = p.account_id AND r.principal_arn = p.principal_arn
    ORDER BY ${keys(replay, 'account_id, principal_arn, hour_start')}`,
  ),
  row: Row,
  toFinding: (r, config, { principals }) => {
    const working = principals.workingTimeOf(r.principal_arn)
    const at = Date.parse(isoTime(r.hour_start))
    // The same hour of the week (or the one either side) on enough days of the principal's own history.
    const utc = new Date(at)
    const hourOfWeek = ((utc.getUTCDay() + 6) % 7) * 24 + utc.getUTCHours()
    const daysAt = new Map(r.profile)
    const usualDays = Math.max(...[-1, 0, 1].map((d) => daysAt.get((hourOfWeek + d + 168) % 168) ?? 0))
    const usual = usualDays >= config.usualDays

    let localText: string
    let why: string
    /** What the hour was judged by, for the evidence and for the person reading it. */
    let workingTime: Record<string, unknown>
    let basis: string
    if (!working.configured && r.history_days >= config.learnAfterDays) {
      // Nobody said when this person works, and their history says it: an hour they never work is
      // off-hours whatever a default clock says, and their usual hours never are.
      if (usual) return null
      const offset = inferredUtcOffset(r.profile)
      localText = `${localTime(at + offset * HOUR, 'UTC').text.replace(/ UTC$/, '')} ${offsetName(offset)} (inferred from their hours)`
      why = `at an hour of the week it did not work in ${String(r.history_days)} days of history`
      workingTime = { learned: true, utc_offset: offset }
      basis = 'Learned from the person’s own hours:'
    } else {
      const zone = working.timezone ?? 'UTC'
      const { hours: [startHour, endHour], days, holidays } = working
      const local = localTime(at, zone)
      const holiday = holidays.includes(local.date)
      const outsideSchedule = holiday || !days.includes(local.weekday) || local.hour < startHour || local.hour >= endHour
      // A holiday is a date, which a weekly profile cannot learn: it stays off-hours.
      if (!outsideSchedule || (usual && !holiday)) return null
      localText = local.text
      why = holiday ? `on a holiday (${local.date})` : !days.includes(local.weekday) ? 'on a day off' : `outside ${String(startHour)}:00–${String(endHour)}:00`
      workingTime = { timezone: zone, hours: [startHour, endHour], days, from: working.from }
      basis = `Working time is ${String(startHour)}:00–${String(endHour)}:00 ${zone};`
    }

    const sensitive = r.sensitive_calls > 0
    return {
      severity: sensitive ? 'medium' : 'low',
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} acted at ${localText}, ${why}${sensitive ? `, including ${r.sensitive_events.join(', ')}` : ''}`,
      firstSeen: new Date(at).toISOString(),
      lastSeen: isoTime(r.last_seen),
      evidence: {
        local_time: localText,
        working_time: workingTime,
        calls: r.calls,
        events: r.sample_events,
        sensitive_events: r.sensitive_events,
        sources: r.source_ips,
        actor_kinds: r.kinds,
        baseline: { history_days: r.history_days, days_active_this_hour: usualDays, usual_after: config.usualDays },
      },
      why: `${basis} in ${String(r.history_days)} days of history this principal acted in this hour of the week on ${String(usualDays)} days, and ${String(config.usualDays)} would make it usual.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.hour_start}`,
    }
  },
})

/**
 * A person's UTC offset as their history shows it: the one that puts the middle of their active
 * hours (a circular mean, weighted by active days) at 13:00, the middle of a nine-to-five day.
 */
export function inferredUtcOffset(profile: [number, number][]): number {
  let x = 0
  let y = 0
  for (const [hourOfWeek, days] of profile) {
    const angle = (((hourOfWeek % 24) + 0.5) / 24) * 2 * Math.PI
    x += days * Math.cos(angle)
    y += days * Math.sin(angle)
  }
  const middle = ((Math.atan2(y, x) / (2 * Math.PI)) * 24 + 24) % 24
  return ((Math.round(13 - middle) % 24) + 36) % 24 - 12
}

function offsetName(offset: number): string {
  return offset === 0 ? 'UTC' : `UTC${offset > 0 ? '+' : '−'}${String(Math.abs(offset))}`
}
