import { z } from 'zod'
import { defineDetector, type Severity } from '../define.js'
import { fewest, keys, windowed, windowQueries } from '../windows.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  kind: z.string(),
  day: z.string(),
  /** For sign-ins: the address and whether MFA was used; each is an alert of its own. */
  sign_in: z.string(),
  first_seen: z.string(),
  last_seen: z.string(),
  calls: z.coerce.number(),
  events: z.array(z.string()),
  sources: z.array(z.string()),
  mfa: z.coerce.number(),
})

const KINDS: Record<string, { severity: Severity; what: string }> = {
  'access-key': { severity: 'critical', what: 'created an access key for the root user' },
  'sign-in': { severity: 'high', what: 'signed in to the console as root' },
  api: { severity: 'high', what: 'made API calls as root' },
  'failed-api': { severity: 'medium', what: 'tried API calls as root and was refused' },
  'failed-sign-in': { severity: 'low', what: 'failed to sign in as root' },
}

/** Root acting, not AWS acting for the account. */
const ROOT_ACTING = "principal_type = 'Root' AND actor_kind != 'aws-service'"

/** Each call by root, and which kind of use it is. */
const ROOT_CALL = `account_id, principal_arn, event_id, event_time, event_name, mfa_authenticated, coalesce(source_ip, source_host) AS origin,
  multiIf(event_name = 'CreateAccessKey' AND JSONExtractString(raw, 'requestParameters', 'userName') = '' AND error_code = '', 'access-key',
          -- Every step of signing in (ConsoleLogin, the newer CredentialVerification and the like) fails as a sign-in, never as an API call.
          event_source = 'signin.amazonaws.com' AND (error_message != '' OR error_code != '' OR position(raw, '"Failure"') > 0), 'failed-sign-in',
          event_name = 'ConsoleLogin', 'sign-in',
          event_source = 'signin.amazonaws.com', 'sign-in-step',
          error_code != '', 'failed-api', 'api') AS kind,
  if(kind = 'sign-in', concat(origin, if(mfa_authenticated, ' with MFA', ' without MFA')), '') AS sign_in`

export default defineDetector({
  id: 'root-account-usage',
  title: 'The root user was used',
  severity: 'high',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'window',
  touches: { sql: ROOT_ACTING, params: {} },
  lookback: '1d',
  attack: ['T1078.004'],
  runbook: [
    'Root is for the handful of tasks only root can do: was one of them planned, by whom?',
    'A root access key: delete it. Then check the root password and MFA device are as you left them.',
    'Repeated failed root sign-ins: someone is guessing; confirm root has MFA.',
  ],
  config: z.object({
    /** Failed root sign-ins from this many attempts on count as repeated. */
    repeatedFailures: z.number().int().positive().default(3),
  }),
  ...windowQueries(
    (replay) => `
    SELECT ${keys(replay, 'account_id')}, argMin(principal_arn, (event_time, event_id)) AS principal_arn, kind, toString(toDate(event_time)) AS day, sign_in,
           toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen, uniqExact(event_id) AS calls,
           ${fewest('groupUniqArray(toString(event_name))', 10)} AS events, ${fewest('groupUniqArray(origin)')} AS sources, max(mfa_authenticated) AS mfa
    FROM (${windowed({ columns: ROOT_CALL, sql: ROOT_ACTING }, replay)})
    -- A step of a sign-in that went through is its ConsoleLogin's.
    WHERE kind != 'sign-in-step'
    GROUP BY ${keys(replay, 'account_id, kind, day, sign_in')}
    ORDER BY ${keys(replay, 'account_id, first_seen, kind, sign_in')}`,
  ),
  row: Row,
  toFinding: (r, config) => {
    const kind = KINDS[r.kind] ?? { severity: 'high' as Severity, what: 'acted as root' }
    // Root's password alone let someone in: nothing stood between the account and whoever holds it.
    const withoutMfa = r.kind === 'sign-in' && !r.mfa
    const severity: Severity = withoutMfa ? 'critical' : r.kind === 'failed-sign-in' && r.calls >= config.repeatedFailures ? 'medium' : kind.severity
    return {
      severity,
      principal: r.principal_arn || `arn:aws:iam::${r.account_id}:root`,
      account: r.account_id,
      title: `Account ${r.account_id}: someone ${kind.what}${r.calls > 1 ? ` (${String(r.calls)} times)` : ''}${withoutMfa ? ', without MFA' : ''}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { kind: r.kind, calls: r.calls, events: r.events, sources: r.sources, mfa: Boolean(r.mfa) },
      why: `The root user bypasses every IAM policy and should sit unused behind MFA; ${String(r.calls)} ${r.kind === 'failed-sign-in' ? 'failed sign-ins' : 'calls'} on ${r.day}${r.kind === 'failed-sign-in' ? ` (${String(config.repeatedFailures)} or more counts as repeated)` : ''}.`,
      // A second sign-in that day from another address, or without MFA, is news of its own.
      dedupKey: `${r.account_id}|root|${r.kind}|${r.day}${r.sign_in ? `|${r.sign_in}` : ''}`,
    }
  },
})
