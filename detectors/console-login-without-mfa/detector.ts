import { z } from 'zod'
import { defineDetector } from '../define.js'
import { keys, windowed, windowQueries } from '../windows.js'
import { isoTime } from '../../src/time.js'

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  event_id: z.string(),
  at: z.string(),
  source: z.string(),
  country: z.string(),
  agent: z.string(),
})

export default defineDetector({
  id: 'console-login-without-mfa',
  title: 'An IAM user signed in to the console without MFA',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'event',
  lookback: '1d',
  attack: ['T1078.004'],
  runbook: [
    'Was it the user? Ask them, from another channel.',
    'Require MFA for the user (an IAM policy denying everything without aws:MultiFactorAuthPresent), or move them to SSO.',
  ],
  config: z.object({}),
  // IAM users only: SSO and SAML sign-ins are federated, and root has its own detector.
  ...windowQueries(
    (replay) => `
    SELECT ${keys(replay, 'account_id')}, principal_arn, event_id, toString(event_time) AS at, origin AS source, country, agent
    FROM (${windowed(
      {
        columns: 'account_id, principal_arn, event_id, event_time, coalesce(source_ip, source_host) AS origin, toString(source_country) AS country, user_agent AS agent',
        pre: "event_source = 'signin.amazonaws.com' AND event_name = 'ConsoleLogin' AND principal_type = 'IAMUser'",
        sql: `JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Success'
          AND JSONExtractString(raw, 'additionalEventData', 'MFAUsed') != 'Yes'
          AND NOT JSONHas(raw, 'additionalEventData', 'SamlProviderArn')`,
      },
      replay,
    )})
    ORDER BY ${keys(replay, 'account_id, at, event_id')}
    LIMIT 1 BY ${keys(replay, 'event_id')}`,
  ),
  row: Row,
  toFinding: (r) => ({
    severity: 'medium',
    principal: r.principal_arn,
    account: r.account_id,
    title: `${r.principal_arn} signed in to the console without MFA from ${r.source}${r.country ? ` (${r.country})` : ''}`,
    firstSeen: isoTime(r.at),
    lastSeen: isoTime(r.at),
    evidence: { event_id: r.event_id, source: r.source, country: r.country || null, user_agent: r.agent },
    why: 'A console password alone signed in: no MFA device was presented. A stolen password is then enough.',
    dedupKey: `${r.account_id}|${r.principal_arn}|${r.event_id}`,
  }),
})
