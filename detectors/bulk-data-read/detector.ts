import { z } from 'zod'
import { defineDetector } from '../define.js'
import { isoTime } from '../../src/time.js'

/** Calls that read data out: objects, items, query results. */
const READS = ['GetObject', 'SelectObjectContent', 'GetItem', 'BatchGetItem', 'Query', 'Scan']

/** Four weeks: a monthly export's run may be the one before. */
const BASELINE_DAYS = 28

const Row = z.object({
  account_id: z.string(),
  principal: z.string(),
  reads: z.coerce.number(),
  usual: z.coerce.number(),
  first_seen: z.string(),
  last_seen: z.string(),
  summarised: z.coerce.number(),
  events: z.array(z.string()),
})

/**
 * Reads per principal and clock hour, from the two ways CloudTrail tells them: the data events one
 * by one, and the aggregated data events' 5-minute summaries by principal (the USER_ACTIONS
 * template: a principal, the calls it made and how often). A trail may send both; the larger count
 * of an hour is its count, never their sum.
 */
const HOURLY_READS = `
  -- from_summaries: the hour's count is the summaries' (they told more than the events one by one).
  SELECT account_id, principal, hour, greatest(sumIf(n, summarised = 0), sumIf(n, summarised = 1)) AS hour_reads, sumIf(n, summarised = 1) > sumIf(n, summarised = 0) AS from_summaries,
         groupUniqArrayArray(names) AS hour_events, min(first) AS hour_first, max(last) AS hour_last
  FROM (
    -- An event delivered twice is one read.
    SELECT account_id, principal_arn AS principal, toStartOfHour(event_time) AS hour, 0 AS summarised, uniqExact(event_id) AS n,
           groupUniqArray(toString(event_name)) AS names, min(event_time) AS first, max(event_time) AS last
    FROM events
    PREWHERE event_time >= {baselineFrom:DateTime64(3)} AND event_time < {now:DateTime64(3)} AND event_name IN {reads:Array(String)} AND event_category = 'Data'
    WHERE principal_arn != '' AND error_code = ''
    GROUP BY account_id, principal, hour
    UNION ALL
    SELECT account_id, principal, toStartOfHour(event_time) AS hour, 1 AS summarised, sum(read_count) AS n,
           groupUniqArrayArray(read_names) AS names, min(event_time) AS first, max(event_time) AS last
    FROM (
      SELECT account_id, event_time,
             -- A session's summary is its role's: the principal, whatever the session's name.
             replaceRegexpOne(JSONExtractString(raw, 'summary', 'primaryDimension', 'statistics', 1, 'name'), '^arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([^/]+)/.*$', 'arn:\\\\1:iam::\\\\2:role/\\\\3') AS principal,
             arrayFilter(s -> JSONExtractString(s, 'name') IN {reads:Array(String)},
               arrayFlatten(arrayMap(d -> if(JSONExtractString(d, 'dimension') = 'eventName', JSONExtractArrayRaw(d, 'statistics'), []), JSONExtractArrayRaw(raw, 'summary', 'details')))) AS read_stats,
             arraySum(arrayMap(s -> JSONExtractUInt(s, 'value'), read_stats)) AS read_count,
             arrayMap(s -> JSONExtractString(s, 'name'), read_stats) AS read_names
      FROM events
      PREWHERE event_time >= {baselineFrom:DateTime64(3)} AND event_time < {now:DateTime64(3)} AND event_type = 'AwsAggregatedEvent'
      WHERE JSONExtractString(raw, 'summary', 'primaryDimension', 'dimension') = 'userIdentity'
      -- A summary delivered twice is one summary.
      LIMIT 1 BY event_id
    )
    WHERE principal != '' AND read_count > 0
    GROUP BY account_id, principal, hour
  )
  GROUP BY account_id, principal, hour`

export default defineDetector({
  id: 'bulk-data-read',
  title: 'A principal read far more data than it ever had',
  severity: 'high',
  schedule: '*/5 * * * *',
  window: '1h',
  lookback: `${String(BASELINE_DAYS)}d`,
  attack: ['T1530', 'T1005'],
  runbook: [
    'Which buckets or tables, and from where? Data events, or the aggregated summaries, name them: trailwatch events --principal ARN.',
    'If nobody on the principal’s side meant to copy that much, revoke its sessions or deactivate its key, and look for the data leaving (replication, a share, a download).',
  ],
  config: z.object({
    /** Reads in the hour below this are never news: a cache warming, a nightly export of a small table. */
    minReads: z.number().int().positive().default(1_000),
    /** How many times its busiest earlier hour the reads must be. */
    overUsual: z.number().positive().default(10),
    /** Days of the principal's own history before it is judged: a new application has no usual yet. */
    learnDays: z.number().int().min(0).max(BASELINE_DAYS).default(7),
  }),
  params: (config) => ({ reads: READS, minReads: config.minReads, overUsual: config.overUsual, learnDays: config.learnDays }),
  sql: `
    SELECT account_id, principal,
           sumIf(hour_reads, hour >= toStartOfHour({from:DateTime64(3)})) AS reads,
           maxIf(hour_reads, hour < toStartOfHour({from:DateTime64(3)})) AS usual,
           toString(minIf(hour_first, hour >= toStartOfHour({from:DateTime64(3)}))) AS first_seen,
           toString(maxIf(hour_last, hour >= toStartOfHour({from:DateTime64(3)}))) AS last_seen,
           maxIf(from_summaries, hour >= toStartOfHour({from:DateTime64(3)})) AS summarised,
           arraySort(groupUniqArrayArrayIf(hour_events, hour >= toStartOfHour({from:DateTime64(3)}))) AS events
    FROM (${HOURLY_READS})
    GROUP BY account_id, principal
    HAVING reads >= {minReads:UInt64} AND reads >= {overUsual:Float64} * usual
      AND min(hour) <= toStartOfHour({from:DateTime64(3)}) - toIntervalDay({learnDays:UInt32})
    ORDER BY account_id, principal`,
  row: Row,
  toFinding: (r, config) => {
    const usual = r.usual > 0 ? `its busiest hour of the ${String(BASELINE_DAYS)} days before read ${String(r.usual)}` : `it had read nothing in the ${String(BASELINE_DAYS)} days before`
    return {
      severity: 'high',
      principal: r.principal,
      account: r.account_id,
      title: `${r.principal} read ${String(r.reads)} objects or items (${r.events.join(', ')}) within the hour; ${usual}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { reads: r.reads, busiest_earlier_hour: r.usual, events: r.events, counted_from: r.summarised ? 'aggregated data events' : 'data events' },
      why: `${String(r.reads)} reads within the hour; ${usual}. A bulk read is at least ${String(config.minReads)} reads and ${String(config.overUsual)}× its busiest earlier hour, once it has ${String(config.learnDays)} days of history.`,
      dedupKey: `${r.account_id}|${r.principal}|${r.first_seen.slice(0, 13)}`,
    }
  },
})
