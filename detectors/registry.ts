import { AppError, ConfigError } from '../src/errors.js'
import type { Settings } from '../src/settings.js'
import { closestNames } from '../src/text.js'
import accessDeniedBurst from './access-denied-burst/detector.js'
import awsKeyQuarantine from './aws-key-quarantine/detector.js'
import bulkDataRead from './bulk-data-read/detector.js'
import cloudtrailTampering from './cloudtrail-tampering/detector.js'
import consoleBruteForce from './console-brute-force/detector.js'
import consoleLoginWithoutMfa from './console-login-without-mfa/detector.js'
import crossAccountAssumeRole from './cross-account-assume-role/detector.js'
import dataFreshness from './data-freshness/detector.js'
import escalationPaths from './escalation-paths/detector.js'
import guardDutyFindings from './guardduty-findings/detector.js'
import type { Detector } from './define.js'
import iamPosture from './iam-posture/detector.js'
import iamPrivilegeEscalation from './iam-privilege-escalation/detector.js'
import offHoursActivity from './off-hours-activity/detector.js'
import rootAccountUsage from './root-account-usage/detector.js'
import staleAccessKey from './stale-access-key/detector.js'
import unusualSourceIp from './unusual-source-ip/detector.js'

/** Every detector, explicitly: what runs is what is listed here. */
export const DETECTORS: readonly Detector[] = [
  unusualSourceIp,
  offHoursActivity,
  staleAccessKey,
  rootAccountUsage,
  consoleLoginWithoutMfa,
  cloudtrailTampering,
  iamPrivilegeEscalation,
  consoleBruteForce,
  accessDeniedBurst,
  bulkDataRead,
  crossAccountAssumeRole,
  dataFreshness,
  iamPosture,
  escalationPaths,
  guardDutyFindings,
  awsKeyQuarantine,
]

/**
 * The detectors named, or all of them less those TRAILWATCH_DETECTORS_FILE turns off
 * (`"enabled": false`); `rules` are the detectors rule files made. Settings for an id that is
 * not among them stop the command, so a misspelt id never silently leaves a detector on.
 */
export function findDetectors(ids: string[] | undefined, rules: Detector[], settings: Settings): Detector[] {
  const all = [...DETECTORS, ...rules]
  const known = new Set(all.map((d) => d.id))
  for (const id of Object.keys(settings.detectors)) {
    if (!known.has(id)) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE: no detector or rule ${id}; known: ${DETECTORS.map((d) => d.id).join(', ')}, and rule:ID for each rule (trailwatch rules list)`)
  }
  if (!ids || ids.length === 0) return all.filter((d) => enabled(d, settings))
  return ids.map((id) => {
    const detector = all.find((d) => d.id === id)
    if (!detector) throw new AppError('USAGE', unknownDetector(id, all, rules.length))
    return detector
  })
}

/** A detector or rule id nobody has: the closest names, or else the detectors there are. */
export function unknownDetector(id: string, all: readonly Detector[], rules: number): string {
  const near = closestNames(id, all.map((d) => d.id))
  if (near.length > 0) return `no detector ${id}; did you mean ${near.join(', ')}?`
  return `no detector ${id}; known: ${DETECTORS.map((d) => d.id).join(', ')}${rules ? `, and ${String(rules)} rules (trailwatch rules list)` : ''}`
}

function enabled(detector: Detector, settings: Settings): boolean {
  const own = settings.detectors[detector.id]
  const value = typeof own === 'object' && own !== null ? (own as Record<string, unknown>).enabled : undefined
  if (value !== undefined && typeof value !== 'boolean') throw new ConfigError(`detector ${detector.id}: enabled: expected true or false`)
  return value !== false
}
