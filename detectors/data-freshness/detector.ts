import { z } from 'zod'
import { clickHouseTime, isoTime } from '../../src/time.js'
import { defineDetector } from '../define.js'

const Row = z.object({
  account_id: z.string(),
  region: z.string(),
  last_event: z.string(),
  active_hours: z.coerce.number(),
  hours: z.coerce.number(),
  events: z.coerce.number(),
})

function span(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  return minutes >= 120 ? `${String(Math.floor(minutes / 60))} h ${String(minutes % 60)} min` : `${String(minutes)} min`
}

export default defineDetector({
  id: 'data-freshness',
  title: 'An account or region that usually sends events went quiet',
  severity: 'medium',
  schedule: '*/15 * * * *',
  window: '1h',
  lookback: '7d',
  attack: ['T1562.008'],
  runbook: [
    'Run trailwatch status: is ingest running, is Kafka lag growing, are files arriving in the inbox?',
    'In the account: aws cloudtrail get-trail-status --name TRAIL shows IsLogging and the latest delivery error.',
    'Nothing broken on our side and the trail is logging: the account may simply be unused now; suppress this alert for it.',
  ],
  config: z.object({
    /** Silence this long from a region that is usually busy is worth a look. */
    quietMinutes: z.number().int().positive().default(120),
    /** Judged only when the region had events in at least this share of the lookback's hours. */
    minActiveShare: z.number().min(0).max(1).default(0.5),
  }),
  params: (config, { now }) => ({ quietSince: clickHouseTime(now.getTime() - config.quietMinutes * 60_000), minShare: config.minActiveShare }),
  // No alerts must never silently mean no data: a source that stops is itself a finding.
  sql: `
    SELECT account_id, toString(aws_region) AS region, toString(max(event_time)) AS last_event,
           uniqExact(toStartOfHour(event_time)) AS active_hours,
           greatest(1, dateDiff('hour', {baselineFrom:DateTime64(3)}, {now:DateTime64(3)})) AS hours,
           uniqExact(event_id) AS events
    FROM events
    WHERE event_time >= {baselineFrom:DateTime64(3)} AND event_time < {now:DateTime64(3)} AND account_id != ''
    GROUP BY account_id, region
    HAVING max(event_time) < {quietSince:DateTime64(3)} AND uniqExact(toStartOfHour(event_time)) >= {minShare:Float64} * hours
    ORDER BY account_id, region`,
  row: Row,
  toFinding: (r, config, { now }) => {
    const last = isoTime(r.last_event)
    const quiet = span(now.getTime() - Date.parse(last))
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
