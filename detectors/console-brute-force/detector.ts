import { z } from 'zod'
import { fewest, keys, windowed, windowQueries } from '../windows.js'
import { defineDetector, raise, type Severity } from '../define.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  kind: z.enum(['user', 'source']),
  account_id: z.string(),
  principal_arn: z.string(),
  subject: z.string(),
  failures: z.coerce.number(),
  users: z.array(z.string()),
  user_count: z.coerce.number(),
  sources: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  succeeded_after: z.coerce.number(),
})

export default defineDetector({
  id: 'console-brute-force',
  title: 'Many failed console sign-ins: guessing or password spraying',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'window',
  lookback: '1d',
  attack: ['T1110.001', 'T1110.003'],
  runbook: [
    'Block the source address if it is not yours; check the targeted users have MFA.',
    'A success after the failures: the password is known. Reset it, revoke sessions, review what followed.',
  ],
  config: z.object({
    failuresPerUser: z.number().int().positive().default(5),
    failuresPerSource: z.number().int().positive().default(5),
    /** One address failing for this many different users is spraying. */
    sprayUsers: z.number().int().positive().default(3),
  }),
  params: (config) => ({ perUser: config.failuresPerUser, perSource: config.failuresPerSource, sprayUsers: config.sprayUsers }),
  ...windowQueries(
    (replay) => `
    WITH
      sign_ins AS (
        ${windowed(
          {
            columns: `event_id, account_id, principal_arn, user_name, coalesce(source_ip, source_host) AS source, event_time,
                      JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure' OR error_message != '' AS failed`,
            pre: "event_source = 'signin.amazonaws.com' AND event_name = 'ConsoleLogin'",
            sql: '1',
          },
          replay,
        )}
        -- A sign-in delivered twice is one attempt.
        LIMIT 1 BY ${keys(replay, 'event_id')}
      )
    -- "Then a success": after the first failure, and from an address that failed (the user's own
    -- sign-in from home before or after the guessing is not the guesser getting in).
    SELECT ${keys(replay, 'kind')}, account_id, principal_arn, subject, failures, users, user_count, sources, first_seen, last_seen, succeeded_after FROM (
      SELECT ${keys(replay, "'user' AS kind")}, account_id, argMinIf(principal_arn, (event_time, event_id), failed) AS principal_arn, user_name AS subject, countIf(failed) AS failures,
             [user_name] AS users, 1 AS user_count, ${fewest('groupUniqArrayIf(source, failed)')} AS sources,
             minIf(event_time, failed) AS first_failure, toString(first_failure) AS first_seen, toString(maxIf(event_time, failed)) AS last_seen,
             arrayExists(s -> s.1 > first_failure AND has(groupUniqArrayIf(source, failed), s.2), groupArrayIf((event_time, source), NOT failed)) AS succeeded_after
      FROM sign_ins GROUP BY ${keys(replay, 'account_id, user_name')} HAVING failures >= {perUser:UInt32}
      UNION ALL
      SELECT ${keys(replay, "'source'")}, account_id, '', source, countIf(failed), ${fewest('groupUniqArrayIf(user_name, failed)', 10)}, uniqExactIf(user_name, failed), [source],
             minIf(event_time, failed) AS first_failure, toString(first_failure), toString(maxIf(event_time, failed)),
             arrayExists(t -> t > first_failure, groupArrayIf(event_time, NOT failed))
      FROM sign_ins GROUP BY ${keys(replay, 'account_id, source')} HAVING countIf(failed) >= {perSource:UInt32} AND uniqExactIf(user_name, failed) >= {sprayUsers:UInt32}
    )
    ORDER BY ${keys(replay, 'account_id, kind, subject')}`,
  ),
  row: Row,
  toFinding: (r, config) => {
    let severity: Severity = r.kind === 'source' ? 'high' : 'medium'
    if (r.succeeded_after) severity = raise(severity)
    const what =
      r.kind === 'source'
        ? `${r.subject} failed to sign in as ${String(r.user_count)} different users ${String(r.failures)} times (password spraying)`
        : `${String(r.failures)} failed console sign-ins for ${r.subject} from ${r.sources.join(', ')}`
    const why =
      r.kind === 'source'
        ? `One address failed for ${String(r.user_count)} users; ${String(config.sprayUsers)} users from one address is spraying.`
        : `${String(r.failures)} failed sign-ins for one user within an hour; the limit is ${String(config.failuresPerUser)}.`
    return {
      severity,
      principal: r.kind === 'user' && r.principal_arn ? r.principal_arn : r.account_id,
      account: r.account_id,
      title: `${what}${r.succeeded_after ? ', then a successful sign-in' : ''}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { kind: r.kind, failures: r.failures, users: r.users, sources: r.sources, succeeded_after: Boolean(r.succeeded_after) },
      why: `${why}${r.succeeded_after ? ' A sign-in succeeded afterwards: the password may be known.' : ''}`,
      dedupKey: `${r.account_id}|${r.kind}|${r.subject}|${r.first_seen.slice(0, 13)}`,
    }
  },
})
