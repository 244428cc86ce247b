import { randomBytes } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { AppError } from '../errors.js'
import { globMatches } from '../glob.js'
import type { StoredAlert } from '../alerts/table.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

const RuleRow = z.object({
  rule_id: z.string(),
  detector: z.string(),
  principal: z.string(),
  cidr: z.string(),
  account: z.string(),
  owner: z.string(),
  reason: z.string(),
  created_at: isoFromMillis,
  expires_at: isoFromMillis,
  removed_at: isoFromMillis.nullable(),
  removed_by: z.string(),
  version: z.coerce.number(),
})

/** A rule silencing alerts that match every field it sets, until it expires. */
export type SuppressionRule = z.output<typeof RuleRow>

export interface NewSuppression {
  detector?: string | undefined
  /** An ARN, or a pattern with `*`. */
  principal?: string | undefined
  /** An address or a CIDR block; every address the alert names must fall inside. */
  cidr?: string | undefined
  account?: string | undefined
  owner: string
  reason: string
  expiresAt: Date
}

const MAX_DAYS = 365

/** Rejects a rule that would silence too much or forever: a person must own and justify it. */
export function validateSuppression(rule: NewSuppression, now: Date): void {
  const problems: string[] = []
  if (!rule.detector && !rule.principal && !rule.cidr && !rule.account) problems.push('name at least one of --detector, --principal, --cidr, --account')
  if (!rule.owner.trim()) problems.push('--owner is required: who answers for this rule')
  if (!rule.reason.trim()) problems.push('--reason is required: why these alerts are expected')
  if (rule.cidr && !parseCidr(rule.cidr)) problems.push(`--cidr ${rule.cidr} is not an address or CIDR block`)
  if (rule.expiresAt.getTime() <= now.getTime()) problems.push('--expires must be in the future')
  if (rule.expiresAt.getTime() > now.getTime() + MAX_DAYS * 86_400_000) problems.push(`--expires must be within ${String(MAX_DAYS)} days; renew a rule that is still needed`)
  if (problems.length) throw new AppError('INVALID_SUPPRESSION', `suppression not added:\n  ${problems.join('\n  ')}`)
}

function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText] = text.split('/')
  const version = isIP(address)
  if (version === 0) return undefined
  const max = version === 4 ? 32 : 128
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

export async function addSuppression(store: Store, rule: NewSuppression, now: Date): Promise<SuppressionRule> {
  validateSuppression(rule, now)
  const stored: SuppressionRule = {
    rule_id: randomBytes(4).toString('hex'),
    detector: rule.detector ?? '',
    principal: rule.principal ?? '',
    cidr: rule.cidr ?? '',
    account: rule.account ?? '',
    owner: rule.owner.trim(),
    reason: rule.reason.trim(),
    created_at: now.toISOString(),
    expires_at: rule.expiresAt.toISOString(),
    removed_at: null,
    removed_by: '',
    version: 1,
  }
  await writeRule(store, stored)
  return stored
}

async function writeRule(store: Store, rule: SuppressionRule): Promise<void> {
  const time = (value: string): string => clickHouseTime(Date.parse(value))
  await store.client.insert({
    table: 'suppressions',
    values: [{ ...rule, created_at: time(rule.created_at), expires_at: time(rule.expires_at), removed_at: rule.removed_at === null ? null : time(rule.removed_at) }],
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}

/** Every rule ever made, newest first; `activeAt` keeps those in force at that time. */
export async function listSuppressions(store: Store, activeAt?: Date): Promise<SuppressionRule[]> {
  const rules = await selectRows(
    store,
    `SELECT rule_id, detector, principal, cidr, account, owner, reason,
            toUnixTimestamp64Milli(created_at) AS created_at, toUnixTimestamp64Milli(expires_at) AS expires_at,
            toUnixTimestamp64Milli(removed_at) AS removed_at, removed_by, version
     FROM suppressions FINAL ORDER BY created_at DESC, rule_id`,
    {},
    RuleRow,
  )
  if (!activeAt) return rules
  const at = activeAt.toISOString()
  return rules.filter((rule) => rule.removed_at === null && rule.created_at <= at && rule.expires_at > at)
}

export async function removeSuppression(store: Store, ruleId: string, removedBy: string, now: Date): Promise<SuppressionRule> {
  const rule = (await listSuppressions(store)).find((r) => r.rule_id === ruleId)
  if (!rule) throw new AppError('NO_SUCH_SUPPRESSION', `no suppression rule ${ruleId}; trailwatch suppress list shows them`)
  if (rule.removed_at !== null) throw new AppError('NO_SUCH_SUPPRESSION', `suppression rule ${ruleId} was already removed at ${rule.removed_at}`)
  const removed = { ...rule, removed_at: now.toISOString(), removed_by: removedBy, version: rule.version + 1 }
  await writeRule(store, removed)
  return removed
}

const ADDRESS_KEYS = new Set(['address', 'source', 'sources', 'source_ip', 'last_address'])

/** The addresses an alert names in its evidence. */
export function alertAddresses(alert: StoredAlert): string[] {
  const found = new Set<string>()
  for (const [key, value] of Object.entries(alert.evidence)) {
    if (!ADDRESS_KEYS.has(key)) continue
    for (const item of Array.isArray(value) ? value : [value]) if (typeof item === 'string' && isIP(item)) found.add(item)
  }
  return [...found]
}

/** The first rule in force that the alert matches on every field the rule sets. */
export function matchingSuppression(rules: SuppressionRule[], alert: StoredAlert): SuppressionRule | undefined {
  return rules.find((rule) => {
    if (rule.detector && rule.detector !== alert.detector) return false
    if (rule.account && rule.account !== alert.account) return false
    if (rule.principal && !globMatches(rule.principal, alert.principal)) return false
    if (rule.cidr) {
      const block = parseCidr(rule.cidr)
      const addresses = alertAddresses(alert)
      if (!block || addresses.length === 0) return false
      const list = new BlockList()
      list.addSubnet(block.address, block.prefix, block.family)
      // Only when all of them are inside: one address elsewhere may be the intruder.
      if (!addresses.every((a) => list.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6'))) return false
    }
    return true
  })
}
