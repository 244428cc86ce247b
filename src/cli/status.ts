import { Command } from 'commander'
import { z } from 'zod'
import { alertsOfDetectorSince, unroutedCount } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { textLine } from '../text.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime } from '../time.js'
import { withCommonOptions, withContext, type CommonOptions } from './context.js'

const iso = z.coerce.number().transform((ms) => (ms > 0 ? new Date(ms).toISOString() : null))

const Source = z.object({ account: z.string(), region: z.string(), last_event: iso, last_ingested: iso, events_24h: z.coerce.number() })
const Watermark = z.object({ detector: z.string(), window_end: iso, ran_at: iso })
const Count = z.object({ name: z.string(), n: z.coerce.number() })


type When = string | null

/** What a person asks first: is data arriving, are detectors running, is mail going out. */
export interface Status {
  at: string
  sources: { account: string; region: string; last_event: When; last_ingested: When; events_24h: number }[]
  watermarks: { detector: string; window_end: When; ran_at: When }[]
  alerts: { unrouted: number; notifications: Record<string, number> }
  /** Open data-freshness alerts of the past week: sources that went quiet. */
  quiet: { account: string; title: string; last_seen: When }[]
  /** Each account's latest IAM snapshot, and whether it is older than two days. */
  iam: { account: string; taken_at: string; stale: boolean }[]
  /** Rule files that could not be loaded, each with where and why: their rules do not run. */
  skippedRules: string[]
}

/** What the layers above add: the rule files that do not run, and each account's IAM snapshot age. */
export interface StatusExtras {
  skippedRules: string[]
  iam: Status['iam']
}

export async function collectStatus(store: Store, now: Date, { skippedRules, iam }: StatusExtras = { skippedRules: [], iam: [] }): Promise<Status> {
  const rows = <T extends z.ZodType>(query: string, schema: T): Promise<z.output<T>[]> => selectRows(store, query, { now: clickHouseTime(now.getTime()) }, schema)
  const [sources, watermarks, unrouted, notifications, quiet] = await Promise.all([
    rows(
      `SELECT account_id AS account, toString(aws_region) AS region, toUnixTimestamp64Milli(max(event_time)) AS last_event,
              toUnixTimestamp64Milli(max(ingested_at)) AS last_ingested,
              uniqExactIf(event_id, event_time >= {now:DateTime64(3)} - INTERVAL 1 DAY) AS events_24h
       FROM events GROUP BY account, region ORDER BY account, region`,
      Source,
    ),
    rows(
      `SELECT detector, toUnixTimestamp64Milli(window_end) AS window_end, toUnixTimestamp64Milli(ran_at) AS ran_at
       FROM detector_watermarks FINAL ORDER BY detector`,
      Watermark,
    ),
    unroutedCount(store),
    rows(`SELECT toString(status) AS name, count() AS n FROM notifications FINAL GROUP BY name`, Count),
    alertsOfDetectorSince(store, 'data-freshness', new Date(now.getTime() - 7 * 86_400_000)),
  ])
  return {
    at: now.toISOString(),
    sources,
    watermarks,
    alerts: { unrouted, notifications: Object.fromEntries(notifications.map((c) => [c.name, c.n])) },
    quiet: quiet.map(({ account, title, last_seen }) => ({ account, title, last_seen })),
    iam,
    skippedRules,
  }
}

function ago(iso: string | null, now: number): string {
  if (!iso) return 'never'
  const minutes = Math.round((now - Date.parse(iso)) / 60_000)
  if (minutes < 120) return `${String(minutes)} min ago`
  if (minutes < 48 * 60) return `${String(Math.round(minutes / 60))} h ago`
  return `${String(Math.round(minutes / 1440))} d ago`
}

/** The status for a terminal; account, region and titles come from events, so no control character gets through. */
export function statusText(status: Status): string {
  const now = Date.parse(status.at)
  const pad = (rows: string[][]): string[] => {
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
    return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd())
  }
  const n = status.alerts.notifications
  return [
    `trailwatch status at ${status.at}`,
    '',
    'DATA: last event per account and region',
    ...(status.sources.length
      ? pad([['ACCOUNT', 'REGION', 'LAST EVENT', 'INGESTED', 'EVENTS 24H'], ...status.sources.map((s) => [s.account, s.region, `${s.last_event ?? '-'} (${ago(s.last_event, now)})`, ago(s.last_ingested, now), String(s.events_24h)])])
      : ['  no events stored yet']),
    '',
    'QUIET SOURCES (data-freshness alerts, past 7 days)',
    ...(status.quiet.length ? status.quiet.map((q) => `  ${q.title}`) : ['  none']),
    '',
    'IAM STATE: latest snapshot per account',
    ...(status.iam.length
      ? pad(status.iam.map((s) => [s.account, `${s.taken_at} (${ago(s.taken_at, now)})`, s.stale ? 'STALE: older than 2 days; trailwatch aws sync' : '']))
      : ['  no snapshot yet: trailwatch aws sync, or trailwatch import iam']),
    '',
    ...(status.skippedRules.length ? ['RULES THAT DO NOT RUN (trailwatch rules check)', ...status.skippedRules.map((line) => `  ${line}`), ''] : []),
    'DETECTORS: where each scheduled run got to',
    ...(status.watermarks.length ? pad(status.watermarks.map((w) => [w.detector, `${w.window_end ?? '-'} (${ago(w.window_end, now)})`])) : ['  no scheduled run yet']),
    '',
    'ALERTS',
    `  ${String(status.alerts.unrouted)} not yet routed; messages: ${['pending', 'sending', 'retrying', 'sent', 'failed'].map((s) => `${String(n[s] ?? 0)} ${s}`).join(', ')}`,
    '',
  ]
    .map(textLine)
    .join('\n')
}

/** `extras` names the rule files that cannot run and each account's IAM snapshot age (both live above this floor). */
export function statusCommand(extras: (store: Store, rulesDir: string | undefined, now: Date) => Promise<StatusExtras>): Command {
  return withCommonOptions(new Command('status'))
    .description('for a person: last event per account and region, quiet sources, detector progress, pending alerts')
    .option('--json', 'one JSON object')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const status = await withContext(options, async ({ store, config }) => {
        const now = new Date()
        return collectStatus(store, now, await extras(store, config.rulesDir, now))
      })
      process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : statusText(status))
    })
}
