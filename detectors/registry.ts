import type { Detector } from './define.js'
import offHoursActivity from './off-hours-activity/detector.js'
import staleAccessKey from './stale-access-key/detector.js'
import unusualSourceIp from './unusual-source-ip/detector.js'

/** Every detector, explicitly: what runs is what is listed here. */
export const DETECTORS: readonly Detector[] = [unusualSourceIp, offHoursActivity, staleAccessKey]

export function findDetectors(ids: string[] | undefined): Detector[] {
  if (!ids || ids.length === 0) return [...DETECTORS]
  return ids.map((id) => {
    const detector = DETECTORS.find((d) => d.id === id)
    if (!detector) throw new Error(`no detector ${id}; known: ${DETECTORS.map((d) => d.id).join(', ')}`)
    return detector
  })
}
