import { z } from 'zod'
import { defineDetector } from '../define.js'
import { baselineFrom, earliestBaselineFrom, fewest, keys, windowed, windowFrom, windowQueries } from '../windows.js'
import { isoTime, localTime } from '../../src/time.js'
import { DayLearning, spanText, withinWorkingDay, workingDayOf } from '../../src/working-day.js'

const MOVED = { error: 'working time is set per principal in TRAILWATCH_PRINCIPALS_FILE now (defaults and overrides, unchanged)' }


const Config = DayLearning.extend({
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
  /** The UTC (day, hour of the week) the person acted in, over the baseline before the window. */
  active: z.array(z.tuple([z.string(), z.coerce.number()])),
  history_days: z.coerce.number(),
  /** The country most of their calls came from over the same baseline; '' when none is known. */
  country: z.string(),
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
  // The history a working day is learned from: the console and the emails read the same (WORKING_HISTORY_DAYS).
  lookback: '28d',
  attack: ['T1078'],
  runbook: [
    '[user-key,user,sso,root] Is the person on call, travelling, or working late on a known incident? Ask them.',
    '[role,instance-role,service] A workload on a new schedule? Ask the role’s owner what runs it now.',
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
        SELECT ${keys(replay, 'account_id, principal_arn')}, arraySort(groupUniqArray((toString(day), hour_of_week))) AS active, max(total_days) AS history_days
        FROM history
        GROUP BY ${keys(replay, 'account_id, principal_arn')}
      ),
      -- Where each window's principals mostly worked from before it: the clock is looked for among that country's.
      countries AS (
        SELECT ${keys(replay, 'account_id, principal_arn')}, argMax(source_country, (calls, source_country)) AS country
        FROM (
          SELECT ${replay ? 'g.run AS run, ' : ''}s.account_id AS account_id, s.principal_arn AS principal_arn, s.source_country AS source_country, sum(s.calls) AS calls
          FROM (SELECT DISTINCT ${keys(replay, 'account_id, principal_arn')} FROM recent) AS g
          INNER JOIN (
            SELECT account_id, principal_arn, day, source_country, calls FROM baseline_principal_source_days
            WHERE day >= toDate(${earliestBaselineFrom(replay)}) AND day < toDate({now:DateTime64(3)}) AND source_country != ''
              AND (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM recent)
          ) AS s ON g.account_id = s.account_id AND g.principal_arn = s.principal_arn
          WHERE s.day >= toDate(${baselineFrom(replay, 'g.run')}) AND s.day < toDate(${windowFrom(replay, 'g.run')})
          GROUP BY ${keys(replay, 'account_id, principal_arn, source_country')}
        )
        GROUP BY ${keys(replay, 'account_id, principal_arn')}
      )
    SELECT ${replay ? 'r.run AS run, ' : ''}r.account_id AS account_id, r.principal_arn AS principal_arn, toString(r.hour_start) AS hour_start, r.last_seen AS last_seen,
           r.calls AS calls, r.sensitive_calls AS sensitive_calls, r.sample_events AS sample_events, r.sensitive_events AS sensitive_events,
           r.source_ips AS source_ips, r.kinds AS kinds, p.active AS active, p.history_days AS history_days, c.country AS country
    FROM recent AS r
    LEFT JOIN profile AS p ON ${replay ? 'r.run = p.run AND ' : ''}r.account_id = p.account_id AND r.principal_arn = p.principal_arn
    LEFT JOIN countries AS c ON ${replay ? 'r.run = c.run AND ' : ''}r.account_id = c.account_id AND r.principal_arn = c.principal_arn
    ORDER BY ${keys(replay, 'account_id, principal_arn, hour_start')}`,
  ),
  row: Row,
  toFinding: (r, config, { principals }) => {
    const working = principals.workingTimeOf(r.principal_arn)
    const at = Date.parse(isoTime(r.hour_start))
    const learned = !working.configured && r.history_days >= config.learnAfterDays
    // Nobody said when this person works, and their history says it: their own day on their own clock is the rule.
    const day = workingDayOf(r.active, r.country, learned ? undefined : (working.timezone ?? 'UTC'), config)
    const { zone } = day
    const usual = withinWorkingDay(day, at, config)
    const local = localTime(at, zone)
    const weekend = local.weekday >= 6
    const learnedDay = { timezone: zone, weekday: spanText(day.weekday), weekend: spanText(day.weekend) }

    let localText: string
    let why: string
    /** What the hour was judged by, for the evidence and for the person reading it. */
    let workingTime: Record<string, unknown>
    let basis: string
    if (learned) {
      if (usual) return null
      localText = `${local.text} (inferred from their hours)`
      why = `outside the ${weekend ? 'weekend hours' : 'working day'} it kept in ${String(r.history_days)} days of history (${weekend ? learnedDay.weekend : learnedDay.weekday})`
      workingTime = { learned: true, ...learnedDay }
      basis = `Learned from the person’s own days on the clock of ${zone}, inferred from their hours${r.country ? ` and country (${r.country})` : ''}:`
    } else {
      const { hours: [startHour, endHour], days, holidays } = working
      const holiday = holidays.includes(local.date)
      const outsideSchedule = holiday || !days.includes(local.weekday) || local.hour < startHour || local.hour >= endHour
      // A holiday is a date, which a person's usual days cannot learn: it stays off-hours.
      if (!outsideSchedule || (usual && !holiday)) return null
      localText = local.text
      why = holiday ? `on a holiday (${local.date})` : !days.includes(local.weekday) ? 'on a day off' : `outside ${String(startHour)}:00–${String(endHour)}:00`
      workingTime = { timezone: zone, hours: [startHour, endHour], days, from: working.from }
      basis = `Working time is ${String(startHour)}:00–${String(endHour)}:00 ${zone}, and outside it`
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
        baseline: { history_days: r.history_days, country: r.country, learned_day: learnedDay, usual_after_days: config.usualDays },
      },
      why: `${basis} the person’s own days count: in ${String(r.history_days)} days of history they worked ${learnedDay.weekday} on weekdays and ${learnedDay.weekend} at weekends (with ${String(config.marginHours)} h either side), and an hour of the day they worked on ${String(config.usualDays)} days of the same kind is theirs too. This hour is neither.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.hour_start}`,
    }
  },
})
