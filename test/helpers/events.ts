import { randomUUID } from 'node:crypto'
import { EventWriter } from '../../ingest/event-writer.js'
import type { Store } from '../../src/clickhouse/client.js'
import { decodeEvent } from '../../src/cloudtrail/decode.js'
import { loadSourceEnricher } from '../../src/cloudtrail/enrich.js'
import { testLogger } from './store.js'

export const ACCOUNT = '111122223333'

export type RawEvent = Record<string, unknown>

/** An IAM user's identity block. */
export function iamUser(name: string, key = `ASIA${name.toUpperCase().padEnd(16, 'X').slice(0, 16)}`): RawEvent {
  return { type: 'IAMUser', principalId: `AIDA${name.toUpperCase()}`, arn: `arn:aws:iam::${ACCOUNT}:user/${name}`, accountId: ACCOUNT, accessKeyId: key, userName: name }
}

/** A role session's identity block. */
export function roleSession(role: string, session: string, extra: RawEvent = {}): RawEvent {
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLE:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: 'ASIAEXAMPLESESSION01',
    sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT, userName: role }, attributes: { mfaAuthenticated: 'false' }, ...extra },
  }
}

/** A CloudTrail API call record at a given time. */
export function apiCall(at: string | number, userIdentity: RawEvent, sourceIPAddress: string, extra: RawEvent = {}): RawEvent {
  return {
    eventVersion: '1.09',
    userIdentity,
    eventTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 's3.amazonaws.com',
    eventName: 'ListBuckets',
    awsRegion: 'us-east-1',
    sourceIPAddress,
    userAgent: 'aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64',
    requestParameters: null,
    responseElements: null,
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    ...extra,
  }
}

/** A console sign-in of an IAM user; a failed one names the user but, as AWS does, carries no ARN. */
export function consoleSignIn(at: number, user: string, source: string, result: 'Success' | 'Failure'): RawEvent {
  return apiCall(at, { type: 'IAMUser', principalId: `AIDA${user}`, accountId: ACCOUNT, accessKeyId: '', userName: user, ...(result === 'Success' ? { arn: `arn:aws:iam::${ACCOUNT}:user/${user}` } : {}) }, source, {
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    eventType: 'AwsConsoleSignIn',
    responseElements: { ConsoleLogin: result },
    ...(result === 'Failure' ? { errorMessage: 'Failed authentication' } : {}),
  })
}

/** One call a day at the given UTC hour, for `days` days before `until`. */
export function daily(days: number, until: number, hour: number, make: (at: number) => RawEvent): RawEvent[] {
  const start = Date.UTC(new Date(until).getUTCFullYear(), new Date(until).getUTCMonth(), new Date(until).getUTCDate()) - days * 86_400_000
  return Array.from({ length: days }, (_, i) => make(start + i * 86_400_000 + hour * 3_600_000))
}

/**
 * Stores records the way ingest does: decoded, enriched, batched, and then every one of them a
 * second time, as at-least-once Kafka ingest may after a crash or a rebalance. Merges are held so
 * that the copies stay apart: whatever reads events must count each one once.
 */
export async function ingestRecords(store: Store, records: RawEvent[]): Promise<void> {
  const enricher = await loadSourceEnricher()
  const events = records.map((record) => {
    const decoded = decodeEvent(Buffer.from(JSON.stringify(record)), enricher)
    if (!decoded.ok) throw new Error(`test record rejected: ${decoded.reason}`)
    return decoded.event
  })
  await store.client.command({ query: 'SYSTEM STOP MERGES events' })
  for (const skipStored of [true, false]) {
    const writer = new EventWriter(store, { maxBatch: 10_000, logger: testLogger, skipStored })
    for (const event of events) await writer.add(event)
    await writer.flush()
  }
}

/** A GuardDuty finding as EventBridge delivers it (`detail-type: GuardDuty Finding`), after AWS's documented sample. */
export function guardDutyEvent(finding: { id: string; type: string; severity: number; updatedAt: string; firstSeen?: string; key?: RawEvent; api?: string; remoteIp?: string; count?: number; archived?: boolean; title?: string }): RawEvent {
  return {
    version: '0',
    id: `event-${finding.id}-${finding.updatedAt}`,
    'detail-type': 'GuardDuty Finding',
    source: 'aws.guardduty',
    account: ACCOUNT,
    time: finding.updatedAt,
    region: 'us-east-1',
    resources: [],
    detail: {
      schemaVersion: '2.0',
      accountId: ACCOUNT,
      region: 'us-east-1',
      partition: 'aws',
      id: finding.id,
      arn: `arn:aws:guardduty:us-east-1:${ACCOUNT}:detector/12abc34d567e8fa901bc2d34eexample/finding/${finding.id}`,
      type: finding.type,
      resource: finding.key ? { resourceType: 'AccessKey', accessKeyDetails: finding.key } : { resourceType: 'Instance', instanceDetails: { instanceId: 'i-99999999' } },
      service: {
        serviceName: 'guardduty',
        detectorId: '12abc34d567e8fa901bc2d34eexample',
        action: {
          actionType: 'AWS_API_CALL',
          awsApiCallAction: { api: finding.api ?? 'ListBuckets', serviceName: 's3.amazonaws.com', callerType: 'Remote IP', remoteIpDetails: { ipAddressV4: finding.remoteIp ?? '198.51.100.7', country: { countryName: 'Example' } } },
        },
        resourceRole: 'TARGET',
        eventFirstSeen: finding.firstSeen ?? finding.updatedAt,
        eventLastSeen: finding.updatedAt,
        archived: finding.archived ?? false,
        count: finding.count ?? 1,
      },
      severity: finding.severity,
      createdAt: finding.firstSeen ?? finding.updatedAt,
      updatedAt: finding.updatedAt,
      title: finding.title ?? `${finding.type} seen`,
      description: 'A sample finding.',
    },
  }
}
