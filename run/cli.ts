import { rm } from 'node:fs/promises'
import path from 'node:path'
import { Command } from 'commander'
import { z } from 'zod'
import { backtestOf } from '../detectors/backtest.js'
import { configuredRules, skippedRuleLine } from '../detectors/rule-files.js'
import type { Detector } from '../detectors/define.js'
import { findDetectors } from '../detectors/registry.js'
import { DetectorScheduler } from '../detectors/scheduler.js'
import { InboxWatcher } from '../ingest/inbox.js'
import { KafkaIngestService } from '../ingest/kafka-service.js'
import { scheduleAwsSync } from '../ingest/aws-sync.js'
import { configuredFollower } from '../ingest/sqs.js'
import { ingestWorker } from '../ingest/worker.js'
import { startAlerting } from '../src/alerting/service.js'
import { withCommonOptions, withContext, type CommonOptions, type Context } from '../src/cli/context.js'
import { serveOps } from '../src/cli/ops.js'
import { announceRunningProcess, newToken, runFile } from '../src/cli/running.js'
import { parseInstant, untilStopSignal } from '../src/cli/options.js'
import { selectRows } from '../src/clickhouse/rows.js'
import { scheduleWeeklyReports } from '../src/reports/schedule.js'
import { runDemo } from './demo.js'
import { moduleLogger } from '../src/logger.js'
import { consoleSurface } from '../src/console/console.js'
import { metrics } from '../src/metrics.js'
import type { Surface } from '../src/ops/server.js'

function inbox(context: Context): InboxWatcher {
  const { config, store, logger } = context
  return new InboxWatcher(store, config.inboxDir, { maxBatch: config.ingest.maxBatch, ...config.ingest.decode, logger })
}

async function storeIsEmpty(context: Context): Promise<boolean> {
  const [row] = await selectRows(context.store, 'SELECT count() AS n FROM events', {}, z.object({ n: z.coerce.number() }))
  return (row?.n ?? 0) === 0
}

const print = (line: string): void => {
  console.log(line)
}

export function demoCommand(): Command {
  return withCommonOptions(new Command('demo'))
    .description('load three weeks of a made-up company with incidents, run every detector and the alerter, and show what they found')
    .option('--at <time>', 'end the demo at this time instead of now (ISO 8601)', parseInstant)
    .action(async (options: CommonOptions & { at?: number }) => {
      await withContext(options, async (context) => {
        await runDemo(context, inbox(context), new Date(options.at ?? Date.now()), print)
      })
    })
}

/** Failed detector runs since this process started, from the metric that counts them. */
async function detectorFailures(): Promise<Map<string, number>> {
  const { values } = await metrics.detectorFailures.get()
  return new Map(values.map((v) => [String(v.labels.detector), v.value]))
}

/** The web console over this process's store, for these detectors, naming the rule files that could not be loaded. */
function consoleOf(context: Context, detectors: Detector[], skippedRules: string[]): Surface {
  const { store, config, settings, logger } = context
  return consoleSurface({
    store,
    settings: config.console,
    contain: config.contain,
    host: config.http.host,
    aliases: config.alerting.accountAliases,
    principals: settings.principals,
    detectors: detectors.map(({ id, title, schedule, attack }) => ({ id, title, schedule, attack })),
    history: (id, range) => backtestOf(store, detectors, id, range, settings),
    skippedRules,
    failures: detectorFailures,
    logger: moduleLogger(logger, 'console'),
  })
}

/**
 * The context with emails linking to the console at `servedAt` when no TRAILWATCH_CONSOLE_URL is
 * set: a console listening on every address (0.0.0.0, ::) has no one name to link to.
 */
function consoleLinked(context: Context, servedAt: string): Context {
  const { config } = context
  if (config.alerting.consoleUrl || ['0.0.0.0', '::'].includes(config.http.host)) return context
  return { ...context, config: { ...config, alerting: { ...config.alerting, consoleUrl: servedAt } } }
}

/** The console alone, for a deployment whose ingest, detectors and alerter run as services of their own. */
export function consoleCommand(): Command {
  return withCommonOptions(new Command('console'))
    .description('serve the web console (and /healthz, /readyz, /metrics) on TRAILWATCH_HTTP_HOST:TRAILWATCH_HTTP_PORT until SIGINT or SIGTERM')
    .action(async (options: CommonOptions) => {
      await withContext(
        options,
        async (context) => {
          const { config, settings, logger } = context
          const rules = await configuredRules(context.store.client, config.rulesDir, logger)
          const ops = await serveOps(context, { surface: consoleOf(context, findDetectors(undefined, rules.detectors, settings), rules.skipped.map(skippedRuleLine)) })
          print(`the console: ${ops.url}/`)
          await untilStopSignal()
          await ops.close()
        },
        { service: true },
      )
    })
}

