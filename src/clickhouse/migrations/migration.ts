export interface MigrationContext {
  retentionDays: number
  /** A ClickHouse cluster: DDL runs ON CLUSTER with replicated tables, plus a distributed events table. */
  cluster?: { name: string; database: string } | undefined
  /**
   * Look for tables of the current schema that are missing, and make them again. Always for the
   * embedded store; on a server only when asked (`trailwatch migrate`), since a service's user may
   * see only the tables it was granted.
   */
  repair?: boolean
}

/** One step of the schema, as each file in this folder declares it. */
export interface Migration {
  version: number
  name: string
  statements: (context: MigrationContext) => string[]
}

/**
 * A table kept from the events: a materialized view (the table's name and `_mv`) adds what new
 * events bring, and since views see only new rows, the events already stored fill it once.
 */
export function keptFromEvents(table: string, definition: string, select: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table} ${definition}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${table}_mv TO ${table} AS ${select}`,
    `INSERT INTO ${table} ${select}`,
  ]
}
