import { Command } from 'commander'
import { serveOps } from '../src/cli/ops.js'
import { withCommonOptions, withContext, type CommonOptions, type Context } from '../src/cli/context.js'
import { collect, parseInstant, untilStopSignal } from '../src/cli/options.js'
import { ProgressLine } from '../src/cli/progress.js'
import { recordStoredBatch, type StoredSpan } from '../src/clickhouse/stored-batches.js'
import { loadConfig } from '../src/config.js'
import { errorMessage } from '../src/errors.js'
import { commandLogger } from '../src/logger.js'
import { textLine } from '../src/text.js'
import { syncAws, type AccountSync } from './aws-sync.js'
import { backfill } from './backfill.js'
import { configuredFollower } from './sqs.js'
import { createKafka } from './kafka.js'
import { produceFiles } from './produce.js'
import { ingestWorker, kafkaReadiness } from './worker.js'

/** Exit code of a run that finished but rejected some input. */
const EXIT_REJECTED = 2

export function backfillCommand(): Command {
  return withCommonOptions(new Command('backfill'))
    .description('ingest CloudTrail files or directories (recursively), or a trail\'s S3 bucket: S3 log files, JSON arrays, NDJSON, EventBridge envelopes, optionally gzipped')
    .argument('<path...>', 'files, directories, or s3://BUCKET[/PREFIX] (the trail\'s bucket and key prefix)')
    .option('--json', 'print the summary as one JSON object')
    .option('--from <time>', 's3:// only: read the days from this time (ISO 8601)', parseInstant)
    .option('--to <time>', 's3:// only: read the days up to this time (ISO 8601)', parseInstant)
    .option('--account <id>', 's3:// only: this account\'s folder, repeatable (default: all)', collect)
    .option('--region <region>', 's3:// only: this region\'s folder, repeatable (default: all)', collect)
    .addHelpText('after', `\nExit status: 0 when everything was stored or already there, ${EXIT_REJECTED} when some input was rejected (see the rejected_input table), 1 on error.`)
    .action(async (paths: string[], options: CommonOptions & { json?: boolean; from?: number; to?: number; account?: string[]; region?: string[] }) => {
      const summary = await withContext(options, async ({ config, logger, store }) => {
        const progress = new ProgressLine({ of: 'bytes', counting: 'records' })
        try {
          return await backfill(store, paths, {
            maxBatch: config.ingest.maxBatch,
            ...config.ingest.decode,
            logger,
            s3: { filter: { from: options.from, to: options.to, accounts: options.account, regions: options.region } },
            onProgress: (p) => {
              progress.update(p.bytesDone, p.bytesTotal, p.read)
            },
          })
        } finally {
          progress.clear()
        }
      })
      if (options.json) {
        console.log(JSON.stringify(summary))
      } else {
        const rate = Math.round(summary.read / Math.max(summary.seconds, 0.001))
        console.log(
          `${summary.files} files, ${summary.read} records read: ${summary.stored} stored, ${summary.duplicate} duplicate, ${summary.rejected} rejected ` +
            `(${summary.seconds.toFixed(1)} s, ${rate}/s)${summary.skipped ? `; ${String(summary.skipped)} S3 objects read whole before, skipped` : ''}`,
        )
        if (summary.rejected > 0) console.log("rejected input and the reasons: trailwatch query \"SELECT source, location, reason FROM rejected_input ORDER BY rejected_at DESC LIMIT 20\"")
      }
      if (summary.rejected > 0) process.exitCode = EXIT_REJECTED
    })
}

