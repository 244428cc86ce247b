import { z } from 'zod'
import { isoTime } from '../../src/time.js'
import { defineDetector } from '../define.js'
import { keys, windowed, windowQueries } from '../windows.js'

const Row = z.object({
  account_id: z.string(),
  partition: z.string(),
  kind: z.string(),
  name: z.string(),
  policy: z.string(),
  actor: z.string(),
  time: z.string(),
  event_id: z.string(),
})

const NAME = /^[\w+=,.@-]{1,128}$/

export default defineDetector({
  id: 'aws-key-quarantine',
  title: 'AWS quarantined an identity whose key leaked',
  severity: 'critical',
  schedule: '* * * * *',
  window: '1h',
  lookback: '1h',
  immediate: 'event',
  attack: ['T1552.001', 'T1078.004'],
  runbook: [
    'AWS found this identity’s access key in public (a repository, a paste) and attached a deny policy to limit what it can do; the key still works for what the policy leaves.',
    'Deactivate the key named in the AWS Support case or Health event, then look at what it did: the incident shows the key’s calls.',
    'Detach the quarantine policy only after the key is deleted and its use is understood.',
  ],
  config: z.object({}),
  // AWS does this by itself, so the actor is AWS, never a person: the finding is about the identity quarantined.
  ...windowQueries(
    (replay) => `
    SELECT ${keys(replay, 'account_id')}, partition, kind, name, policy, actor, time, event_id
    FROM (${windowed(
      {
        columns: `account_id, event_time, splitByChar(':', principal_arn)[2] AS partition,
           multiIf(event_name = 'AttachUserPolicy', 'user', event_name = 'AttachRolePolicy', 'role', 'group') AS kind,
           JSONExtractString(raw, 'requestParameters', concat(kind, 'Name')) AS name,
           JSONExtractString(raw, 'requestParameters', 'policyArn') AS policy,
           principal_arn AS actor, toString(event_time) AS time, event_id`,
        pre: "event_name IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy') AND error_code = ''",
        sql: "policy LIKE 'arn:%:iam::aws:policy/AWSCompromisedKeyQuarantine%'",
      },
      replay,
    )})
    ORDER BY ${keys(replay, 'event_time, event_id')}`,
  ),
  row: Row,
  toFinding: (r) => {
    if (!NAME.test(r.name)) return null
    const principal = `arn:${r.partition || 'aws'}:iam::${r.account_id}:${r.kind}/${r.name}`
    const policy = r.policy.split('/').pop() ?? r.policy
    return {
      severity: 'critical',
      principal,
      account: r.account_id,
      title: `AWS attached ${policy} to ${r.kind} ${r.name} in account ${r.account_id}: its key leaked`,
      firstSeen: isoTime(r.time),
      lastSeen: isoTime(r.time),
      evidence: { event: r.kind === 'user' ? 'AttachUserPolicy' : r.kind === 'role' ? 'AttachRolePolicy' : 'AttachGroupPolicy', policy_arn: r.policy, [`${r.kind}_name`]: r.name, attached_by: r.actor, event_id: r.event_id },
      why: `AWS attaches ${policy} only when it finds an access key of this identity exposed in public; whoever has the key can still use it for what the policy does not deny.`,
      dedupKey: `${r.account_id}|${r.kind}|${r.name}|${policy}`,
    }
  },
})
