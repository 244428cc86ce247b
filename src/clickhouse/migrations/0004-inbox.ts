import type { Migration } from './migration.js'

/** The inbox's ledger: a file dropped in the inbox is ingested once, known by path, size and mtime. */
export const inbox: Migration = {
  version: 4,
  name: 'inbox ledger',
  statements: () => [
    `CREATE TABLE IF NOT EXISTS inbox_files (
      path String,
      size UInt64,
      modified_at DateTime64(3, 'UTC'),
      ingested_at DateTime64(3, 'UTC'),
      records UInt64,
      stored UInt64,
      rejected UInt64
    ) ENGINE = ReplacingMergeTree(ingested_at) ORDER BY (path, size, modified_at)`,
  ],
}
