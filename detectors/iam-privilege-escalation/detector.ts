import { z } from 'zod'
import { defineDetector, raise, type Severity } from '../define.js'
import { baselineFrom, earliestBaselineFrom, keys, windowed, windowQueries } from '../windows.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  event_id: z.string(),
  at: z.string(),
  event_name: z.string(),
  error_code: z.string(),
  target: z.string(),
  policy_arn: z.string(),
  source: z.string(),
  admin_policy: z.coerce.number(),
  /** The policy or trust document of a Put*Policy, UpdateAssumeRolePolicy or CreateRole, as written. */
  document: z.string(),
  other_user_credentials: z.coerce.number(),
  /** A console password set with passwordResetRequired: the user must choose a new one at once. */
  reset_required: z.coerce.number(),
  /** The days of the baseline before it on which the same person made credentials for other users. */
  credential_days: z.coerce.number(),
  outside_accounts: z.array(z.string()),
  created_in_window: z.coerce.number(),
})

/** Credentials made for others on this many days of a month are someone's job: a helpdesk, an IAM administrator. */
const USUAL_CREDENTIAL_DAYS = 3

/** The IAM calls that may give power, and what is read of each. */
const CHANGES = `('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy', 'PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy',
                  'CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile', 'UpdateAssumeRolePolicy', 'CreateRole')`
// Who acts: the user, or for an Identity Center session the person it was issued to (AWS names
// those sessions; any other session's name is whatever its caller chose, so the role it is counts).
const ACTOR = `if(startsWith(user_name, 'AWSReservedSSO_') AND session_name != '', splitByChar('@', session_name)[1], user_name)`
const CHANGE = `account_id, principal_arn, ${ACTOR} AS actor, event_id, event_time, toString(event_time) AS at, toString(event_name) AS event_name,
  toString(error_code) AS error_code,
  JSONExtractString(raw, 'requestParameters', 'userName') AS target_user,
  coalesce(nullIf(target_user, ''), nullIf(JSONExtractString(raw, 'requestParameters', 'roleName'), ''), JSONExtractString(raw, 'requestParameters', 'groupName')) AS target,
  JSONExtractString(raw, 'requestParameters', 'policyArn') AS policy_arn,
  JSONExtractBool(raw, 'requestParameters', 'passwordResetRequired') AS reset_flag,
  coalesce(nullIf(JSONExtractString(raw, 'requestParameters', 'policyDocument'), ''), JSONExtractString(raw, 'requestParameters', 'assumeRolePolicyDocument')) AS document,
  coalesce(source_ip, source_host) AS source`

