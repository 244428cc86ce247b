import cron from 'node-cron'
import type { Alerter } from '../alerting/alerter.js'
import type { Context } from '../cli/context.js'
import { credentialLimits } from '../credentials/standing.js'
import { errorMessage } from '../errors.js'
import { queueCredentialReport } from './send.js'

/** Queues the credential-age report through the alerter on TRAILWATCH_REPORT_SCHEDULE, until stop(). */
export function scheduleCredentialReport(context: Context, alerter: Alerter): { stop: () => Promise<void> } {
  const { config, store, logger, settings } = context
  const log = logger.child({ module: 'reports' })
  const limits = credentialLimits(settings.detectors)
  const report = cron.schedule(
    config.report.schedule,
    async () => {
      try {
        // The scheduled minute names the report: a second firing in that minute queues nothing new.
        await queueCredentialReport(store, alerter, config.report.to, new Date(Math.floor(Date.now() / 60_000) * 60_000), limits)
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'credential report not queued')
      }
    },
    { timezone: config.report.timezone, noOverlap: true, name: 'credential-report' },
  )
  log.info({ report: `${config.report.schedule} ${config.report.timezone}` }, 'credential report scheduled')
  return {
    stop: async () => {
      await report.stop()
    },
  }
}
