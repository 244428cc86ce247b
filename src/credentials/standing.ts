import { z } from 'zod'
import { ConfigError, issueLines } from '../errors.js'
import type { Severity } from '../severity.js'
import { isoTime } from '../time.js'
import type { InventoryKey } from './inventory.js'

/** The limits every access key is held to; the stale-access-key detector's settings set them for the report too. */
export const CredentialLimits = z.object({
  /** CIS AWS 1.14 / Security Hub IAM.3. */
  rotationDays: z.number().int().positive().default(90),
  /** Security Hub IAM.22: a key unused this long, or never used and this old, should go. */
  unusedDays: z.number().int().positive().default(45),
  /** A key never used is worth a look once it is this old. */
  neverUsedGraceDays: z.number().int().nonnegative().default(7),
})
export type CredentialLimits = z.output<typeof CredentialLimits>

export const DEFAULT_LIMITS: CredentialLimits = CredentialLimits.parse({})

/** The limits configured for the stale-access-key detector in TRAILWATCH_DETECTORS_FILE, or the defaults. */
export function credentialLimits(detectorSettings: Record<string, unknown>): CredentialLimits {
  const parsed = CredentialLimits.safeParse(detectorSettings['stale-access-key'] ?? {})
  if (!parsed.success) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE stale-access-key: ${issueLines(parsed.error).join('; ')}`)
  return parsed.data
}

/** Where one access key stands at a time, against the limits: the one rule the detector and the report share. */
export interface KeyStanding {
  createdMs: number | undefined
  lastUsedMs: number | undefined
  /** Whole days since creation. */
  ageDays: number | undefined
  /** Whole days since last use; undefined when never used. */
  idleDays: number | undefined
  root: boolean
  rotationOverdue: boolean
  /** Unused for `unusedDays`, or never used and that old. */
  unused: boolean
  /** Never used, past the grace but not yet past the unused limit. */
  neverUsedYet: boolean
  /** What is wrong, in words, worst first: `680 days old (rotation limit 90)`. */
  problems: string[]
  /** How urgent: root keys critical, past a limit medium, never used within the limit low; undefined when in order. */
  severity: Severity | undefined
  /** What to do, worst first: `delete root key`, `inactive`, `rotate`, `unused`, `never used`; empty when in order. */
  actions: string[]
}

const DAY = 86_400_000

export function keyStanding(key: InventoryKey, now: Date, limits: CredentialLimits): KeyStanding {
  const createdMs = key.created ? Date.parse(isoTime(key.created)) : undefined
  const lastUsedMs = key.last_used && !key.last_used.startsWith('1970') ? Date.parse(isoTime(key.last_used)) : undefined
  const ageDays = createdMs === undefined ? undefined : Math.floor((now.getTime() - createdMs) / DAY)
  const idleDays = lastUsedMs === undefined ? undefined : Math.floor((now.getTime() - lastUsedMs) / DAY)
  const root = key.user === '<root_account>' || key.arn.endsWith(':root')
  const neverUsedFor = idleDays === undefined ? ageDays : undefined
  const rotationOverdue = ageDays !== undefined && ageDays > limits.rotationDays
  const unused = (idleDays ?? neverUsedFor ?? -1) >= limits.unusedDays
  const neverUsedYet = !unused && neverUsedFor !== undefined && neverUsedFor >= limits.neverUsedGraceDays

  const problems: string[] = []
  const actions: string[] = []
  if (root) {
    problems.push('a root access key exists')
    actions.push('delete root key')
  }
  if (!key.active) actions.push('inactive')
  if (rotationOverdue) {
    problems.push(`${String(ageDays)} days old (rotation limit ${String(limits.rotationDays)})`)
    actions.push('rotate')
  }
  if (unused) {
    problems.push(idleDays === undefined ? `never used in its ${String(ageDays)} days (limit ${String(limits.unusedDays)})` : `unused for ${String(idleDays)} days (limit ${String(limits.unusedDays)})`)
    actions.push('unused')
  }
  if (neverUsedYet) {
    problems.push(`never used in its ${String(ageDays)} days`)
    actions.push('never used')
  }
  const severity: Severity | undefined = root ? 'critical' : rotationOverdue || unused ? 'medium' : neverUsedYet ? 'low' : undefined
  return { createdMs, lastUsedMs, ageDays, idleDays, root, rotationOverdue, unused, neverUsedYet, problems, severity, actions }
}
