import { createHmac } from 'node:crypto'
import { detectionFinding, OCSF_SEVERITY, ocsfAttacks, ocsfResources, type FindingActivity, type FindingStatus } from '../alerts/ocsf.js'
import type { Config } from '../config.js'
import { DeliveryError, errorMessage } from '../errors.js'
import { incidentJson as incidentSummary, type Incident } from '../incidents/incidents.js'
import { shortPrincipal } from '../principals.js'
import type { Severity } from '../severity.js'
import { inertJson, visibleDirection } from '../text.js'
import type { Delivery } from './mailer.js'

/** Where incident updates go besides email. The name is the notification's recipient. */
export interface Output {
  name: 'webhook' | 'slack' | 'pagerduty'
  url: string
  /** Updates of incidents below this severity do not go here. */
  minSeverity: Severity
  /** webhook: the HMAC key; pagerduty: the routing key. */
  secret: string
  /** webhook: trailwatch's incident JSON, or an OCSF Detection Finding. */
  format?: 'trailwatch' | 'ocsf'
}

export function configuredOutputs(alerting: Config['alerting']): Output[] {
  const outputs: Output[] = []
  if (alerting.webhook) outputs.push({ name: 'webhook', url: alerting.webhook.url, minSeverity: alerting.minSeverity, secret: alerting.webhook.secret, format: alerting.webhook.format })
  if (alerting.slack) outputs.push({ name: 'slack', url: alerting.slack.url, minSeverity: alerting.minSeverity, secret: '' })
  // Paging is for what cannot wait until morning.
  if (alerting.pagerDuty) outputs.push({ name: 'pagerduty', url: alerting.pagerDuty.url, minSeverity: 'high', secret: alerting.pagerDuty.routingKey })
  return outputs
}

export interface OutputUpdate {
  /** The notification id: receivers drop a delivery id they have seen. */
  deliveryId: string
  incident: Incident
  /** Empty when the incident is new. */
  news: string[]
  /** Set when the update tells that someone acknowledged or resolved the incident. */
  change?: 'acknowledged' | 'resolved' | undefined
  link?: string | undefined
}

/** The incident as `incidents list --json` gives it, with each alert and why it belongs. */
function incidentJson(incident: Incident): Record<string, unknown> {
  return {
    ...incidentSummary(incident),
    alerts: incident.members.map((m) => ({ alert_id: m.alert.alert_id, detector: m.alert.detector, severity: m.alert.severity, title: m.alert.title, principal: m.alert.principal, first_seen: m.alert.first_seen, last_seen: m.alert.last_seen, link: m.link })),
  }
}

