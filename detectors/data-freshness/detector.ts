import { z } from 'zod'
import { isoTime } from '../../src/time.js'
import { defineDetector } from '../define.js'
import { earliestBaselineFrom, keys, windowQueries } from '../windows.js'

const Row = z.object({
  /** `events` for a region gone quiet, `iam` for an account whose IAM snapshot is old. */
  source: z.enum(['events', 'iam']),
  account_id: z.string(),
  region: z.string(),
  last_event: z.string(),
  active_hours: z.coerce.number(),
  hours: z.coerce.number(),
  events: z.coerce.number(),
})

function span(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  if (minutes >= 48 * 60) return `${String(Math.floor(minutes / 1440))} days`
  return minutes >= 120 ? `${String(Math.floor(minutes / 60))} h ${String(minutes % 60)} min` : `${String(minutes)} min`
}

export default defineDetector({
  id: 'data-freshness',
  title: 'An account or region that usually sends events went quiet, or an account’s IAM state is old',
  severity: 'medium',
  schedule: '*/15 * * * *',
  window: '1h',
  lookback: '7d',
  attack: ['T1562.008'],
  runbook: [
    'Run trailwatch status: is ingest running, is Kafka lag growing, are files arriving in the inbox, when did each account’s IAM snapshot arrive?',
    'In the account: aws cloudtrail get-trail-status --name TRAIL shows IsLogging and the latest delivery error.',
    'An old IAM snapshot: run trailwatch aws sync and read what it says of the account (a role it cannot assume, a permission it lacks).',
    'Nothing broken on our side and the trail is logging: the account may simply be unused now; suppress this alert for it.',
  ],
  config: z.object({
    /** Silence this long from a region that is usually busy is worth a look; less than an hour is how CloudTrail delivers. */
    quietMinutes: z.number().int().min(60).default(120),
    /** Judged only when the region had events in at least this share of the lookback's hours. */
    minActiveShare: z.number().min(0).max(1).default(0.5),
    /** An account's newest IAM snapshot older than this judges its posture on old facts. */
    staleSnapshotDays: z.number().positive().default(2),
  }),
  params: (config) => ({ quietMs: config.quietMinutes * 60_000, minShare: config.minActiveShare, staleSnapshotMs: Math.round(config.staleSnapshotDays * 86_400_000) }),
  // No alerts must never silently mean no data: a source that stops is itself a finding. Judged by
  // each region's hours (when in each it was first and last active), so a replay reads the events once.
  ...windowQueries(
    (replay) => `
    WITH
      windows AS (
        SELECT ${replay ? 'run, {nows:Array(DateTime64(3))}[run] AS now, {baselineFroms:Array(DateTime64(3))}[run] AS baseline_from FROM (SELECT arrayJoin(range(1, {runs:UInt32} + 1)) AS run)' : '{now:DateTime64(3)} AS now, {baselineFrom:DateTime64(3)} AS baseline_from'}
      ),
      hours AS (
        SELECT account_id, toString(aws_region) AS region, toStartOfHour(event_time) AS hour, min(event_time) AS first, max(event_time) AS last, uniqExact(event_id) AS events
        FROM events
        WHERE event_time >= toStartOfHour(${earliestBaselineFrom(replay)}) AND event_time < toStartOfHour({now:DateTime64(3)}) + INTERVAL 1 HOUR AND account_id != ''
        GROUP BY account_id, region, hour
      ),
      -- Each window with each region: the last hour the region was active before the window's own last hour.
      latest AS (
        SELECT w.*, g.account_id AS account_id, g.region AS region, toStartOfHour(w.now) AS end_hour, h.hour AS last_hour, h.last AS last_event
        FROM windows AS w CROSS JOIN (SELECT DISTINCT account_id, region FROM hours) AS g
        ASOF LEFT JOIN hours AS h ON g.account_id = h.account_id AND g.region = h.region AND end_hour > h.hour
      ),
      -- Quiet: nothing since the quiet limit, nor in the window's own last hour before its end, and something in its baseline.
      quiet AS (
        SELECT l.* FROM latest AS l
        LEFT JOIN hours AS c ON l.account_id = c.account_id AND l.region = c.region AND c.hour = l.end_hour
        WHERE NOT (c.events > 0 AND c.first < l.now) AND l.last_event >= l.baseline_from
          AND toUnixTimestamp64Milli(l.last_event) < toUnixTimestamp64Milli(l.now) - {quietMs:Int64}
      )
    SELECT * FROM (
      SELECT ${keys(replay, "'events'")} AS source, q.account_id AS account_id, q.region AS region, toString(any(q.last_event)) AS last_event,
             count() AS active_hours, greatest(1, dateDiff('hour', any(q.baseline_from), any(q.now))) AS hours,
             -- In the whole hours of the baseline: the first may have begun before it.
             sum(h.events) AS events
      FROM quiet AS q
      INNER JOIN hours AS h ON q.account_id = h.account_id AND q.region = h.region
      WHERE h.hour >= toStartOfHour(q.baseline_from) AND h.hour <= q.last_hour AND h.last >= q.baseline_from
      GROUP BY ${keys(replay, 'q.account_id, q.region')}
      HAVING active_hours >= {minShare:Float64} * hours
      UNION ALL
      SELECT ${keys(replay, "'iam'")} AS source, account_id, '' AS region, toString(arrayMax(taken)) AS last_event, 0 AS active_hours, 0 AS hours, length(taken) AS events
      FROM (
        SELECT w.*, s.account_id AS account_id, arrayFilter(t -> t < w.now, s.times) AS taken
        FROM windows AS w
        CROSS JOIN (SELECT toString(account_id) AS account_id, groupArray(taken_at) AS times FROM iam_snapshots WHERE taken_at < {now:DateTime64(3)} GROUP BY account_id) AS s
      )
      WHERE notEmpty(taken) AND toUnixTimestamp64Milli(arrayMax(taken)) < toUnixTimestamp64Milli(now) - {staleSnapshotMs:Int64})
    ORDER BY ${keys(replay, 'source, account_id, region')}`,
  ),
  row: Row,
  toFinding: (r, config, { now }) => {
    const last = isoTime(r.last_event)
    const quiet = span(now.getTime() - Date.parse(last))
    if (r.source === 'iam') {
      return {
        severity: 'low',
        principal: r.account_id,
        account: r.account_id,
        title: `The IAM snapshot of account ${r.account_id} is ${quiet} old`,
        firstSeen: last,
        lastSeen: last,
        evidence: { source: 'iam snapshot', taken_at: last, old: quiet, snapshots: r.events },
        why: `The posture checks judge this account by a snapshot taken ${quiet} ago, and ${String(config.staleSnapshotDays)} days is the limit: aws sync has not reached it since (a role it cannot assume, a schedule turned off), or it is imported by hand and was not lately.`,
        // One alert per snapshot that went old: a new snapshot that goes old again is news.
        dedupKey: `${r.account_id}|iam|${last}`,
      }
    }
    return {
      severity: 'medium',
      principal: r.account_id,
      account: r.account_id,
      title: `No CloudTrail events from account ${r.account_id} in ${r.region} for ${quiet}`,
      firstSeen: last,
      lastSeen: last,
      evidence: { region: r.region, last_event: last, quiet_for: quiet, active_hours: r.active_hours, hours: r.hours, events: r.events },
      why: `Over the last ${String(Math.round(r.hours / 24))} days this region had events in ${String(r.active_hours)} of ${String(r.hours)} hours (${String(Math.round((100 * r.active_hours) / r.hours))}%); none for ${quiet}, and ${String(config.quietMinutes)} min is the limit. Either delivery stopped (the trail, the pipeline, trailwatch's ingest) or the account stopped being used.`,
      // One alert per quiet spell: the same silence found again is not news.
      dedupKey: `${r.account_id}|${r.region}|${last}`,
    }
  },
})
