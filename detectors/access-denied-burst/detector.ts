import { z } from 'zod'
import { defineDetector } from '../define.js'
import { baselineFrom, earliestBaselineFrom, fewest, inWindows, keys, windowFrom, windowQueries } from '../windows.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  denied: z.coerce.number(),
  services: z.array(z.string()),
  events: z.array(z.string()),
  sources: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  /** The most denials it drew in one clock hour of its baseline before the window. */
  peak: z.coerce.number(),
})

/** Five weeks: a weekly job's last run, and the one before, are in it. */
const BASELINE_DAYS = 35

/** What a denial is, whoever draws it. */
const DENIED = "error_code ILIKE '%AccessDenied%' OR error_code ILIKE '%Unauthorized%' OR error_code = 'Forbidden'"

export default defineDetector({
  id: 'access-denied-burst',
  title: 'A principal drew a burst of denied calls, far above its own normal',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'window',
  touches: { sql: DENIED, params: {} },
  lookback: `${String(BASELINE_DAYS)}d`,
  attack: ['T1580', 'T1087.004', 'T1526'],
  runbook: [
    'Denied calls across services in a burst are what enumeration with stolen credentials looks like.',
    'Look at what was tried and from where; a deployment with a missing permission looks the same, so ask its owner.',
  ],
  config: z.object({
    minDenied: z.number().int().positive().default(10),
    /** Console pages fire denied calls for every widget a person may not see: noise unless asked for. */
    includeConsole: z.boolean().default(false),
    /** How many times its busiest earlier hour a burst must be: a CI role that draws a dozen on each deploy has drawn a dozen before. */
    overPeak: z.number().positive().default(2),
    factor: z.never({ error: 'a burst is now weighed against the principal’s busiest earlier hour: set overPeak (default 2) instead of factor' }).optional(),
  }),
  params: (config) => ({ minDenied: config.minDenied, includeConsole: config.includeConsole }),
  // AWS service principals (delivery.logs.amazonaws.com draws thousands) never count.
  ...windowQueries(
    (replay) => `
    WITH
      denied_calls AS (
        SELECT event_id, account_id, principal_arn, event_time, event_source, event_name, coalesce(source_ip, source_host) AS source
        FROM events
        WHERE event_time >= ${earliestBaselineFrom(replay)} AND event_time < {now:DateTime64(3)}
          AND principal_arn != '' AND actor_kind != 'aws-service' AND NOT endsWith(principal_arn, '.amazonaws.com')
          AND ({includeConsole:Bool} OR actor_kind != 'human-console')
          AND (${DENIED})
        -- An event delivered twice is one denial.
        LIMIT 1 BY event_id
      ),
      bursts AS (
        SELECT ${keys(replay, 'account_id, principal_arn')}, count() AS denied,
               ${fewest('groupUniqArray(toString(event_source))', 8)} AS services, ${fewest('groupUniqArray(toString(event_name))', 8)} AS events,
               ${fewest('groupUniqArray(source)')} AS sources, toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen
        FROM (${inWindows('denied_calls', replay)})
        GROUP BY ${keys(replay, 'account_id, principal_arn')}
        HAVING denied >= {minDenied:UInt32}
      ),
      -- Each bursting principal's denials per clock hour.
      history AS (
        SELECT account_id, principal_arn, groupArray((hour, n)) AS hours
        FROM (
          SELECT account_id, principal_arn, toStartOfHour(event_time) AS hour, count() AS n
          FROM denied_calls
          WHERE (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM bursts)
          GROUP BY account_id, principal_arn, hour
        )
        GROUP BY account_id, principal_arn
      )
    -- Its busiest whole hour in the baseline before the window.
    SELECT b.*, arrayMax(arrayConcat([toUInt64(0)], arrayMap(x -> x.2,
             arrayFilter(x -> x.1 >= ${baselineFrom(replay)} AND x.1 + INTERVAL 1 HOUR <= ${windowFrom(replay)}, h.hours)))) AS peak
    FROM bursts AS b
    LEFT JOIN history AS h ON b.account_id = h.account_id AND b.principal_arn = h.principal_arn
    ORDER BY ${keys(replay, 'account_id, principal_arn')}`,
  ),
  row: Row,
  toFinding: (r, config) => {
    if (r.denied < config.overPeak * r.peak) return null
    const before = r.peak > 0 ? `its busiest hour of the ${String(BASELINE_DAYS)} days before drew ${String(r.peak)}` : `it drew none in the ${String(BASELINE_DAYS)} days before`
    return {
      severity: r.services.length >= 3 ? 'high' : 'medium',
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} drew ${String(r.denied)} denied calls (${r.events.slice(0, 4).join(', ')}); ${before}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { denied: r.denied, busiest_earlier_hour: r.peak, services: r.services, events: r.events, sources: r.sources },
      why: `${String(r.denied)} denied calls across ${String(r.services.length)} services within the hour; ${before}. A burst is at least ${String(config.minDenied)} denials and ${String(config.overPeak)}× its busiest earlier hour.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.first_seen.slice(0, 13)}`,
    }
  },
})
