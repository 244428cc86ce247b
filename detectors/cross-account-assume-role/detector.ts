import { z } from 'zod'
import { baselineFrom, earliestBaselineFrom, fewest, inWindows, keys, windowFrom, windowQueries } from '../windows.js'
import { defineDetector } from '../define.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  account_id: z.string(),
  caller_account: z.string(),
  callers: z.array(z.string()),
  roles: z.array(z.string()),
  calls: z.coerce.number(),
  sources: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
})

export default defineDetector({
  id: 'cross-account-assume-role',
  title: 'An account that never did so before assumed a role here',
  severity: 'high',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'event',
  touches: { sql: "event_source = 'sts.amazonaws.com' AND event_name = 'AssumeRole'", params: {} },
  lookback: '30d',
  attack: ['T1199', 'T1550.001'],
  runbook: [
    'Whose account is it? A new vendor or a new account of your own organisation: add it to knownAccounts.',
    'If nobody knows it: remove it from the role’s trust policy and look at what the sessions did.',
  ],
  config: z.object({ knownAccounts: z.array(z.string().regex(/^\d{12}$/, 'expected a 12-digit account id')).default([]) }),
  params: (config) => ({ known: config.knownAccounts }),
  ...windowQueries(
    (replay) => `
    WITH
      assumed AS (
        SELECT event_id, account_id, toString(principal_account_id) AS caller_account, principal_arn, event_time,
               JSONExtractString(raw, 'requestParameters', 'roleArn') AS role, coalesce(source_ip, source_host) AS source
        FROM events
        WHERE event_time >= ${earliestBaselineFrom(replay)} AND event_time < {now:DateTime64(3)}
          AND event_source = 'sts.amazonaws.com' AND event_name = 'AssumeRole' AND error_code = ''
          AND principal_account_id != '' AND principal_account_id != account_id AND caller_account NOT IN {known:Array(String)}
      ),
      seen AS (
        SELECT ${keys(replay, 'account_id, caller_account')}, ${fewest('groupUniqArray(principal_arn)')} AS callers, ${fewest('groupUniqArray(role)')} AS roles,
               uniqExact(event_id) AS calls, ${fewest('groupUniqArray(source)')} AS sources, toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen
        FROM (${inWindows('assumed', replay)})
        GROUP BY ${keys(replay, 'account_id, caller_account')}
      ),
      history AS (
        SELECT account_id, caller_account, groupArray(event_time) AS times
        FROM assumed
        WHERE (account_id, caller_account) IN (SELECT account_id, caller_account FROM seen)
        GROUP BY account_id, caller_account
      )
    -- New: the caller's account had assumed no role here in the baseline before the window.
    SELECT s.* FROM seen AS s
    LEFT JOIN history AS h ON s.account_id = h.account_id AND s.caller_account = h.caller_account
    WHERE NOT arrayExists(t -> t >= ${baselineFrom(replay)} AND t < ${windowFrom(replay)}, h.times)
    ORDER BY ${keys(replay, 'account_id, caller_account')}`,
  ),
  row: Row,
  toFinding: (r, config) => ({
    severity: 'high',
    principal: r.caller_account,
    account: r.account_id,
    title: `Account ${r.caller_account}, never seen doing so before, assumed ${r.roles.join(', ')} in ${r.account_id}`,
    firstSeen: isoTime(r.first_seen),
    lastSeen: isoTime(r.last_seen),
    evidence: { caller_account: r.caller_account, callers: r.callers, roles: r.roles, calls: r.calls, sources: r.sources },
    why: `Account ${r.caller_account} had not assumed a role in ${r.account_id} in the previous 30 days and is not among the ${String(config.knownAccounts.length)} accounts configured as known.`,
    dedupKey: `${r.account_id}|${r.caller_account}`,
  }),
})
