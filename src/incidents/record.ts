import { storeFindings, type Finding } from '../alerts/table.js'
import type { Store } from '../clickhouse/client.js'
import { pathText } from '../iam/paths.js'
import { ESCALATION_DETECTOR, reachOf } from '../iam/reach.js'
import { raise } from '../severity.js'
import { plural } from '../text.js'
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
  for (const { findings, detectedAt } of batches) await storeFindings(store, await weighByReach(store, findings, detectedAt), detectedAt)
  if (batches.every(({ findings }) => findings.length === 0)) return { joined: 0, opened: [], merged: [] }
  return correlateIncidents(store, now)
}

/**
 * A finding on an identity that can become administrator is one severity level higher, and says
 * how, by the latest paths computed at `at`: a stolen key of a developer who can pass any role to
 * Lambda is a stolen administrator key. The paths' own findings are what they are.
 */
async function weighByReach(store: Store, findings: Finding[], at: Date): Promise<Finding[]> {
  const weighed = findings.filter((f) => f.detector !== ESCALATION_DETECTOR)
  if (weighed.length === 0) return findings
  const reach = await reachOf(store, [...new Set(weighed.map((f) => f.principal))], at)
  return findings.map((finding) => {
    const found = finding.detector === ESCALATION_DETECTOR ? undefined : reach.get(finding.principal)
    if (!found) return finding
    const steps = found.path.steps.length
    return {
      ...finding,
      severity: raise(finding.severity),
      why: `${finding.why} Raised one level: this identity can become administrator in ${plural(steps, 'step')}, ${pathText(found.path)}.`,
      evidence: { ...finding.evidence, reach: { steps, path: found.path.steps.map((s) => ({ action: s.action, to: s.to, via: s.via })) } },
    }
  })
}
