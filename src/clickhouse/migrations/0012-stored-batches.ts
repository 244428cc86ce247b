import type { Migration } from './migration.js'

/**
 * One row per batch of events a Kafka ingest service stored, with the span of their event times: a
 * detector service in another process runs its immediate detectors over it within seconds.
 */
export const storedBatches: Migration = {
  version: 12,
  name: 'stored batches journal',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS stored_batches (
      stored_at DateTime64(3, 'UTC') DEFAULT now64(3),
      events_from DateTime64(3, 'UTC'),
      events_to DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY stored_at
    TTL toDateTime(stored_at) + INTERVAL 7 DAY`,
  ],
}
