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
