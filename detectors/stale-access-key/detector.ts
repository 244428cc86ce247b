import { z } from 'zod'
import { defineDetector, type Severity } from '../define.js'
import { isoTime } from '../time.js'

const Config = z.object({
  /** CIS AWS 1.14 / Security Hub IAM.3. */
  rotationDays: z.number().int().positive().default(90),
  /** Security Hub IAM.22. */
  unusedDays: z.number().int().positive().default(45),
  /** A key never used is worth a look once it is this old. */
  neverUsedGraceDays: z.number().int().nonnegative().default(7),
})

const Row = z.object({
  account_id: z.string(),
  user: z.string(),
  arn: z.string(),
  key: z.string(),
  slot: z.coerce.number(),
  created: z.string().nullable(),
  last_used: z.string().nullable(),
  last_source: z.string(),
  last_region: z.string(),
  last_service: z.string(),
  source: z.string(),
})

const DAY = 86_400_000
const ROOT_USER = '<root_account>'

export default defineDetector({
  id: 'stale-access-key',
  title: 'Active access key past its rotation or unused limits',
  severity: 'medium',
  schedule: '0 6 * * *',
  window: '1d',
  lookback: '400d',
  attack: ['T1078.004', 'T1098.001'],
  runbook: [
    'Ask the owner whether the key is still needed; a key nobody claims is deactivated first, deleted a week later.',
    'Rotate: create the new key, move every user of the old one, watch the old key unused in trailwatch, then delete it.',
    'A root access key: delete it now; root needs none.',
  ],
  config: Config,
  // Keys as the latest credential report before `now` lists them, matched to CloudTrail's key ids
  // (CreateAccessKey at the report's rotation time), plus keys CloudTrail saw created and not deleted.
  sql: `
    WITH
      latest AS (
        SELECT * FROM credential_reports FINAL
        WHERE (account_id, generated_at) IN (
          SELECT account_id, max(generated_at) FROM credential_reports WHERE generated_at <= {now:DateTime64(3)} GROUP BY account_id)
      ),
      report_keys AS (
        SELECT account_id, user, arn, slot,
               if(slot = 1, access_key_1_last_rotated, access_key_2_last_rotated) AS created,
               if(slot = 1, access_key_1_last_used_date, access_key_2_last_used_date) AS report_last_used,
               if(slot = 1, access_key_1_last_used_region, access_key_2_last_used_region) AS report_region,
               if(slot = 1, access_key_1_last_used_service, access_key_2_last_used_service) AS report_service
        FROM latest ARRAY JOIN [1, 2] AS slot
        WHERE if(slot = 1, access_key_1_active, access_key_2_active)
      ),
      trail_keys AS (
        SELECT access_key_id, any(account_id) AS key_account, any(user_name) AS key_user,
               minIf(event_time, action = 'CreateAccessKey') AS created_at, argMax(status, event_time) AS status
        FROM access_key_lifecycle FINAL
        WHERE event_time < {now:DateTime64(3)}
        GROUP BY access_key_id
      ),
      usage AS (
        SELECT access_key_id, max(last_used) AS used_at, argMaxMerge(last_source) AS used_from,
               argMaxMerge(last_region) AS used_region, argMaxMerge(last_service) AS used_service
        FROM baseline_access_keys GROUP BY access_key_id
      ),
      matched AS (
        SELECT r.account_id AS account_id, r.user AS user, r.arn AS arn, r.slot AS slot, any(r.created) AS created,
               any(r.report_last_used) AS report_last_used, any(r.report_region) AS report_region, any(r.report_service) AS report_service,
               anyIf(t.access_key_id, t.access_key_id != '' AND abs(dateDiff('second', t.created_at, r.created)) <= 120) AS key
        FROM report_keys AS r
        LEFT JOIN trail_keys AS t ON r.account_id = t.key_account AND r.user = t.key_user
        GROUP BY r.account_id, r.user, r.arn, r.slot
      )
    SELECT * FROM (
    SELECT m.account_id AS account_id, m.user AS user, m.arn AS arn, m.key AS key, m.slot AS slot,
           toString(m.created) AS created,
           toString(greatest(coalesce(m.report_last_used, toDateTime('1970-01-01 00:00:00', 'UTC')), toDateTime(coalesce(u.used_at, toDateTime64(0, 3, 'UTC'))))) AS last_used,
           coalesce(u.used_from, '') AS last_source,
           if(u.used_at IS NOT NULL AND u.used_at > m.report_last_used, u.used_region, m.report_region) AS last_region,
           if(u.used_at IS NOT NULL AND u.used_at > m.report_last_used, u.used_service, m.report_service) AS last_service,
           'credential report' AS source
    FROM matched AS m LEFT JOIN usage AS u ON u.access_key_id = m.key AND m.key != ''
    UNION ALL
    SELECT t.key_account, t.key_user, '', t.access_key_id, 0, toString(t.created_at), toString(u.used_at),
           coalesce(u.used_from, ''), coalesce(u.used_region, ''), coalesce(u.used_service, ''), 'CloudTrail'
    FROM trail_keys AS t LEFT JOIN usage AS u ON u.access_key_id = t.access_key_id
    WHERE t.status = 'Active' AND t.access_key_id NOT IN (SELECT key FROM matched)
    )
    ORDER BY account_id, user, slot, key`,
  row: Row,
  toFinding: (r, config, { now }) => {
    const createdMs = r.created ? Date.parse(isoTime(r.created)) : undefined
    const lastUsedMs = r.last_used && !r.last_used.startsWith('1970') ? Date.parse(isoTime(r.last_used)) : undefined
    const ageDays = createdMs === undefined ? undefined : Math.floor((now.getTime() - createdMs) / DAY)
    const idleDays = lastUsedMs === undefined ? undefined : Math.floor((now.getTime() - lastUsedMs) / DAY)
    const root = r.user === ROOT_USER || r.arn.endsWith(':root')
    const problems: string[] = []
    let severity: Severity = 'info'
    if (root) {
      problems.push('a root access key exists')
      severity = 'critical'
    }
    if (ageDays !== undefined && ageDays > config.rotationDays) {
      problems.push(`${ageDays} days old (rotation limit ${config.rotationDays})`)
      if (severity !== 'critical') severity = 'medium'
    }
    if (idleDays !== undefined && idleDays >= config.unusedDays) {
      problems.push(`unused for ${idleDays} days (limit ${config.unusedDays})`)
      if (severity !== 'critical') severity = 'medium'
    }
    if (idleDays === undefined && ageDays !== undefined && ageDays >= config.neverUsedGraceDays) {
      problems.push(`never used in its ${ageDays} days`)
      if (severity === 'info') severity = 'low'
    }
    if (problems.length === 0) return null
    const keyName = r.key || `key ${r.slot}`
    const principal = r.arn || `arn:aws:iam::${r.account_id}:user/${r.user}`
    return {
      severity,
      principal,
      account: r.account_id,
      title: `Access key ${keyName} of ${root ? 'the root user' : r.user}: ${problems.join('; ')}`,
      firstSeen: createdMs === undefined ? now.toISOString() : new Date(createdMs).toISOString(),
      lastSeen: now.toISOString(),
      evidence: {
        user: r.user,
        access_key_id: r.key || null,
        slot: r.slot || null,
        created: createdMs === undefined ? null : new Date(createdMs).toISOString(),
        age_days: ageDays ?? null,
        last_used: lastUsedMs === undefined ? null : new Date(lastUsedMs).toISOString(),
        days_unused: idleDays ?? null,
        last_address: r.last_source || null,
        last_region: r.last_region || null,
        last_service: r.last_service || null,
        known_from: r.source,
      },
      dedupKey: `${r.account_id}|${r.user}|${keyName}`,
    }
  },
})
