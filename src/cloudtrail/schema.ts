import { z } from 'zod'

// CloudTrail sends `null` for many absent values; treat null and missing alike. Producers and
// converters write some optional fields with the other common type (`"readOnly": "true"`,
// `"sessionCredentialFromConsole": true`): read those as meant rather than lose the record.
const text = z.union([z.string(), z.number().transform(String), z.boolean().transform(String)]).nullish()
// Converters differ in case too ("True" from Python, "TRUE" from some SIEM exports).
const flag = z
  .union([
    z.boolean(),
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['true', 'false']))
      .transform((value) => value === 'true'),
  ])
  .nullish()

const SessionIssuer = z.object({
  type: text,
  principalId: text,
  arn: text,
  accountId: text,
  userName: text,
})

const SessionContext = z.object({
  sessionIssuer: SessionIssuer.nullish(),
  attributes: z.object({ creationDate: text, mfaAuthenticated: text }).nullish(),
  webIdFederationData: z.object({ federatedProvider: text }).nullish(),
  sourceIdentity: text,
  ec2RoleDelivery: text,
})

export const UserIdentity = z.object({
  type: text,
  principalId: text,
  arn: text,
  accountId: text,
  accessKeyId: text,
  userName: text,
  invokedBy: text,
  identityProvider: text,
  sessionContext: SessionContext.nullish(),
})

/**
 * The fields trailwatch reads from a CloudTrail record. Everything else is kept untouched in the
 * stored original JSON, so unknown fields, regions, services and event names all pass; the parsed
 * copy leaves them out, which spares ingest copying every request and response.
 */
export const CloudTrailRecord = z.object({
  eventVersion: text,
  eventTime: z.iso.datetime({ offset: true, error: (issue) => (issue.input === undefined ? 'missing' : 'expected an ISO 8601 timestamp') }),
  eventName: z.string().min(1),
  eventSource: z.string().min(1),
  eventID: z.string().min(1).nullish(),
  eventType: text,
  eventCategory: text,
  awsRegion: text,
  sourceIPAddress: text,
  userAgent: text,
  errorCode: text,
  errorMessage: text,
  requestID: text,
  readOnly: flag,
  managementEvent: flag,
  recipientAccountId: text,
  vpcEndpointId: text,
  sessionCredentialFromConsole: text,
  userIdentity: UserIdentity.nullish(),
  additionalEventData: z.unknown().optional(),
  responseElements: z.unknown().optional(),
})

export type CloudTrailRecord = z.infer<typeof CloudTrailRecord>
export type UserIdentity = z.infer<typeof UserIdentity>

/**
 * An aggregated data event (`eventType: AwsAggregatedEvent`): CloudTrail's 5-minute summary of
 * data events by call, resource or principal. Its `summary` is kept in the stored original.
 */
export const AggregatedRecord = z.object({
  eventVersion: text,
  eventId: z.string().min(1),
  eventType: z.literal('AwsAggregatedEvent'),
  eventCategory: text,
  accountId: z.string().min(1),
  awsRegion: text,
  eventSource: z.string().min(1),
  timeWindow: z.object({
    windowStart: z.iso.datetime({ offset: true, error: (issue) => (issue.input === undefined ? 'missing' : 'expected an ISO 8601 timestamp') }),
  }),
  summary: z.object({}).loose(),
})
export type AggregatedRecord = z.infer<typeof AggregatedRecord>
