import { z } from 'zod'
import { isoTime } from '../../src/time.js'
import { keys, windowed, windowQueries } from '../windows.js'
import { defineDetector, type Severity } from '../define.js'

const Row = z.object({
  finding_id: z.string(),
  account_id: z.string(),
  region: z.string(),
  partition: z.string(),
  type: z.string(),
  severity: z.coerce.number(),
  title: z.string(),
  access_key_id: z.string(),
  principal_id: z.string(),
  user_name: z.string(),
  user_type: z.string(),
  remote_ip: z.string(),
  api: z.string(),
  service_name: z.string(),
  first_seen: z.string(),
  last_seen: z.string(),
  count: z.coerce.number(),
})
type Row = z.output<typeof Row>

/** GuardDuty's bands: low below 4, medium below 7, high below 9, critical from 9. */
export function guardDutySeverity(score: number): Severity {
  if (score >= 9) return 'critical'
  if (score >= 7) return 'high'
  if (score >= 4) return 'medium'
  return 'low'
}

const NAME = /^[\w+=,.@/-]{1,256}$/

/** The identity a finding is about, as trailwatch names principals (a role session is its role); else the account. */
function principalOf(r: Row): string {
  const arn = `arn:${r.partition || 'aws'}`
  if (r.user_type === 'Root') return `${arn}:iam::${r.account_id}:root`
  if (!NAME.test(r.user_name)) return r.account_id
  if (r.user_type === 'IAMUser') return `${arn}:iam::${r.account_id}:user/${r.user_name}`
  if (r.user_type === 'AssumedRole') return `${arn}:iam::${r.account_id}:role/${r.user_name}`
  if (r.user_type === 'FederatedUser') return `${arn}:sts::${r.account_id}:federated-user/${r.user_name}`
  return r.account_id
}

export default defineDetector({
  id: 'guardduty-findings',
  title: 'GuardDuty found something',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  lookback: '1h',
  immediate: 'event',
  attack: ['T1078.004'],
  runbook: [
    'Open the finding in GuardDuty (its id is in the evidence): it shows the activity GuardDuty saw and its own advice.',
    'The incident this alert joined shows what the same key, session or person did in CloudTrail around it.',
    'A finding you expect (a pentest, a known scanner): archive it in GuardDuty, and suppress it here for that principal.',
  ],
  config: z.object({
    /** GuardDuty's own score below which a finding is not raised. */
    minSeverity: z.number().min(0).max(10).default(0),
  }),
  params: (config) => ({ minSeverity: config.minSeverity }),
  // Each update of a finding is a row: the latest in the window is the one raised. Archived findings were put aside by a person in GuardDuty.
  ...windowQueries(
    (replay) => `
    SELECT ${keys(replay, 'finding_id')}, account_id, toString(region) AS region, toString(partition) AS partition, toString(type) AS type, severity, title,
           access_key_id, principal_id, user_name, toString(user_type) AS user_type, remote_ip, api, toString(service_name) AS service_name,
           toString(first_seen) AS first_seen, toString(last_seen) AS last_seen, count
    FROM (${windowed({ columns: '*', table: 'guardduty_findings FINAL', time: 'updated_at', sql: 'NOT archived AND severity >= {minSeverity:Float64}' }, replay)})
    ORDER BY ${keys(replay, 'account_id, finding_id, updated_at DESC')}
    LIMIT 1 BY ${keys(replay, 'account_id, finding_id')}`,
  ),
  row: Row,
  toFinding: (r) => {
    const principal = principalOf(r)
    const key = r.access_key_id ? `, key ${r.access_key_id}` : ''
    return {
      severity: guardDutySeverity(r.severity),
      principal,
      account: r.account_id,
      title: `GuardDuty: ${r.title || r.type} (${principal === r.account_id ? `account ${r.account_id}` : principal}${key})`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: {
        finding_id: r.finding_id,
        type: r.type,
        guardduty_severity: r.severity,
        region: r.region,
        ...(r.access_key_id && { access_key_id: r.access_key_id }),
        ...(r.principal_id && { principal_id: r.principal_id }),
        ...(r.remote_ip && { remote_ip: r.remote_ip }),
        ...(r.api && { event: r.api, service: r.service_name }),
        count: r.count,
      },
      why: `GuardDuty rated this ${r.type} finding ${String(r.severity)} of 10 (${guardDutySeverity(r.severity)} here), after seeing it ${String(r.count)} time${r.count === 1 ? '' : 's'}.`,
      // A finding GuardDuty updates stays one alert; its new activity is a new occurrence.
      dedupKey: `${r.account_id}|${r.finding_id}`,
    }
  },
})
