import { z } from 'zod'
import { fewest, keys, windowed, windowQueries } from '../windows.js'
import { defineDetector, type Severity } from '../define.js'
import { isoTime } from '../../src/time.js'

/** What turns a record of the account off, and how bad succeeding at it is. */
const ACTIONS: Record<string, Severity> = {
  StopLogging: 'critical',
  DeleteTrail: 'critical',
  UpdateTrail: 'high',
  PutEventSelectors: 'high',
  DeleteEventDataStore: 'critical',
  StopEventDataStoreIngestion: 'high',
  DeleteDetector: 'critical',
  // Counted only when it turns the detector off: as blind as deleting it.
  UpdateDetector: 'critical',
  DisassociateFromMasterAccount: 'high',
  DeleteConfigurationRecorder: 'high',
  StopConfigurationRecorder: 'high',
  DeleteDeliveryChannel: 'high',
  DeleteFlowLogs: 'high',
  DeleteResolverQueryLogConfig: 'high',
  DisassociateResolverQueryLogConfig: 'high',
  DisableSecurityHub: 'high',
  LeaveOrganization: 'high',
}

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  event_source: z.string(),
  event_name: z.string(),
  error_code: z.string(),
  day: z.string(),
  first_seen: z.string(),
  last_seen: z.string(),
  calls: z.coerce.number(),
  targets: z.array(z.string()),
  regions: z.array(z.string()),
  sources: z.array(z.string()),
  agent: z.string(),
})

export default defineDetector({
  id: 'cloudtrail-tampering',
  title: 'Someone tried to stop or blind the account’s logging and monitoring',
  severity: 'high',
  schedule: '* * * * *',
  window: '1h',
  immediate: 'event',
  lookback: '1d',
  attack: ['T1562.008', 'T1562.001'],
  runbook: [
    'Check the trail, detector, recorder or flow log is back as it was: aws cloudtrail get-trail-status --name TRAIL',
    'Who is the principal and was a change planned? A failed attempt is still someone trying.',
    'If unplanned: treat the principal as compromised, and review everything it did in the hour before.',
  ],
  config: z.object({}),
  // UpdateTrail counts when it turns off validation, global events or multi-region, or moves the
  // destination; PutEventSelectors when a selector drops management events.
  ...windowQueries(
    (replay) => `
    SELECT ${keys(replay, 'account_id')}, principal_arn, toString(event_source) AS event_source, toString(event_name) AS event_name, toString(error_code) AS error_code,
           toString(toDate(event_time)) AS day, toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen,
           uniqExact(event_id) AS calls, ${fewest("groupUniqArray(target)")} AS targets, ${fewest('groupUniqArray(region)')} AS regions,
           ${fewest('groupUniqArray(origin)')} AS sources, argMin(user_agent, (event_time, event_id)) AS agent
    FROM (${windowed(
      {
        columns: `account_id, principal_arn, event_source, event_name, error_code, event_time, event_id, toString(aws_region) AS region, coalesce(source_ip, source_host) AS origin, user_agent,
           coalesce(nullIf(JSONExtractString(raw, 'requestParameters', 'name'), ''), nullIf(JSONExtractString(raw, 'requestParameters', 'trailName'), ''),
                    nullIf(JSONExtractString(raw, 'requestParameters', 'detectorId'), ''), nullIf(JSONExtractString(raw, 'requestParameters', 'configurationRecorderName'), ''),
                    nullIf(JSONExtractString(raw, 'requestParameters', 'resolverQueryLogConfigId'), ''),
                    nullIf(JSONExtractString(raw, 'requestParameters', 'DeleteFlowLogsRequest', 'FlowLogId', 'content'), ''), '') AS target`,
        pre: `event_name IN {actions:Array(String)}
          AND event_source IN ('cloudtrail.amazonaws.com', 'guardduty.amazonaws.com', 'config.amazonaws.com', 'ec2.amazonaws.com',
                               'route53resolver.amazonaws.com', 'securityhub.amazonaws.com', 'organizations.amazonaws.com')`,
        sql: `(event_name != 'UpdateTrail'
               OR JSONExtractRaw(raw, 'requestParameters', 'enableLogFileValidation') = 'false'
               OR JSONExtractRaw(raw, 'requestParameters', 'includeGlobalServiceEvents') = 'false'
               OR JSONExtractRaw(raw, 'requestParameters', 'isMultiRegionTrail') = 'false'
               OR JSONHas(raw, 'requestParameters', 's3BucketName'))
          AND (event_name != 'PutEventSelectors'
               OR arrayExists(s -> JSONExtractRaw(s, 'includeManagementEvents') = 'false', JSONExtractArrayRaw(raw, 'requestParameters', 'eventSelectors')))
          AND (event_name != 'UpdateDetector' OR JSONExtractRaw(raw, 'requestParameters', 'enable') = 'false')`,
      },
      replay,
    )})
    GROUP BY ${keys(replay, 'account_id, principal_arn, event_source, event_name, error_code, day')}
    ORDER BY ${keys(replay, 'account_id, first_seen, principal_arn, event_source, event_name, error_code')}`,
  ),
  params: () => ({ actions: Object.keys(ACTIONS) }),
  row: Row,
  toFinding: (r) => {
    const succeeded = r.error_code === ''
    const full = ACTIONS[r.event_name] ?? 'high'
    // A failed attempt is still reported, a step lower.
    const severity: Severity = succeeded ? full : full === 'critical' ? 'high' : 'medium'
    const target = r.targets.filter(Boolean).join(', ')
    return {
      severity,
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} ${succeeded ? 'called' : `tried (${r.error_code})`} ${r.event_name}${target ? ` on ${target}` : ''}${r.calls > 1 ? ` ${String(r.calls)} times` : ''}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: { event: r.event_name, service: r.event_source, succeeded, error_code: r.error_code || null, calls: r.calls, targets: r.targets.filter(Boolean), regions: r.regions, sources: r.sources, user_agent: r.agent },
      why: `${r.event_name} stops, deletes or blinds audit logging: every such call is reported, whoever makes it.${succeeded ? '' : ' This one failed; an attempt still shows intent.'}`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.event_name}|${succeeded ? 'done' : 'tried'}|${r.day}`,
    }
  },
})
