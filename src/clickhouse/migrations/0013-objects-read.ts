import type { Migration } from './migration.js'

/**
 * One row per S3 object whose records are all in the store, by its bucket, key and ETag: a backfill
 * run again, or resumed after a stop, skips them; an object rewritten under the same key has a new
 * ETag and is read again.
 */
export const objectsRead: Migration = {
  version: 13,
  name: 'S3 objects read',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS objects_read (
      source String,
      etag String,
      size UInt64,
      read_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(read_at) ORDER BY (source, etag)`,
  ],
}
