import { AppError } from '../src/errors.js'
import accessDeniedBurst from './access-denied-burst/detector.js'
import cloudtrailTampering from './cloudtrail-tampering/detector.js'
import consoleBruteForce from './console-brute-force/detector.js'
import consoleLoginWithoutMfa from './console-login-without-mfa/detector.js'
import crossAccountAssumeRole from './cross-account-assume-role/detector.js'
import dataFreshness from './data-freshness/detector.js'
import type { Detector } from './define.js'
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
  crossAccountAssumeRole,
  dataFreshness,
]

/** The detectors named, or all of them; `rules` are the detectors rule files made. */
export function findDetectors(ids: string[] | undefined, rules: Detector[] = []): Detector[] {
  const all = [...DETECTORS, ...rules]
  if (!ids || ids.length === 0) return all
  return ids.map((id) => {
    const detector = all.find((d) => d.id === id)
    if (!detector) throw new AppError('USAGE', `no detector ${id}; known: ${DETECTORS.map((d) => d.id).join(', ')}${rules.length ? `, and ${String(rules.length)} rules (trailwatch rules list)` : ''}`)
    return detector
  })
}
