import type { Migration } from './migration.js'

/** The named address lists (Tor's exits, the operator's own) each event's source was on when it was stored. */
export const addressLists: Migration = {
  version: 16,
  name: 'address lists of the source',
  statements: () => ['ALTER TABLE events ADD COLUMN IF NOT EXISTS source_lists Array(LowCardinality(String)) AFTER source_as_org'],
}
