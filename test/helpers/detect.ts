import { detectorConfig, runDetector } from '../../detectors/engine.js'
import type { Detector, Finding } from '../../detectors/define.js'
import type { Store } from '../../src/clickhouse/client.js'

/** Runs a detector over [now − 1 h, now) with its defaults (or the given settings). */
export function detectAt(store: Store, detector: Detector, now: string, settings: Record<string, unknown> = {}): Promise<Finding[]> {
  const end = Date.parse(now)
  return runDetector(store, detector, { now: new Date(end), from: new Date(end - 3_600_000) }, detectorConfig(detector, { [detector.id]: settings }))
}
