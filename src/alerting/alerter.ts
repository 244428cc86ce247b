import type { Store } from '../clickhouse/client.js'
import { DeliveryError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { metrics } from '../metrics.js'
import type { Principals } from '../principals.js'
import { knownWorkingTime } from '../people/working-time.js'
import { atLeast, type Severity } from '../severity.js'
import { correlateIncidents, incidentOfAlerts, incidentsById, incidentsChangedSince, summariseIncident, type Incident } from '../incidents/incidents.js'
import { triggerEvents } from '../incidents/triggers.js'
import { alertsById, occurrenceKey, unroutedAlerts, type StoredAlert } from '../alerts/table.js'
import { postureFindings } from '../alerts/posture.js'
import { composeContainmentEmail, composeDigest, composePostureEmail, type DigestGroup } from './compose.js'
import { containAutomatically } from './auto-contain.js'
import { plural, type Composed } from '../text.js'
import { composeIncident, incidentLink, incidentSubject, type IncidentContext } from './incident-email.js'
import { containmentNews, incidentNews, incidentStateItems, statusChange } from './incident-updates.js'
import { buildMessage, type Attachment, type Delivery, type MailTransport } from './mailer.js'
import {
  createNotifications,
  dueNotifications,
  existingNotificationIds,
  incidentThreads,
  messageBytes,
  notificationId,
  recordStates,
  type Notification,
  type NotificationKind,
} from './notifications.js'
import { describeWindow, historySpanMs, routeAlerts, routePosture, type RoutingDecision } from './policy.js'
import { outputBody, postOutput, type Output, type OutputUpdate } from './outputs.js'
import { immediateRoutesSince, queuedDigestEntries, recordRoutes, toldAlerts, type Route } from './routes.js'
import { recipientsFor, type AlertingSettings } from './settings.js'
import { listSuppressions, matchingSuppression } from './suppressions.js'

const HOUR = 3_600_000
/** Messages marked `sending` and read from the store at once. */
const DELIVERY_BATCH = 50
/** How long an alert may wait for the detection that stored it to put it in an incident. */
const UNCORRELATED_WAIT_MS = 60_000

export interface CycleSummary {
  immediate: number
  digest: number
  suppressed: number
  unrouted: number
  sent: Notification[]
  retrying: Notification[]
  failed: Notification[]
}

export interface AlerterOptions {
  store: Store
  settings: AlertingSettings
  /** Whose local time an email shows. */
  principals: Principals
  transport: MailTransport
  logger: Logger
  /** Called after each message is handed over (the CLI prints a line per outbox file). */
  onDelivered?: (notification: Notification, delivery: Delivery) => void
}

/**
 * Turns alerts into email. Each cycle routes new alert occurrences (suppression, routes, dedup
 * window, rate limit), gathers due digests, then delivers every due message. Each step writes its
 * decisions before the next reads them, so a cycle cut short anywhere is finished by the next.
 */
export class Alerter {
  private readonly store: Store
  private readonly settings: AlertingSettings
  private readonly principals: Principals
  private readonly transport: MailTransport
  private readonly logger: Logger
  private readonly onDelivered: AlerterOptions['onDelivered']
  private timer: NodeJS.Timeout | undefined
  private cycle: Promise<unknown> = Promise.resolve()
  private cycling = false
  /** Woken during a cycle: the next one starts as soon as it ends. */
  private wokenDuringCycle = false
  private tick: (() => void) | undefined
  private stopped = false

  constructor(options: AlerterOptions) {
    this.store = options.store
    this.settings = options.settings
    this.principals = options.principals
    this.transport = options.transport
    this.logger = options.logger
    this.onDelivered = options.onDelivered
  }

  async runOnce(now: Date): Promise<CycleSummary> {
    const started = performance.now()
    const routed = await this.route(now)
    const routedAt = performance.now()
    await this.settledUpdates(now)
    await this.gatherDigests(now)
    const gatheredAt = performance.now()
    const delivered = await this.deliverDue(now)
    // Where the time from an alert to its email goes, cycle by cycle.
    const ms = (from: number, to: number): number => Math.round(to - from)
    this.logger.debug({ routeMs: ms(started, routedAt), gatherMs: ms(routedAt, gatheredAt), deliverMs: ms(gatheredAt, performance.now()), sent: delivered.sent.length }, 'alerter cycle timed')
    return { ...routed, ...delivered }
  }

  /** Cycles every pollMs on the wall clock until stop(), and at once when woken. */
  start(): void {
    const tick = (): void => {
      this.cycling = true
      this.wokenDuringCycle = false
      this.cycle = this.runOnce(new Date())
        .then((summary) => {
          if (summary.sent.length || summary.retrying.length || summary.failed.length) {
            this.logger.info({ sent: summary.sent.length, retrying: summary.retrying.length, failed: summary.failed.length }, 'alerter cycle')
          }
        })
        .catch((err: unknown) => {
          this.logger.error({ err: errorMessage(err) }, 'alerter cycle failed; trying again next cycle')
        })
        .finally(() => {
          this.cycling = false
          if (!this.stopped) this.timer = setTimeout(tick, this.wokenDuringCycle ? 0 : this.settings.pollMs)
        })
    }
    this.tick = tick
    tick()
  }

  /** New alerts are stored: cycle now rather than at the next poll (after the current cycle, if one runs). */
  wake(): void {
    if (this.stopped || !this.tick) return
    if (this.cycling) {
      this.wokenDuringCycle = true
      return
    }
    clearTimeout(this.timer)
    this.tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.cycle
  }

  /** Creates a message outside the alert flow (the credential report) and leaves it due for delivery. */
  async enqueue(kind: NotificationKind, id: string, recipient: string, composed: Composed, now: Date, attachments: Attachment[] = []): Promise<boolean> {
    if ((await existingNotificationIds(this.store, [id])).size > 0) return false
    await createNotifications(this.store, [await this.prepare(kind, id, recipient, composed, now, [], attachments)])
    return true
  }

  private async prepare(kind: NotificationKind, id: string, recipient: string, composed: Composed, now: Date, items: string[], attachments: Attachment[] = [], thread: string[] = []): Promise<{ notification: Notification; raw: Buffer }> {
    const raw = await buildMessage({ messageId: `<${id}@trailwatch>`, from: this.settings.from, to: recipient, ...composed, date: now, attachments, inReplyTo: thread.at(-1), references: thread.length ? thread : undefined })
    const at = now.toISOString()
    const notification: Notification = {
      notification_id: id,
      kind,
      recipient,
      subject: composed.subject,
      items,
      status: 'pending',
      attempts: 0,
      next_attempt_at: at,
      message_id: `<${id}@trailwatch>`,
      error: '',
      created_at: at,
      updated_at: at,
      version: 1,
    }
    return { notification, raw }
  }

  /** Routes each new alert occurrence: threats as part of their incidents, posture findings apart. */
  private async route(now: Date): Promise<RoutingDecision['counts']> {
    const unrouted = await unroutedAlerts(this.store, now)
    const posture = await this.routePosture(unrouted.filter((a) => a.kind === 'posture'), now)
    const threats = await this.routeThreats(unrouted.filter((a) => a.kind === 'threat'), now)
    return { immediate: threats.immediate, digest: posture.digest + threats.digest, suppressed: posture.suppressed + threats.suppressed, unrouted: posture.unrouted + threats.unrouted }
  }

  /** Posture findings are told once, in a posture email gathered with the digests, and never join incidents. */
  private async routePosture(alerts: StoredAlert[], now: Date): Promise<RoutingDecision['counts']> {
    if (alerts.length === 0) return { immediate: 0, digest: 0, suppressed: 0, unrouted: 0 }
    const ids = alerts.map((a) => a.alert_id)
    const [rules, findings, told] = await Promise.all([listSuppressions(this.store, now), postureFindings(this.store, now, ids), toldAlerts(this.store, ids)])
    const { routes, counts } = routePosture(this.settings, { alerts, rules, findings: new Map(findings.map((f) => [f.alert.alert_id, f])), told, now })
    await recordRoutes(this.store, routes)
    return counts
  }

  /**
   * Routes each threat occurrence by the policy (recording findings put them into incidents), then writes one
   * email per incident and recipient: a new thread for a new incident, a reply when it grew, nothing
   * when it did not. The outputs get the same updates. Messages first, routes last.
   */
  private async routeThreats(unrouted: StoredAlert[], now: Date): Promise<RoutingDecision['counts']> {
    const { alerts, incidentOf } = await this.alertsInIncidents(unrouted, now)
    if (alerts.length === 0) return { immediate: 0, digest: 0, suppressed: 0, unrouted: 0 }
    const [rules, sent] = await Promise.all([listSuppressions(this.store, now), immediateRoutesSince(this.store, new Date(now.getTime() - historySpanMs(this.settings, alerts)), now)])
    // What a person is told about an incident leaves out the alerts a rule silences.
    const incidents = new Map(
      [...(await incidentsById(this.store, [...new Set(incidentOf.values())]))].flatMap(([id, incident]) => {
        const members = incident.members.filter((m) => !matchingSuppression(rules, m.alert))
        return members.length ? [[id, summariseIncident(id, members, incident.actions)] as const] : []
      }),
    )
    const automatic = await containAutomatically(this.store, this.settings.contain, alerts.filter((a) => !matchingSuppression(rules, a)), incidentOf, this.logger, now)
    const incidentSeverity = new Map([...incidents].map(([id, incident]) => [id, incident.severity]))
    const { routes, immediate, counts } = routeAlerts(this.settings, { alerts, rules, sent, now, incidentOf, incidentSeverity })
    const threads = await incidentThreads(this.store, [...incidents.keys()])

    const emails = new Map<string, { recipient: string; incident: Incident; items: string[] }>()
    for (const { alert, recipient } of immediate) {
      const incident = incidents.get(incidentOf.get(alert.alert_id) ?? '')
      if (!incident) continue
      const key = `${recipient}|${incident.id}`
      const email = emails.get(key) ?? { recipient, incident, items: [] }
      email.items.push(occurrenceKey(alert.alert_id, alert.last_seen))
      emails.set(key, email)
    }
    const created = []
    // One read of an incident's calls, however many recipients its email goes to.
    const contexts = new Map<string, Promise<IncidentContext>>()
    for (const [key, { recipient, incident, items }] of emails) {
      const thread = threads.get(key) ?? []
      const last = thread.at(-1)
      const news = last ? incidentNews(last.items, incident) : []
      // Quiet for longer than the dedup window, then active again: that is news too.
      const quietMs = last ? now.getTime() - Date.parse(last.created_at) : 0
      if (last && news.length === 0 && quietMs >= Math.max(...incident.members.map((m) => this.settings.dedupWindowMs(m.alert.detector)))) {
        news.push(`active again: ${plural(items.length, 'new alert occurrence')} since the last email, ${describeWindow(quietMs)} ago`)
      }
      if (last && news.length === 0) {
        for (const route of routes.filter((r) => r.recipient === recipient && r.disposition === 'immediate' && incidentOf.get(r.alert_id) === incident.id)) {
          route.disposition = 'incident'
          route.reason = `joined incident ${incident.id}, emailed already; nothing new`
          counts.immediate--
        }
        continue
      }
      const context = contexts.get(incident.id) ?? this.incidentContext(incident)
      contexts.set(incident.id, context)
      const composed = composeIncident(incident, { ...(await context), news })
      const id = notificationId('alert', incident.id, recipient, ...items.sort())
      created.push(await this.prepare('alert', id, recipient, composed, now, [...incidentStateItems(incident), ...items], [], thread.map((n) => n.message_id)))
    }
    for (const result of automatic) {
      const composed = composeContainmentEmail(result, this.settings.consoleUrl)
      for (const recipient of recipientsFor(this.settings.routes, result.alert)) {
        created.push(await this.prepare('alert', notificationId('alert', 'contained', result.incident, result.target, recipient), recipient, composed, now, []))
      }
    }
    created.push(...(this.outputUpdates(routes, incidentOf, incidents, threads, now)))
    // A crash after the messages were written but before the routes: the messages exist, keep them.
    const existing = await existingNotificationIds(this.store, created.map((c) => c.notification.notification_id))
    await createNotifications(this.store, created.filter((c) => !existing.has(c.notification.notification_id)))
    await recordRoutes(this.store, routes)
    this.logger.debug(counts, 'routed alerts')
    return counts
  }

  /**
   * The unrouted threat alerts, each told as part of its incident. One stored a moment ago whose incident is
   * not recorded yet (detection stores alerts, then correlates) waits for the next cycle rather than
   * being routed to no email; one left out of every incident for longer (its correlation failed) is put in one here.
   */
  private async alertsInIncidents(unrouted: StoredAlert[], now: Date): Promise<{ alerts: StoredAlert[]; incidentOf: Map<string, string> }> {
    let incidentOf = await incidentOfAlerts(this.store, unrouted.map((a) => a.alert_id))
    if (unrouted.some((a) => !incidentOf.has(a.alert_id) && now.getTime() - Date.parse(a.detected_at) >= UNCORRELATED_WAIT_MS)) {
      await correlateIncidents(this.store, now)
      incidentOf = await incidentOfAlerts(this.store, unrouted.map((a) => a.alert_id))
    }
    return { alerts: unrouted.filter((a) => incidentOf.has(a.alert_id)), incidentOf }
  }

  private async incidentContext(incident: Incident): Promise<IncidentContext> {
    // The person's clock as the off-hours detector knew it when the incident began, read beside the calls: this is the path to the email.
    const [triggers, working] = await Promise.all([
      triggerEvents(this.store, incident.members.map((m) => m.alert), 50),
      knownWorkingTime(this.store, this.principals, incident.principals[0] ?? '', new Date(Date.parse(incident.first_seen))),
    ])
    const timeZone = working.source === 'none' ? undefined : working.zone
    return { triggers, timeZone, timeZoneInferred: working.source === 'inferred', aliases: this.settings.aliases, consoleUrl: this.settings.consoleUrl }
  }

  /** One update per output for each incident that is new or grew, among the incidents of alerts nobody suppressed. */
  private outputUpdates(routes: Route[], incidentOf: Map<string, string>, incidents: Map<string, Incident>, threads: Map<string, Notification[]>, now: Date): { notification: Notification; raw: Buffer }[] {
    const touched = new Set(routes.filter((r) => r.disposition !== 'suppressed').map((r) => incidentOf.get(r.alert_id) ?? ''))
    const updates = []
    for (const output of this.settings.outputs) {
      for (const id of touched) {
        const incident = incidents.get(id)
        if (!incident || !atLeast(incident.severity, output.minSeverity)) continue
        const thread = threads.get(`${output.name}|${id}`) ?? []
        const news = thread.length ? incidentNews(thread.at(-1)?.items ?? [], incident) : []
        if (thread.length && news.length === 0) continue
        updates.push(this.outputUpdate(output, incident, news, undefined, now))
      }
    }
    return updates
  }

  /**
   * Tells each output that was told of an incident when someone acknowledged, resolved or contained
   * it since: PagerDuty stops paging, the channel sees who took it and what was contained. Changes
   * older than a week are not sent late.
   */
  private async settledUpdates(now: Date): Promise<void> {
    if (this.settings.outputs.length === 0) return
    const ids = await incidentsChangedSince(this.store, new Date(now.getTime() - 7 * 24 * HOUR))
    if (ids.length === 0) return
    const [incidents, threads] = await Promise.all([incidentsById(this.store, ids), incidentThreads(this.store, ids)])
    const updates = []
    for (const output of this.settings.outputs) {
      for (const incident of incidents.values()) {
        const told = threads.get(`${output.name}|${incident.id}`)?.at(-1)?.items
        if (!told) continue
        const change = statusChange(told, incident)
        const contained = containmentNews(told, incident)
        if (change || contained.length) updates.push(this.outputUpdate(output, incident, contained, change, now))
      }
    }
    const existing = await existingNotificationIds(this.store, updates.map((u) => u.notification.notification_id))
    await createNotifications(this.store, updates.filter((u) => !existing.has(u.notification.notification_id)))
  }

  private outputUpdate(output: Output, incident: Incident, news: string[], change: OutputUpdate['change'], now: Date): { notification: Notification; raw: Buffer } {
    const state = incidentStateItems(incident)
    const deliveryId = notificationId(output.name, incident.id, ...state)
    const link = incidentLink(this.settings.consoleUrl, incident.id)
    const at = now.toISOString()
    const subject = change ? `[trailwatch] ${change}: ${incident.title}` : incidentSubject(incident, this.settings.aliases, news)
    return {
      notification: { notification_id: deliveryId, kind: output.name, recipient: output.name, subject, items: state, status: 'pending', attempts: 0, next_attempt_at: at, message_id: deliveryId, error: '', created_at: at, updated_at: at, version: 1 },
      raw: Buffer.from(outputBody(output, { deliveryId, incident, news, change, link })),
    }
  }

  private async gatherDigests(now: Date): Promise<void> {
    const due = (await queuedDigestEntries(this.store)).filter((entry) => Date.parse(entry.due_at) <= now.getTime())
    if (due.length === 0) return
    const alerts = await alertsById(this.store, [...new Set(due.map((e) => e.alert_id))])
    const created = []
    for (const recipient of [...new Set(due.map((e) => e.recipient))]) {
      const mine = due.filter((e) => e.recipient === recipient && alerts.has(e.alert_id))
      // Posture findings go in a message of their own: they are states to fix, not repeats held back.
      const posture = mine.filter((e) => alerts.get(e.alert_id)?.kind === 'posture')
      if (posture.length) {
        const items = posture.map((e) => occurrenceKey(e.alert_id, e.occurrence)).sort()
        const findings = [...new Set(posture.map((e) => e.alert_id))].flatMap((id) => alerts.get(id) ?? [])
        created.push(await this.prepare('digest', notificationId('digest', recipient, ...items), recipient, composePostureEmail(findings, this.settings.consoleUrl), now, items))
      }
      const entries = mine.filter((e) => !posture.includes(e))
      if (entries.length === 0) continue
      const groups = new Map<string, DigestGroup>()
      for (const entry of entries) {
        const alert = alerts.get(entry.alert_id)
        if (!alert) continue
        const group = groups.get(entry.group_key) ?? { detector: alert.detector, principal: alert.principal, account: alert.account, severity: alert.severity, reason: entry.reason, count: 0, lastSeen: entry.occurrence, alerts: [] }
        group.count++
        if (entry.occurrence > group.lastSeen) group.lastSeen = entry.occurrence
        if (atLeast(alert.severity, group.severity as Severity)) group.severity = alert.severity
        if (!group.alerts.some((a) => a.alert_id === alert.alert_id)) group.alerts.push(alert)
        groups.set(entry.group_key, group)
      }
      const items = entries.map((e) => occurrenceKey(e.alert_id, e.occurrence)).sort()
      created.push(await this.prepare('digest', notificationId('digest', recipient, ...items), recipient, composeDigest([...groups.values()]), now, items))
    }
    const existing = await existingNotificationIds(this.store, created.map((c) => c.notification.notification_id))
    await createNotifications(this.store, created.filter((c) => !existing.has(c.notification.notification_id)))
  }

  private deliver(due: Notification, raw: Buffer, now: Date): Promise<Delivery> {
    if (due.kind === 'alert' || due.kind === 'digest' || due.kind === 'report') {
      const name = `${due.created_at.replace(/[-:]/g, '').slice(0, 15)}-${due.kind}-${due.notification_id.slice(0, 12)}`
      return this.transport.deliver(name, { from: this.settings.from, to: due.recipient }, raw)
    }
    const output = this.settings.outputs.find((o) => o.name === due.kind)
    if (!output) throw new DeliveryError(`the ${due.kind} output is no longer configured`, { permanent: true })
    return postOutput(output, due.notification_id, raw.toString('utf8'), now)
  }

  private backoffMs(attempts: number): number {
    return Math.min(HOUR, this.settings.retryMs * 2 ** Math.max(0, attempts - 1))
  }

  /**
   * Every due message, one at a time: `sending` is recorded before the attempts and each outcome
   * after its own. The marks and the messages are written and read a batch at a time: the store's
   * round trips, not the mail server, were most of what a message took, and a backlog after an
   * outage is held in memory a batch at a time. Stopped within a batch, the messages it did not
   * try go back as they were, their attempts uncounted.
   */
  async deliverDue(now: Date): Promise<Pick<CycleSummary, 'sent' | 'retrying' | 'failed'>> {
    const outcome: Pick<CycleSummary, 'sent' | 'retrying' | 'failed'> = { sent: [], retrying: [], failed: [] }
    const due = await dueNotifications(this.store, now)
    for (let start = 0; start < due.length; start += DELIVERY_BATCH) {
      const batch = due.slice(start, start + DELIVERY_BATCH)
      const marked = batch.map((d): Notification => ({ ...d, status: 'sending', attempts: d.attempts + 1, updated_at: now.toISOString(), version: d.version + 1 }))
      await recordStates(this.store, marked)
      const messages = await messageBytes(this.store, batch.map((d) => d.notification_id))
      for (const [i, sending] of marked.entries()) {
        if (this.stopped) {
          await recordStates(this.store, batch.slice(i).map((d) => ({ ...d, version: d.version + 2 })))
          return outcome
        }
        await this.deliverOne(sending, messages.get(sending.notification_id), now, outcome)
      }
    }
    return outcome
  }

  /** One attempt at a message marked `sending`, and its outcome recorded. */
  private async deliverOne(sending: Notification, raw: Buffer | undefined, now: Date, outcome: Pick<CycleSummary, 'sent' | 'retrying' | 'failed'>): Promise<void> {
    const next = { ...sending, version: sending.version + 1 }
    try {
      if (!raw) throw new DeliveryError('the composed message is missing from notification_messages', { permanent: true })
      const delivery = await this.deliver(sending, raw, now)
      const sent: Notification = { ...next, status: 'sent', error: '' }
      await recordStates(this.store, [sent])
      metrics.notifications.inc({ kind: sending.kind, status: 'sent' })
      outcome.sent.push(sent)
      this.logger.info({ notification: sending.notification_id, kind: sending.kind, attempts: sent.attempts }, 'delivered')
      this.onDelivered?.(sent, delivery)
    } catch (err) {
      const permanent = !(err instanceof DeliveryError) || !err.retriable
      const giveUp = permanent || sending.attempts >= this.settings.maxAttempts
      const failed: Notification = giveUp
        ? { ...next, status: 'failed', error: errorMessage(err) }
        : { ...next, status: 'retrying', error: errorMessage(err), next_attempt_at: new Date(now.getTime() + this.backoffMs(sending.attempts)).toISOString() }
      await recordStates(this.store, [failed])
      metrics.notifications.inc({ kind: sending.kind, status: failed.status })
      ;(giveUp ? outcome.failed : outcome.retrying).push(failed)
      this.logger.warn({ notification: sending.notification_id, kind: sending.kind, attempts: sending.attempts, status: failed.status, err: failed.error }, 'delivery failed')
    }
  }
}
