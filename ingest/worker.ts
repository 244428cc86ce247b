import type { Store } from '../src/clickhouse/client.js'
import type { Config } from '../src/config.js'
import type { Logger } from '../src/logger.js'
import { IngestWorker } from './kafka-ingest.js'
import { createKafka } from './kafka.js'

/** A worker of the configured consumer group; `overrides` come from the command line. */
export function ingestWorker(config: Config, store: Store, logger: Logger, overrides: { topics?: string[] | undefined; group?: string | undefined; statsIntervalMs: number; onStored?: (span: { from: Date; to: Date }) => void }): IngestWorker {
  return new IngestWorker(createKafka(config.kafka, logger), store, {
    topics: overrides.topics ?? config.kafka.topics,
    group: overrides.group ?? config.kafka.group,
    deadLetterTopic: config.kafka.deadLetterTopic,
    maxBatch: config.ingest.maxBatch,
    ...config.ingest.decode,
    flushMs: config.ingest.flushMs,
    logger,
    brokers: config.kafka.brokers,
    statsIntervalMs: overrides.statsIntervalMs,
    onStored: overrides.onStored,
  })
}

/** Ready once in the consumer group, inserts passing and commits keeping up (see IngestWorker.readiness). */
export function kafkaReadiness(worker: IngestWorker): Record<string, true | string> {
  return { kafka: worker.readiness() }
}
