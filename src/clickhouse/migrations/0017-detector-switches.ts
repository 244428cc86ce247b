import type { Migration } from './migration.js'

/**
 * Detectors and rules turned off or on again by a person (the console, `trailwatch rules disable`),
 * each with who, why and when: an append-only log whose latest row per detector is its state.
 */
export const detectorSwitches: Migration = {
  version: 17,
  name: 'detector switches',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS detector_switches (
      detector String,
      enabled Bool,
      actor String,
      reason String,
      at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY (detector, at)`,
  ],
}
