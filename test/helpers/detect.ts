import { runDetector } from '../../detectors/engine.js'
import type { Detector, Finding } from '../../detectors/define.js'
import type { Store } from '../../src/clickhouse/client.js'
import { principalsFrom, type PrincipalSettings } from '../../src/principals.js'
import type { Settings } from '../../src/settings.js'

/** The operator's settings for a test: detector settings by id, and what is known of principals. */
export function testSettings(detectors: Record<string, unknown> = {}, principals: PrincipalSettings = {}): Settings {
  return { detectors, principals: principalsFrom(principals) }
}

/** Runs a detector over [now − 1 h, now) with its defaults (or the given settings). */
export function detectAt(store: Store, detector: Detector, now: string, settings: Record<string, unknown> = {}): Promise<Finding[]> {
  const end = Date.parse(now)
  return runDetector(store, detector, { now: new Date(end), from: new Date(end - 3_600_000) }, testSettings({ [detector.id]: settings }))
}