export default defineDetector({
  id: 'iam-privilege-escalation',
  title: 'Someone gave a principal power it did not have',
  severity: 'high',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'event',
  lookback: '30d',
  attack: ['T1098', 'T1098.001', 'T1098.003', 'T1136.003'],
  runbook: [
    'Was the change made through the usual pipeline (CloudFormation, Terraform) by the usual principal?',
    'If not: detach the policy, delete the new key or login profile, restore the trust policy, and review what the principal did next.',
  ],
  config: z.object({}),
  // Admin policies attached; inline policies allowing "*" on "*"; keys or console passwords made for
  // another user; trust policies open to anyone, or naming an outside account the role did not trust
  // before (30 days); and users created in the window they got power. Documents with a "*" are read
  // as JSON by toFinding: an inline policy denying "*" on "*" is a quarantine, not a grant.
  ...windowQueries(
    (replay) => `
    WITH
      -- Every account each role trusted before: a trust policy counts only when it names a new one.
      trust_history AS (
        SELECT account_id, JSONExtractString(raw, 'requestParameters', 'roleName') AS role, event_time AS trusted_at,
               extractAll(coalesce(nullIf(JSONExtractString(raw, 'requestParameters', 'policyDocument'), ''), JSONExtractString(raw, 'requestParameters', 'assumeRolePolicyDocument')),
                          '(?:arn:aws[a-z-]*:iam::|")([0-9]{12})[:"]') AS trusted
        FROM events
        WHERE event_time >= ${earliestBaselineFrom(replay)} AND event_time < {now:DateTime64(3)} AND event_source = 'iam.amazonaws.com'
          AND event_name IN ('UpdateAssumeRolePolicy', 'CreateRole') AND error_code = ''
      ),
      -- When each person made credentials for another user before.
      credentials_made AS (
        SELECT account_id, actor, groupArray(event_time) AS times
        FROM (
          SELECT account_id, ${ACTOR} AS actor, event_time FROM events
          WHERE event_time >= ${earliestBaselineFrom(replay)} AND event_time < {now:DateTime64(3)} AND event_source = 'iam.amazonaws.com'
            AND event_name IN ('CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile') AND error_code = ''
            AND JSONExtractString(raw, 'requestParameters', 'userName') NOT IN ('', actor)
        )
        GROUP BY account_id, actor
      ),
      created_users AS (
        ${windowed(
          {
            columns: "account_id, event_time, JSONExtractString(raw, 'requestParameters', 'userName') AS created",
            pre: "event_source = 'iam.amazonaws.com' AND event_name = 'CreateUser' AND error_code = ''",
            sql: '1',
          },
          replay,
        )}
      ),
      candidates AS (
        ${windowed({ columns: CHANGE, pre: `event_source = 'iam.amazonaws.com' AND event_name IN ${CHANGES}`, sql: '1' }, replay)}
      )
    SELECT ${replay ? 'c.run AS run, ' : ''}c.account_id AS account_id, any(c.principal_arn) AS principal_arn, c.event_id AS event_id, any(c.at) AS at, any(c.event_name) AS event_name,
           any(c.error_code) AS error_code, any(c.target) AS target, any(c.policy_arn) AS policy_arn, any(c.source) AS source,
           any(c.admin_policy) AS admin_policy, any(c.star_document) AS document, any(c.other_user_credentials) AS other_user_credentials,
           any(c.reset_required) AS reset_required,
           any(length(arrayDistinct(arrayMap(t -> toDate(t), arrayFilter(t -> t < c.event_time AND t >= ${baselineFrom(replay, 'c.run')}, m.times))))) AS credential_days,
           arrayFilter(a -> NOT has(groupArrayArrayIf(h.trusted, h.trusted_at < c.event_time AND h.trusted_at >= ${baselineFrom(replay, 'c.run')}), a), any(c.named_accounts)) AS outside_accounts,
           any(c.created_in_window) AS created_in_window
    FROM (
    SELECT ${keys(replay, 'account_id')}, principal_arn, actor, event_id, event_time, at, event_name, error_code, target, policy_arn, source,
           event_name LIKE 'Attach%Policy' AND match(policy_arn, '/(AdministratorAccess|IAMFullAccess)$') AS admin_policy,
           (event_name LIKE 'Put%Policy' OR event_name IN ('UpdateAssumeRolePolicy', 'CreateRole')) AND position(document, '*') > 0 AS wildcard_document,
           if(wildcard_document, document, '') AS star_document,
           event_name IN ('CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile') AND target_user != '' AND target_user != actor AS other_user_credentials,
           event_name IN ('CreateLoginProfile', 'UpdateLoginProfile') AND reset_flag AS reset_required,
           if(event_name IN ('UpdateAssumeRolePolicy', 'CreateRole'),
              arrayDistinct(arrayFilter(a -> a != account_id, extractAll(document, '(?:arn:aws[a-z-]*:iam::|")([0-9]{12})[:"]'))), []) AS named_accounts,
           (${keys(replay, 'account_id, target_user')}) IN (SELECT ${keys(replay, 'account_id, created')} FROM created_users) AS created_in_window
    FROM candidates
    WHERE admin_policy OR wildcard_document OR other_user_credentials OR notEmpty(named_accounts)
    ) AS c
    LEFT JOIN trust_history AS h ON h.account_id = c.account_id AND h.role = c.target
    LEFT JOIN credentials_made AS m ON m.account_id = c.account_id AND m.actor = c.actor
    GROUP BY ${keys(replay, 'c.account_id, c.event_id')}
    HAVING admin_policy OR document != '' OR other_user_credentials OR notEmpty(outside_accounts)
    ORDER BY ${keys(replay, 'account_id, at, event_id')}`,
  ),
  row: Row,
  toFinding: (r) => {
    let severity: Severity
    let what: string
    let routine = false
    const statements = r.document ? policyStatements(r.document) : []
    const allowsEverything = r.event_name.startsWith('Put') && statements.some((s) => s.Effect === 'Allow' && strings(s.Action).some((a) => a === '*' || a === '*:*') && strings(s.Resource).includes('*'))
    const openTrust = r.event_name.startsWith('Put') ? [] : statements.filter((s) => s.Effect === 'Allow' && (s.Principal === '*' || strings(principalsOf(s.Principal)).includes('*')))
    if (r.admin_policy || allowsEverything) {
      severity = 'high'
      what = r.admin_policy ? `attached ${r.policy_arn.split('/').pop() ?? ''} to ${r.target}` : `gave ${r.target} an inline policy allowing "*" on "*"`
    } else if (openTrust.length > 0) {
      // Anyone in any AWS account may assume the role, unless a condition narrows who.
      const conditioned = openTrust.every((s) => s.Condition !== undefined)
      severity = conditioned ? 'medium' : 'critical'
      what = `made role ${r.target} trust anyone ("Principal": "*")${conditioned ? ', narrowed only by a condition' : ''}`
    } else if (r.outside_accounts.length > 0) {
      severity = 'high'
      what = `made role ${r.target} trust account ${r.outside_accounts.join(', ')}`
    } else if (r.other_user_credentials) {
      // A helpdesk reset makes the user choose a new password at their next sign-in; a password set
      // for someone else without that is one the setter knows, unless setting them is the setter's job.
      routine = r.credential_days >= USUAL_CREDENTIAL_DAYS
      severity = r.reset_required || routine ? 'low' : 'medium'
      what = `${r.event_name === 'CreateAccessKey' ? 'created an access key' : r.event_name === 'CreateLoginProfile' ? 'created a console password' : 'changed the console password'} for user ${r.target}${r.reset_required ? ', to be changed at the next sign-in' : ''}`
    } else {
      // A document with a "*" that grants nothing wide: a quarantine policy, or a scoped wildcard.
      return null
    }
    // A user created with a first password to change at sign-in is how a new hire arrives; a key or power for a new user is not.
    if (r.created_in_window) {
      if (!r.reset_required) severity = raise(severity)
      what += ', a user created in the same window'
    }
    const failed = r.error_code !== ''
    if (failed) severity = severity === 'critical' ? 'high' : 'medium'
    return {
      severity,
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} ${failed ? `tried (${r.error_code}) and failed: ` : ''}${what}`,
      firstSeen: isoTime(r.at),
      lastSeen: isoTime(r.at),
      evidence: { event: r.event_name, event_id: r.event_id, target: r.target, ...(r.other_user_credentials ? { credential_days_before: r.credential_days } : {}), policy_arn: r.policy_arn || null, outside_accounts: r.outside_accounts, open_trust: openTrust.length > 0, new_user: Boolean(r.created_in_window), succeeded: !failed, source: r.source },
      why: `${r.event_name} grants standing access: administrator or wildcard policies, trust for outside accounts and new credentials for other users are how an intruder stays in.${r.created_in_window ? ' The user was created within the same hour.' : ''}${routine ? ` The same person made credentials for other users on ${String(r.credential_days)} days of the 30 before: it is their usual work.` : ''}`,
      dedupKey: `${r.account_id}|${r.event_id}`,
    }
  },
})

interface Statement {
  Effect?: unknown
  Action?: unknown
  Resource?: unknown
  Principal?: unknown
  Condition?: unknown
}

/** The statements of a policy document as CloudTrail records it: JSON, sometimes URL-encoded; none when unreadable. */
function policyStatements(document: string): Statement[] {
  try {
    const parsed: unknown = JSON.parse(document.startsWith('%7B') ? decodeURIComponent(document) : document)
    const statement = typeof parsed === 'object' && parsed !== null && 'Statement' in parsed ? parsed.Statement : undefined
    return (Array.isArray(statement) ? statement : [statement]).filter((s): s is Statement => typeof s === 'object' && s !== null)
  } catch {
    return []
  }
}

function strings(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string')
}

/** `{"AWS": …}` of a trust statement's principal; a bare "*" is handled by the caller. */
function principalsOf(principal: unknown): unknown {
  return typeof principal === 'object' && principal !== null && 'AWS' in principal ? principal.AWS : undefined
}
