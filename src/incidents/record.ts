import { storeFindings, type Finding } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { correlateIncidents, type Correlation } from './incidents.js'

/** What a detector run (or a pass of runs) found, and when it was detected. */
export interface DetectedFindings {
  findings: Finding[]
  detectedAt: Date
}

/**
 * The one way findings enter the store, whoever ran the detectors (the schedule, a stored batch, a
 * replay, `detect`, the demo): each batch is written to the alerts table, then, when anything was
 * found, one pass puts the alerts that are in no incident yet into one, as of `now`.
 */
export async function recordFindings(store: Store, batches: DetectedFindings[], now: Date): Promise<Correlation> {
  for (const { findings, detectedAt } of batches) await storeFindings(store, findings, detectedAt)
  if (batches.every(({ findings }) => findings.length === 0)) return { joined: 0, opened: [], merged: [] }
  return correlateIncidents(store, now)
}
