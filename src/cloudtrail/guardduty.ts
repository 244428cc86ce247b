import { z } from 'zod'
import { memberValue, parsedWhenMarked } from './framing.js'

/** One GuardDuty finding as the guardduty_findings table holds it; times are epoch ms. */
export interface GuardDutyRow {
  finding_id: string
  account_id: string
  region: string
  partition: string
  type: string
  severity: number
  title: string
  description: string
  resource_type: string
  access_key_id: string
  principal_id: string
  user_name: string
  user_type: string
  remote_ip: string
  api: string
  service_name: string
  first_seen: number
  last_seen: number
  updated_at: number
  count: number
  archived: boolean
  raw: string
}

export type GuardDutyResult = { ok: true; row: GuardDutyRow } | { ok: false; reason: string }

/** Free text GuardDuty writes (and an attacker can shape, through names it repeats) is kept, cut to a size. */
const text = (max: number) => z.string().transform((value) => value.slice(0, max))
const identifier = z.string().max(256)
const instant = z.string().refine((value) => Number.isFinite(Date.parse(value)), 'not a date')

const Finding = z.object({
  id: identifier.min(1),
  accountId: z.string().regex(/^\d{12}$/, 'not an account id'),
  region: identifier.default(''),
  partition: identifier.default('aws'),
  type: identifier.min(1),
  severity: z.number().min(0).max(10),
  title: text(512).default(''),
  description: text(2048).default(''),
  updatedAt: instant,
  createdAt: instant.optional(),
  resource: z
    .object({
      resourceType: identifier.default(''),
      accessKeyDetails: z.object({ accessKeyId: identifier, principalId: identifier, userName: identifier, userType: identifier }).partial().optional(),
    })
    .optional(),
  service: z
    .object({
      eventFirstSeen: instant,
      eventLastSeen: instant,
      count: z.number().int().nonnegative(),
      archived: z.boolean(),
      action: z
        .object({
          awsApiCallAction: z.object({ api: identifier, serviceName: identifier, remoteIpDetails: z.object({ ipAddressV4: identifier, ipAddressV6: identifier }).partial() }).partial(),
        })
        .partial(),
    })
    .partial()
    .optional(),
})

const GUARDDUTY_FINDING = Buffer.from('"GuardDuty Finding"')

/**
 * A GuardDuty finding as EventBridge delivers it (`detail-type: GuardDuty Finding`, the finding in
 * `detail`), for a queue, a topic or a file; undefined when the value is not one, so other decoders
 * can try it. Values without the detail type in them pay one byte search.
 */
export function guardDutyFinding(bytes: Buffer): GuardDutyResult | undefined {
  const envelope = parsedWhenMarked(bytes, GUARDDUTY_FINDING) as { 'detail-type'?: unknown; detail?: unknown } | undefined
  if (envelope?.['detail-type'] !== 'GuardDuty Finding') return undefined
  const parsed = Finding.safeParse(envelope.detail)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: `not a GuardDuty finding: detail.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` }
  }
  const finding = parsed.data
  const key = finding.resource?.accessKeyDetails ?? {}
  const call = finding.service?.action?.awsApiCallAction ?? {}
  const updated = Date.parse(finding.updatedAt)
  const firstSeen = finding.service?.eventFirstSeen ?? finding.createdAt ?? finding.updatedAt
  const lastSeen = finding.service?.eventLastSeen ?? finding.updatedAt
  return {
    ok: true,
    row: {
      finding_id: finding.id,
      account_id: finding.accountId,
      region: finding.region,
      partition: finding.partition,
      type: finding.type,
      severity: finding.severity,
      title: finding.title,
      description: finding.description,
      resource_type: finding.resource?.resourceType ?? '',
      access_key_id: key.accessKeyId ?? '',
      principal_id: key.principalId ?? '',
      user_name: key.userName ?? '',
      user_type: key.userType ?? '',
      remote_ip: call.remoteIpDetails?.ipAddressV4 ?? call.remoteIpDetails?.ipAddressV6 ?? '',
      api: call.api ?? '',
      service_name: call.serviceName ?? '',
      first_seen: Date.parse(firstSeen),
      last_seen: Date.parse(lastSeen),
      updated_at: updated,
      count: finding.service?.count ?? 1,
      archived: finding.service?.archived ?? false,
      raw: memberValue(bytes, 'detail')?.toString('utf8') ?? JSON.stringify(envelope.detail),
    },
  }
}