/** Slack mrkdwn treats &, < and > as markup; in data they are text, and direction controls are shown, not obeyed. */
function slackText(value: string): string {
  return visibleDirection(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const PAGERDUTY_SEVERITY: Record<Severity, string> = { info: 'info', low: 'info', medium: 'warning', high: 'error', critical: 'critical' }

const OCSF_STATUS_OF_INCIDENT: Record<Incident['status'], FindingStatus> = { open: 'new', acknowledged: 'in-progress', resolved: 'resolved' }

/**
 * An incident update as a Detection Finding of its own (the incident's id its uid): created when
 * opened, updated as alerts join or someone acknowledges it, closed when resolved; each alert a
 * related event. The time is that of its latest alert or action, so every delivery of one update
 * is the same bytes.
 */
function incidentFinding(incident: Incident, update: { activity: FindingActivity; news: string[]; deliveryId: string; link?: string | undefined }): Record<string, unknown> {
  const latest = Math.max(Date.parse(incident.last_seen), ...incident.actions.map((a) => Date.parse(a.at)).filter(Number.isFinite))
  return detectionFinding({
    uid: incident.id,
    title: incident.title,
    desc: update.news.join(' '),
    severity: incident.severity,
    activity: update.activity,
    status: OCSF_STATUS_OF_INCIDENT[incident.status],
    time: latest,
    firstSeen: Date.parse(incident.first_seen),
    lastSeen: Date.parse(incident.last_seen),
    principal: incident.principals[0] ?? '',
    account: incident.accounts[0] ?? '',
    attack: incident.members.flatMap((m) => m.alert.attack),
    analytic: { uid: 'incidents', name: 'trailwatch incidents', type: 'Other', type_id: 99 },
    resources: incident.principals.flatMap((principal) => ocsfResources(principal, [])),
    remediation: [],
    types: ['incident'],
    related: incident.members.map(({ alert }) => ({
      uid: alert.alert_id,
      title: alert.title,
      type: alert.detector,
      severity_id: OCSF_SEVERITY[alert.severity].id,
      severity: OCSF_SEVERITY[alert.severity].name,
      first_seen_time: Date.parse(alert.first_seen),
      last_seen_time: Date.parse(alert.last_seen),
      ...(alert.attack.length ? { attacks: ocsfAttacks(alert.attack) } : {}),
    })),
    unmapped: { trailwatch: { delivery_id: update.deliveryId, incident: incident.id, status: incident.status, principals: incident.principals, accounts: incident.accounts, link: update.link ?? null } },
  })
}

/** The body each output receives for one update, as the bytes stored and sent on every attempt. */
export function outputBody(output: Output, update: OutputUpdate): string {
  const { incident, change } = update
  const settled = change ? incident.actions.filter((a) => a.action === change).at(-1) : undefined
  const news = settled ? [`${change ?? ''} by ${settled.actor}${settled.reason ? `: ${settled.reason}` : ''}`, ...update.news] : update.news
  const headline = `${(change ?? incident.severity).toUpperCase()} ${incident.title}`
  switch (output.name) {
    case 'webhook':
      if (output.format === 'ocsf') return inertJson(incidentFinding(incident, { activity: change === 'resolved' ? 'close' : change || update.news.length ? 'update' : 'create', news, deliveryId: update.deliveryId, link: update.link }))
      return inertJson({ type: `incident.${change ?? (news.length ? 'updated' : 'opened')}`, delivery_id: update.deliveryId, news, link: update.link ?? null, incident: incidentJson(incident) })
    case 'slack': {
      const fields = [
        `*Who*\n${slackText(incident.principals.map(shortPrincipal).join(', '))}`,
        `*Accounts*\n${slackText(incident.accounts.join(', '))}`,
        `*Tactics*\n${slackText(incident.tactics.join(', ') || 'none named')}`,
        `*Alerts*\n${String(incident.members.length)}`,
      ]
      return inertJson({
        text: slackText(headline),
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: visibleDirection(headline).slice(0, 150) } },
          ...(news.length ? [{ type: 'section', text: { type: 'mrkdwn', text: slackText(`What is new:\n${news.map((n) => `• ${n}`).join('\n')}`).slice(0, 3000) } }] : []),
          { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text: text.slice(0, 2000) })) },
          { type: 'context', elements: [{ type: 'mrkdwn', text: slackText(`incident ${incident.id} · trailwatch incidents show ${incident.id}${update.link ? ` · ${update.link}` : ''}`) }] },
        ],
      })
    }
    case 'pagerduty':
      if (change) return inertJson({ routing_key: output.secret, event_action: change === 'resolved' ? 'resolve' : 'acknowledge', dedup_key: incident.id })
      return inertJson({
        routing_key: output.secret,
        event_action: 'trigger',
        // One PagerDuty alert per incident: updates change it, never open another.
        dedup_key: incident.id,
        payload: {
          summary: headline.slice(0, 1024),
          source: incident.accounts.join(',') || 'trailwatch',
          severity: PAGERDUTY_SEVERITY[incident.severity],
          timestamp: incident.last_seen,
          component: incident.principals[0] ?? '',
          class: incident.detectors.join(','),
          custom_details: { news, ...incidentJson(incident) },
        },
        ...(update.link ? { links: [{ href: update.link, text: `incident ${incident.id}` }] } : {}),
      })
  }
}

/** What a webhook receiver checks: HMAC-SHA256 over "timestamp.body", hex, with the shared secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/**
 * One attempt to hand a body over. A timeout, a network error, 429 and 5xx are worth retrying;
 * any other refusal is permanent. The webhook is signed at each attempt, so its timestamp is fresh.
 */
export async function postOutput(output: Output, deliveryId: string, body: string, now: Date, timeoutMs = 10_000): Promise<Delivery> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'trailwatch', 'x-trailwatch-delivery': deliveryId }
  if (output.name === 'webhook') {
    const timestamp = String(Math.floor(now.getTime() / 1000))
    headers['x-trailwatch-timestamp'] = timestamp
    headers['x-trailwatch-signature'] = webhookSignature(output.secret, timestamp, body)
  }
  let response: Response
  try {
    response = await fetch(output.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' })
  } catch (err) {
    throw new DeliveryError(`${output.name}: ${errorMessage(err)}`, { permanent: false })
  }
  const answer = (await response.text().catch(() => '')).slice(0, 200)
  if (response.ok) return { response: `${output.name} ${String(response.status)}` }
  const retriable = response.status === 429 || response.status >= 500
  throw new DeliveryError(`${output.name} answered ${String(response.status)}${answer ? `: ${answer}` : ''}`, { permanent: !retriable })
}
