import cron from 'node-cron'
import type { Alerter } from '../alerting/alerter.js'
import type { AlertingContext } from '../alerting/service.js'
import { credentialLimits } from '../credentials/standing.js'
import { errorMessage } from '../errors.js'
import { postureConfig } from '../iam/assessment.js'
import { queueCredentialReport, queuePostureReport } from './send.js'
import { cronLogger, moduleLogger } from '../logger.js'

/** Queues the credential-age and IAM posture reports through the alerter on TRAILWATCH_REPORT_SCHEDULE, until stop(). */
export function scheduleWeeklyReports(context: AlertingContext, alerter: Alerter): { stop: () => Promise<void> } {
  const { config, store, logger, settings } = context
  const log = moduleLogger(logger, 'reports')
  const limits = credentialLimits(settings.detectors)
  const posture = postureConfig(settings.detectors)
  const report = cron.schedule(
    config.report.schedule,
    async () => {
      // The scheduled minute names the reports: a second firing in that minute queues nothing new.
      const at = new Date(Math.floor(Date.now() / 60_000) * 60_000)
      try {
        await queueCredentialReport(store, alerter, config.report.to, at, limits)
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'credential report not queued')
      }
      try {
        await queuePostureReport(store, alerter, config.report.to, at, posture)
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'IAM posture report not queued')
      }
    },
    { timezone: config.report.timezone, noOverlap: true, name: 'weekly-reports', logger: cronLogger(logger) },
  )
  log.info({ report: `${config.report.schedule} ${config.report.timezone}` }, 'credential and IAM posture reports scheduled')
  return {
    stop: async () => {
      await report.stop()
    },
  }
}
