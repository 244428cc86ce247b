import { createHash } from 'node:crypto'
import { normaliseIdentity } from './identity.js'
import type { CloudTrailRecord } from './schema.js'

/** One row of the `events` table, ready to be written as a JSONEachRow line. */
export interface PreparedEvent {
  eventId: string
  eventTimeMs: number
  /** The JSONEachRow line, with the original record spliced in verbatim as `raw`. */
  line: string
}

/**
 * Builds the events row. The typed columns are serialised with JSON.stringify; the original record
 * is appended as a JSON object rather than an escaped string, which ClickHouse stores as its text
 * (input_format_json_read_objects_as_strings): no second escaping pass over the largest field.
 */
export function prepareEvent(record: CloudTrailRecord, raw: string, eventTimeMs: number): PreparedEvent {
  const who = normaliseIdentity(record)
  const eventId = record.eventID ?? syntheticEventId(raw)
  const columns = {
    event_id: eventId,
    // JavaScript and ClickHouse must agree on the instant: store the one computed here.
    event_time: new Date(eventTimeMs).toISOString(),
    event_name: record.eventName,
    event_source: record.eventSource,
    event_type: record.eventType ?? '',
    event_category: record.eventCategory ?? '',
    event_version: record.eventVersion ?? '',
    account_id: record.recipientAccountId ?? record.userIdentity?.accountId ?? '',
    aws_region: record.awsRegion ?? '',
    principal_arn: who.principalArn,
    principal_type: who.principalType,
    principal_account_id: who.principalAccountId,
    user_name: who.userName,
    session_name: who.sessionName,
    actor_kind: who.actorKind,
    invoked_by: who.invokedBy,
    access_key_id: who.accessKeyId,
    access_key_kind: who.accessKeyKind,
    mfa_authenticated: who.mfaAuthenticated,
    console_session: who.consoleSession,
    source_ip: who.sourceIp,
    source_host: who.sourceHost,
    user_agent: record.userAgent ?? '',
    error_code: record.errorCode ?? '',
    error_message: record.errorMessage ?? '',
    read_only: record.readOnly ?? null,
    management_event: record.managementEvent ?? null,
    request_id: record.requestID ?? '',
    vpc_endpoint_id: record.vpcEndpointId ?? '',
  }
  const head = JSON.stringify(columns)
  return { eventId, eventTimeMs, line: `${head.slice(0, -1)},"raw":${raw}}\n` }
}

/** CloudTrail always sends an eventID; for hand-made input, the same bytes get the same id. */
function syntheticEventId(raw: string): string {
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`
}
