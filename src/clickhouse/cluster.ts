/**
 * The same DDL for a ClickHouse cluster: each statement runs ON CLUSTER, and every MergeTree
 * becomes its Replicated twin, kept in ClickHouse Keeper under the table's own path. The servers
 * define the {shard} and {replica} macros (see deploy/clickhouse/cluster.xml).
 */
export function onCluster(statement: string, cluster: string): string {
  return statement
    .replace(/^(\s*(?:CREATE TABLE|CREATE MATERIALIZED VIEW) IF NOT EXISTS \w+)/, `$1 ON CLUSTER ${cluster}`)
    .replace(/^(\s*(?:ALTER TABLE|DROP TABLE IF EXISTS|DROP VIEW IF EXISTS) \w+)/, `$1 ON CLUSTER ${cluster}`)
    .replace(/ENGINE = (Replacing|Aggregating|Summing)?MergeTree(?:\(([^)]*)\))?/, (_, kind: string | undefined, args: string | undefined) => {
      const replication = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`
      return `ENGINE = Replicated${kind ?? ''}MergeTree(${args ? `${replication}, ${args}` : replication})`
    })
}

/** Reads and writes of `events` spread over every shard: one table name for all of the cluster's events. */
export function distributedEvents(cluster: string, database: string): string {
  return `CREATE TABLE IF NOT EXISTS events_distributed ON CLUSTER ${cluster} AS events
    ENGINE = Distributed(${cluster}, ${database}, events, cityHash64(account_id))`
}