export function ingestCommand(): Command {
  return withCommonOptions(new Command('ingest'))
    .description('consume CloudTrail events from Kafka, or follow SQS queues of S3 notifications, into the store until SIGINT or SIGTERM')
    .option('--sqs <queue-url>', 'follow this SQS queue of a trail bucket\'s notifications instead of Kafka, repeatable', collect)
    .option('--topic <topic>', 'topic to consume, repeatable (default: $TRAILWATCH_KAFKA_TOPICS or cloudtrail)', collect)
    .option('--group <group>', 'consumer group (default: $TRAILWATCH_KAFKA_GROUP or trailwatch-ingest)')
    .addHelpText('after', '\nBrokers, TLS and SASL come from KAFKA_BROKERS, KAFKA_SSL*, KAFKA_SASL_* (see the README).')
    .action(async (options: CommonOptions & { topic?: string[]; group?: string; sqs?: string[] }) => {
      await withContext(options, async (context) => {
        const { config, logger, store } = context
        const ingestLogger = logger.child({ command: 'ingest' })
        // The journal tells a detector service in another process what to look at now; in order, and finished before exit.
        let journalled = Promise.resolve()
        const onStored = (span: StoredSpan) => {
          journalled = journalled
            .then(() => recordStoredBatch(store, span))
            .catch((err: unknown) => {
              ingestLogger.warn({ err: errorMessage(err) }, 'journalling a stored batch failed; its events wait for the scheduled detector runs')
            })
        }
        if (options.sqs) {
          await followQueues(context, options.sqs, onStored)
          await journalled
          return
        }
        const worker = ingestWorker(config, store, ingestLogger, { topics: options.topic, group: options.group, statsIntervalMs: 10_000, onStored })
        // The endpoints first: a port that is taken stops the command before it joins the group.
        const ops = await serveOps(context, { checks: () => Promise.resolve(kafkaReadiness(worker)) })
        try {
          await worker.start()
          await Promise.race([untilStopSignal(), worker.failed])
        } finally {
          try {
            // Leaves the group whatever happened, before the store closes under it.
            await worker.stop()
            await journalled
          } finally {
            await ops.close()
          }
        }
      }, { service: true })
    })
}

export function produceCommand(): Command {
  return withCommonOptions(new Command('produce'))
    .description('publish the records of CloudTrail files to Kafka, one record per message, keyed by principal')
    .argument('<path...>', 'files or directories, as for backfill')
    .option('--topic <topic>', 'topic (default: the first of $TRAILWATCH_KAFKA_TOPICS, or cloudtrail)')
    .option('--json', 'print the summary as one JSON object')
    .action(async (paths: string[], options: { topic?: string; json?: boolean; dataDir?: string }) => {
      const config = loadConfig(undefined, { dataDir: options.dataDir })
      const logger = commandLogger(config, false)
      const progress = new ProgressLine({ of: 'bytes', counting: 'records' })
      const summary = await produceFiles(createKafka(config.kafka, logger), paths, {
        topic: options.topic ?? (config.kafka.topics[0] as string),
        ...config.ingest.decode,
        logger,
        brokers: config.kafka.brokers,
        onProgress: (done, total, sent) => {
          progress.update(done, total, sent)
        },
      }).finally(() => {
        progress.clear()
      })
      console.log(options.json ? JSON.stringify(summary) : `${summary.files} files: ${summary.sent} records sent, ${summary.skipped} skipped (${summary.seconds.toFixed(1)} s)`)
    })
}

/** `ingest --sqs`: each queue followed until a stop signal (or a queue that refuses), the endpoints served meanwhile. */
async function followQueues(context: Context, queues: string[], onStored: (span: StoredSpan) => void): Promise<void> {
  const { config, logger, store } = context
  const follower = configuredFollower(config, store, logger, queues, onStored)
  const ops = await serveOps(context)
  follower.start()
  try {
    await Promise.race([untilStopSignal(), follower.failed])
  } finally {
    await follower.stop()
    await ops.close()
  }
}

function syncLine(result: AccountSync): string {
  if (!result.ok) return `${result.account}: not synced: ${result.error}`
  return `${result.account}: credential report (${String(result.credential_report_users)} users), IAM snapshot (${String(result.users)} users, ${String(result.groups)} groups, ${String(result.roles)} roles, ${String(result.policies)} managed policies)${result.password_policy ? ', password policy' : ', no password policy set'}`
}

/** `trailwatch aws sync`: IAM state pulled from AWS, for one account or the whole organisation. */
export function awsCommand(): Command {
  const sync = withCommonOptions(new Command('sync'))
    .description('pull each account\'s credential report, IAM authorization details and password policy from AWS into the store')
    .option('--json', 'one JSON object per account')
    .addHelpText('after', '\nWith TRAILWATCH_AWS_ORGANIZATION_ROLE, every active account of the organisation, by assuming that role\n(and TRAILWATCH_AWS_EXTERNAL_ID); otherwise the account of the credentials in use.\nExit status: 0 when every account synced, 1 when one did not.')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const results = await withContext(options, ({ config, store }) => syncAws(store, { ...config.aws, now: Date.now }))
      // An error message is AWS's text: one line, its control characters shown.
      for (const result of results) console.log(options.json ? JSON.stringify(result) : textLine(syncLine(result)))
      if (results.some((result) => !result.ok)) process.exitCode = 1
    })
  return new Command('aws').description('reach AWS itself: IAM state, for now').addCommand(sync)
}