export function runCommand(): Command {
  return withCommonOptions(new Command('run'))
    .description('everything in one process until SIGINT or SIGTERM: inbox and Kafka ingest, detectors, alerter, reports, /metrics')
    .addHelpText(
      'after',
      `
With nothing configured: the embedded store in ./data, CloudTrail files dropped in ./data/inbox are
ingested once each, Kafka is read when KAFKA_BROKERS is set, and mail goes to ./data/outbox.
On an empty store the demo organisation is loaded first (TRAILWATCH_DEMO=false to start empty).`,
    )
    .action(async (options: CommonOptions) => {
      await withContext(
        options,
        async (context) => {
          const { config, settings, store, logger } = context
          const files = inbox(context)
          // Each batch Kafka stores goes through the immediate detectors at once (the scheduler exists by the time Kafka starts).
          const kafka = config.kafka.brokers
            ? new KafkaIngestService(() => ingestWorker(config, store, logger, { statsIntervalMs: 60_000, onStored: (span) => void scheduler.detectStored(span) }), moduleLogger(logger, 'ingest.kafka'))
            : undefined
          const queueFollower = config.ingest.sqs.queues.length ? configuredFollower(config, store, logger, config.ingest.sqs.queues, (span) => void scheduler.detectStored(span)) : undefined
          const token = newToken()
          const rules = await configuredRules(store.client, config.rulesDir, logger)
          const detectors = findDetectors(undefined, rules.detectors, settings)
          const ops = await serveOps(context, {
            checks: () => Promise.resolve({ ...kafka?.readiness(), inbox: files.readiness() }),
            shareStore: { token },
            surface: consoleOf(context, detectors, rules.skipped.map(skippedRuleLine)),
          })
          // Emails link to the console served here, unless TRAILWATCH_CONSOLE_URL says where people reach it.
          const linked = consoleLinked(context, ops.url)
          try {
            if (config.demo && (await storeIsEmpty(context))) {
              await runDemo(linked, files, new Date(), print)
              print('')
            }
          } catch (err) {
            await ops.close()
            throw err
          }
          let alerting: { stop: () => Promise<void>; wake: () => void } | undefined
          let awsSync: { stop: () => Promise<void> } | undefined
          // New findings go out at the alerter's next cycle, which they start.
          const scheduler = new DetectorScheduler(store, detectors, { settings, logger, onFindings: () => alerting?.wake() })
          // A file of old events dropped in the inbox is history the schedule has passed: look at it as detect --from would.
          files.onStored((span) => void scheduler.catchUp(span))
          try {
            await announceRunningProcess(config.dataDir, ops.url, token)
            await files.start()
            kafka?.start()
            queueFollower?.start()
            scheduler.start()
            alerting = startAlerting(linked, [scheduleWeeklyReports])
            const { syncSchedule } = config.aws
            if (syncSchedule) awsSync = scheduleAwsSync(config, store, logger, syncSchedule)
            print(`trailwatch is running (pid ${String(process.pid)}); Ctrl-C stops it.`)
            print(`  drop CloudTrail files into ${path.relative(process.cwd(), config.inboxDir) || '.'}${kafka ? `; reading Kafka topics ${config.kafka.topics.join(', ')}` : ''}${queueFollower ? `; following ${String(config.ingest.sqs.queues.length)} SQS queues` : ''}`)
            print(`  ${config.alerting.smtpUrl ? 'mail goes out over SMTP' : `mail goes to ${path.relative(process.cwd(), path.join(config.dataDir, 'outbox'))}`}`)
            print(`  the console: ${ops.url}/`)
            print(`  ${ops.url}/metrics, /healthz, /readyz; trailwatch status in another terminal`)
            await Promise.race([untilStopSignal(), kafka?.failed ?? new Promise<never>(() => undefined), queueFollower?.failed ?? new Promise<never>(() => undefined)])
          } finally {
            // Schedules first, then consumers (their writers flush), then the endpoints.
            await scheduler.stop()
            await alerting?.stop()
            await awsSync?.stop()
            await files.stop()
            await kafka?.stop()
            await queueFollower?.stop()
            await ops.close()
            await rm(runFile(config.dataDir), { force: true })
          }
          print(`stopped the detector schedules, the alerter and reports, the inbox${kafka ? ', Kafka ingest' : ''} and the endpoints`)
        },
        { service: true },
      )
    })
}
