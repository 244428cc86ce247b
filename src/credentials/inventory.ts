import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoTime } from '../time.js'

/**
 * Every access key as of {now}: those the latest credential report before `now` lists, matched to
 * CloudTrail's key ids (CreateAccessKey at the report's rotation time), plus keys CloudTrail saw
 * created and not deleted. Last use is the later of the report's and what CloudTrail saw up to the day of `now`.
 * The stale-access-key detector and the credential-age report read the same rows.
 */
export const ACCESS_KEY_INVENTORY = `
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
               if(slot = 1, access_key_1_last_used_service, access_key_2_last_used_service) AS report_service,
               if(slot = 1, access_key_1_active, access_key_2_active) AS active
        FROM latest ARRAY JOIN [1, 2] AS slot
        -- A slot that never held a key has no rotation time; a deleted key leaves none either.
        WHERE active OR created IS NOT NULL
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
        FROM baseline_access_key_days
        -- Days up to now's: use later that day still counts, use on later days does not.
        WHERE day <= toDate({now:DateTime64(3)})
        GROUP BY access_key_id
      ),
      matched AS (
        SELECT r.account_id AS account_id, r.user AS user, r.arn AS arn, r.slot AS slot, any(r.created) AS created,
               any(r.report_last_used) AS report_last_used, any(r.report_region) AS report_region, any(r.report_service) AS report_service, any(r.active) AS active,
               anyIf(t.access_key_id, t.access_key_id != '' AND abs(dateDiff('second', t.created_at, r.created)) <= 120) AS key
        FROM report_keys AS r
        LEFT JOIN trail_keys AS t ON r.account_id = t.key_account AND r.user = t.key_user
        GROUP BY r.account_id, r.user, r.arn, r.slot
      )
    SELECT * FROM (
    SELECT m.account_id AS account_id, m.user AS user, m.arn AS arn, m.key AS key, m.slot AS slot, m.active AS active,
           toString(m.created) AS created,
           toString(greatest(coalesce(m.report_last_used, toDateTime('1970-01-01 00:00:00', 'UTC')), toDateTime(coalesce(u.used_at, toDateTime64(0, 3, 'UTC'))))) AS last_used,
           coalesce(u.used_from, '') AS last_source,
           if(u.used_at IS NOT NULL AND u.used_at > m.report_last_used, u.used_region, m.report_region) AS last_region,
           if(u.used_at IS NOT NULL AND u.used_at > m.report_last_used, u.used_service, m.report_service) AS last_service,
           'credential report' AS source
    FROM matched AS m LEFT JOIN usage AS u ON u.access_key_id = m.key AND m.key != ''
    UNION ALL
    SELECT t.key_account, t.key_user, '', t.access_key_id, 0, t.status = 'Active', toString(t.created_at), toString(u.used_at),
           coalesce(u.used_from, ''), coalesce(u.used_region, ''), coalesce(u.used_service, ''), 'CloudTrail'
    FROM trail_keys AS t LEFT JOIN usage AS u ON u.access_key_id = t.access_key_id
    WHERE t.status IN ('Active', 'Inactive') AND t.access_key_id NOT IN (SELECT key FROM matched)
    )
    ORDER BY account_id, user, slot, key`

/** One row of ACCESS_KEY_INVENTORY. */
export const InventoryRow = z.object({
  account_id: z.string(),
  user: z.string(),
  arn: z.string(),
  /** '' when the credential report's key could not be matched to a key id in CloudTrail. */
  key: z.string(),
  /** The credential report's slot (1 or 2); 0 for a key known only from CloudTrail. */
  slot: z.coerce.number(),
  active: z.coerce.boolean(),
  created: z.string().nullable(),
  last_used: z.string().nullable(),
  last_source: z.string(),
  last_region: z.string(),
  last_service: z.string(),
  source: z.string(),
})
export type InventoryKey = z.output<typeof InventoryRow>

/**
 * A warning per account whose credential reports all came after `at`: the inventory as of `at`
 * cannot use them. A report imported without --generated-at is dated at its import, and a look at
 * the past must say why it judges that account's keys from CloudTrail alone.
 */
export async function laterReportWarnings(store: Store, at: Date): Promise<string[]> {
  const rows = await selectRows(
    store,
    `SELECT account_id, toString(min(generated_at)) AS first_report FROM credential_reports
     GROUP BY account_id HAVING min(generated_at) > {at:DateTime64(3)} ORDER BY account_id`,
    { at: clickHouseTime(at.getTime()) },
    z.object({ account_id: z.string(), first_report: z.string() }),
  )
  return rows.map(
    (row) =>
      `warning: account ${row.account_id} has no credential report from before ${at.toISOString()} (its first is of ${isoTime(row.first_report)}); its keys are judged from CloudTrail alone. Import a report with --generated-at set to when AWS generated it.`,
  )
}
