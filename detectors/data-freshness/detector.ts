import { z } from 'zod'
import { clickHouseTime, isoTime } from '../../src/time.js'
import { defineDetector } from '../define.js'

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
    /** Silence this long from a region that is usually busy is worth a look. */
    quietMinutes: z.number().int().positive().default(120),
    /** Judged only when the region had events in at least this share of the lookback's hours. */
    minActiveShare: z.number().min(0).max(1).default(0.5),
    /** An account's newest IAM snapshot older than this judges its posture on old facts. */
    staleSnapshotDays: z.number().positive().default(2),
  }),
  params: (config, { now }) => ({
    quietSince: clickHouseTime(now.getTime() - config.quietMinutes * 60_000),
    minShare: config.minActiveShare,
    snapshotsSince: clickHouseTime(now.getTime() - config.staleSnapshotDays * 86_400_000),
  }),
  // No alerts must never silently mean no data: a source that stops is itself a finding.
  sql: `
    SELECT * FROM (
      SELECT 'events' AS source, account_id, toString(aws_region) AS region, toString(max(event_time)) AS last_event,
             uniqExact(toStartOfHour(event_time)) AS active_hours,
             greatest(1, dateDiff('hour', {baselineFrom:DateTime64(3)}, {now:DateTime64(3)})) AS hours,
             uniqExact(event_id) AS events
      FROM events
      WHERE event_time >= {baselineFrom:DateTime64(3)} AND event_time < {now:DateTime64(3)} AND account_id != ''
      GROUP BY account_id, region
      HAVING max(event_time) < {quietSince:DateTime64(3)} AND uniqExact(toStartOfHour(event_time)) >= {minShare:Float64} * hours
      UNION ALL
      SELECT 'iam' AS source, toString(account_id) AS account_id, '' AS region, toString(max(taken_at)) AS last_event, 0 AS active_hours, 0 AS hours, count() AS events
      FROM iam_snapshots
      WHERE taken_at < {now:DateTime64(3)}
      GROUP BY account_id
      HAVING max(taken_at) < {snapshotsSince:DateTime64(3)})
    ORDER BY source, account_id, region`,
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
