import type { Migration } from './migration.js'

/**
 * How far a replay of history (`detect --from … --to …`) got with each detector: the same replay run
 * again after a stop goes on from there. The latest row for a range and detector is its progress.
 */
export const replayProgress: Migration = {
  version: 15,
  name: 'replay progress',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS replay_progress (
      range_from DateTime64(3, 'UTC'),
      range_to DateTime64(3, 'UTC'),
      detector String,
      through DateTime64(3, 'UTC'),
      written_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(written_at) ORDER BY (range_from, range_to, detector)`,
  ],
}
