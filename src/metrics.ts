import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Every metric this process exposes on /metrics. Events per second is rate(trailwatch_events_stored_total). */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'trailwatch_process_' })

export const metrics = {
  eventsStored: new Counter({ name: 'trailwatch_events_stored_total', help: 'Events written to the store', registers: [registry] }),
  eventsDuplicate: new Counter({ name: 'trailwatch_events_duplicate_total', help: 'Events skipped as already stored', registers: [registry] }),
  eventsRejected: new Counter({ name: 'trailwatch_events_rejected_total', help: 'Input that could not become an event (kept in rejected_input)', registers: [registry] }),
  insertSeconds: new Histogram({
    name: 'trailwatch_insert_duration_seconds',
    help: 'Time to insert one batch of events',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  kafkaMessages: new Counter({ name: 'trailwatch_kafka_messages_total', help: 'Kafka messages consumed', labelNames: ['topic'], registers: [registry] }),
  kafkaLag: new Gauge({ name: 'trailwatch_kafka_consumer_lag', help: 'Messages between the group\'s committed offset and the end of the partition, measured every few seconds', labelNames: ['topic', 'partition'], registers: [registry] }),
  inboxFiles: new Counter({ name: 'trailwatch_inbox_files_total', help: 'Files ingested from the inbox directory', registers: [registry] }),
  guardDutyFindings: new Counter({ name: 'trailwatch_guardduty_findings_total', help: 'GuardDuty findings (and their updates) stored', registers: [registry] }),
  sqsMessages: new Counter({
    name: 'trailwatch_sqs_messages_total',
    help: 'SQS messages handled: objects (announced objects read), value (a finding or record sent as the message itself), nothing (a test event or a removal), or failed (left for redelivery)',
    labelNames: ['outcome'],
    registers: [registry],
  }),
  detectorSeconds: new Histogram({
    name: 'trailwatch_detector_duration_seconds',
    help: 'Time of one scheduled detector run',
    labelNames: ['detector'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  detectorFindings: new Counter({ name: 'trailwatch_detector_findings_total', help: 'Findings of scheduled detector runs', labelNames: ['detector', 'severity'], registers: [registry] }),
  detectorFailures: new Counter({ name: 'trailwatch_detector_failures_total', help: 'Scheduled detector runs that failed (retried next run)', labelNames: ['detector'], registers: [registry] }),
  notifications: new Counter({
    name: 'trailwatch_notifications_total',
    help: 'Delivery attempts by outcome: sent, retrying (temporary failure) or failed (given up)',
    labelNames: ['kind', 'status'],
    registers: [registry],
  }),
}
