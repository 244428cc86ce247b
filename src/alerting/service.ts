import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Alerter } from './alerter.js'
import { outboxTransport, smtpTransport, type Delivery, type MailTransport } from './mailer.js'
import type { Notification } from './notifications.js'
import { loadAlertingSettings } from './settings.js'
import type { Store } from '../clickhouse/client.js'
import type { Config } from '../config.js'
import { moduleLogger, type Logger } from '../logger.js'
import type { Settings } from '../settings.js'

/** What the alerter and its companions work with: a command's context gives it. */
export interface AlertingContext {
  config: Config
  settings: Settings
  logger: Logger
  store: Store
}

/** The alerter over the configured transport: SMTP_URL, or .eml files in DATA_DIR/outbox. */
export function openAlerter(context: AlertingContext, onDelivered?: (notification: Notification, delivery: Delivery) => void): { alerter: Alerter; transport: MailTransport } {
  const { config, store, logger, settings: { principals } } = context
  const { smtpUrl, smtpCaFile } = config.alerting
  const transport = smtpUrl ? smtpTransport(smtpUrl, { ca: smtpCaFile ? readFileSync(smtpCaFile) : undefined }) : outboxTransport(path.join(config.dataDir, 'outbox'))
  const alerting = loadAlertingSettings(config)
  if (alerting.routes.length === 0) moduleLogger(logger, 'alerting').warn('no recipients: set TRAILWATCH_ALERT_TO or routes in TRAILWATCH_ALERTING_FILE; alerts are logged as unrouted')
  const alerter = new Alerter({ store, settings: alerting, principals, transport, logger: moduleLogger(logger, 'alerting'), onDelivered })
  return { alerter, transport }
}

/** Something that runs beside the alerter and queues its messages through it (the credential report). */
export type AlongsideAlerter = (context: AlertingContext, alerter: Alerter) => { stop: () => Promise<void> }

/** The alerter cycling on its poll interval (and when woken), and what runs alongside it, until stop(). */
export function startAlerting(context: AlertingContext, alongside: AlongsideAlerter[] = []): { stop: () => Promise<void>; wake: () => void } {
  const log = moduleLogger(context.logger, 'alerting')
  const { alerter, transport } = openAlerter(context, (n, d) => {
    log.info({ notification: n.notification_id, kind: n.kind, delivery: d.response }, 'delivered')
  })
  const companions = alongside.map((start) => start(context, alerter))
  alerter.start()
  log.info({ transport: transport.description }, 'alerter running')
  return {
    stop: async () => {
      for (const companion of companions) await companion.stop()
      await alerter.stop()
      transport.close()
    },
    wake: () => {
      alerter.wake()
    },
  }
}
