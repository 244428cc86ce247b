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
  before: z.coerce.number(),
  baseline_hours: z.coerce.number(),
})

export default defineDetector({
  id: 'access-denied-burst',
  title: 'A principal drew a burst of denied calls, far above its own normal',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'window',
  lookback: '7d',
  attack: ['T1580', 'T1087.004', 'T1526'],
  runbook: [
    'Denied calls across services in a burst are what enumeration with stolen credentials looks like.',
    'Look at what was tried and from where; a deployment with a missing permission looks the same, so ask its owner.',
  ],
  config: z.object({
    minDenied: z.number().int().positive().default(10),
    /** Console pages fire denied calls for every widget a person may not see: noise unless asked for. */
    includeConsole: z.boolean().default(false),
    /** How many times the principal's usual rate of denials a burst must be. */
    factor: z.number().positive().default(10),
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
          AND (error_code ILIKE '%AccessDenied%' OR error_code ILIKE '%Unauthorized%' OR error_code = 'Forbidden')
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
      -- Each bursting principal's denials before its window, within the window's baseline.
      history AS (
        SELECT account_id, principal_arn, groupArray(event_time) AS times
        FROM denied_calls
        WHERE (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM bursts)
        GROUP BY account_id, principal_arn
      )
    SELECT b.*, arrayCount(t -> t >= ${baselineFrom(replay)} AND t < ${windowFrom(replay)}, h.times) AS before,
           greatest(1, dateDiff('hour', ${baselineFrom(replay)}, ${windowFrom(replay)})) AS baseline_hours
    FROM bursts AS b
    LEFT JOIN history AS h ON b.account_id = h.account_id AND b.principal_arn = h.principal_arn
    ORDER BY ${keys(replay, 'account_id, principal_arn')}`,
  ),
  row: Row,
  toFinding: (r, config, { from, now }) => {
    const windowHours = Math.max(1, (now.getTime() - from.getTime()) / 3_600_000)
    const usual = (r.before / r.baseline_hours) * windowHours
    if (r.denied < config.factor * Math.max(usual, 1)) return null
    return {
      severity: r.services.length >= 3 ? 'high' : 'medium',
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} drew ${String(r.denied)} denied calls (${r.events.slice(0, 4).join(', ')}) where it usually draws ${usual.toFixed(1)}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { denied: r.denied, usual: Number(usual.toFixed(2)), services: r.services, events: r.events, sources: r.sources },
      why: `${String(r.denied)} denied calls across ${String(r.services.length)} services in ${String(windowHours)} h; over the last ${String(Math.round(r.baseline_hours / 24))} days it drew ${usual.toFixed(1)} in as long. A burst is ${String(config.factor)}× the usual and at least ${String(config.minDenied)} denials.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.first_seen.slice(0, 13)}`,
    }
  },
})
