import { utcText } from '../time.js'
import { shortPrincipal } from '../principals.js'
import { SEVERITIES } from '../severity.js'
import { consoleLink } from './incident-email.js'
import type { AutoContainment } from './auto-contain.js'
import { alertHeadline, type StoredAlert } from '../alerts/table.js'
import { htmlDocument, html } from '../html.js'
import { headerText, plural, textLine, type Composed } from '../text.js'

/** One part of a digest: the repeats of one alert. */
export interface DigestGroup {
  detector: string
  principal: string
  account: string
  severity: string
  reason: string
  /** Occurrences held back: the same alert found again with new activity counts each time. */
  count: number
  lastSeen: string
  alerts: StoredAlert[]
}

/** Repeats and overflow merged: per group, how many, when last, and the titles. */
export function composeDigest(groups: DigestGroup[]): Composed {
  const total = groups.reduce((sum, g) => sum + g.count, 0)
  const lines = groups.map((g) => ({
      heading: `${g.severity.toUpperCase()} ${g.detector} · ${g.principal} (account ${g.account})`,
      summary: `${plural(g.count, 'occurrence')}, last seen ${utcText(g.lastSeen)} (${g.reason})`,
      titles: g.alerts.slice(0, 5).map((a) => `${a.title} [${a.alert_id}]`),
      more: g.alerts.length > 5 ? `and ${String(g.alerts.length - 5)} more` : '',
  }))
  const subject = headerText(`[trailwatch] digest of ${plural(groups.length, 'alert')} (${plural(total, 'occurrence')})`)
  const text = [
    `${plural(total, 'occurrence')} held back so they would not flood you: alerts found again after their email, and alerts over the hourly limit.`,
    '',
    ...lines.flatMap((l) => [l.heading, `  ${l.summary}`, ...l.titles.map((t) => `  - ${t}`), ...(l.more ? [`  ${l.more}`] : []), '']),
  ]
    .map(textLine)
    .join('\n')
  const markup = htmlDocument(html`<p>${plural(total, 'occurrence')} held back so they would not flood you: alerts found again after their email, and alerts over the hourly limit.</p>
${lines.map((l) => html`<h2 style="font-size:16px;margin:16px 0 4px;word-break:break-word">${l.heading}</h2>
<p style="margin:0 0 4px">${l.summary}</p>
<ul style="margin:0;padding-left:20px;word-break:break-word">${l.titles.map((t) => html`<li>${t}</li>`)}${l.more ? html`<li>${l.more}</li>` : ''}</ul>`)}`)
  return { subject, text, html: markup }
}

const POSTURE_INTRO =
  'States of your accounts to fix, kept apart from incidents. Each stays open until its check no longer finds it, or someone accepts it until a day, saying why (the console’s posture page, or trailwatch posture accept ID).'

/** New posture findings, worst first: what, on whom, why it matters, the first step of its fix, and where to decide. */
export function composePostureEmail(alerts: StoredAlert[], consoleUrl: string | undefined): Composed {
  const sorted = [...alerts].sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || a.title.localeCompare(b.title))
  const worst = sorted[0]?.severity ?? 'info'
  const parts = sorted.map((a) => ({
    heading: `${a.severity.toUpperCase()} ${alertHeadline(a)}`,
    who: `${shortPrincipal(a.principal)} (account ${a.account}), ${a.detector}, since ${utcText(a.first_seen)}`,
    why: a.why,
    fix: a.runbook[0] ?? '',
    link: consoleLink(consoleUrl, 'posture', a.alert_id) ?? `trailwatch posture show ${a.alert_id}`,
  }))
  const subject = headerText(`[trailwatch] posture: ${plural(sorted.length, 'new finding')}, the worst ${worst.toUpperCase()}`)
  const text = [POSTURE_INTRO, '', ...parts.flatMap((p) => [p.heading, `  ${p.who}`, `  Why: ${p.why}`, ...(p.fix ? [`  Fix: ${p.fix}`] : []), `  ${p.link}`, ''])].map(textLine).join('\n')
  const markup = htmlDocument(html`<p>${POSTURE_INTRO}</p>
${parts.map((p) => html`<h2 style="font-size:16px;margin:16px 0 4px;word-break:break-word">${p.heading}</h2>
<p style="margin:0 0 4px;word-break:break-word">${p.who}</p>
<p style="margin:0 0 4px">${p.why}</p>
${p.fix ? html`<p style="margin:0 0 4px">Fix: ${p.fix}</p>` : ''}
<p style="margin:0 0 4px;word-break:break-all">${p.link.startsWith('http') ? html`<a href="${p.link}">${p.link}</a>` : p.link}</p>`)}`)
  return { subject, text, html: markup }
}

/** What automatic containment did on an alert, or why it did not, and how to undo it. */
export function composeContainmentEmail(result: AutoContainment, consoleUrl: string | undefined): Composed {
  const { alert, outcome } = result
  const who = shortPrincipal(outcome?.identity.arn ?? alert.principal)
  const subject = headerText(outcome ? `[trailwatch] contained ${who} automatically: ${result.action}` : `[trailwatch] automatic ${result.action} of ${who} not done`)
  const incident = consoleLink(consoleUrl, 'incidents', result.incident) ?? `trailwatch incidents show ${result.incident}`
  const lines = [
    outcome
      ? `trailwatch contained ${outcome.identity.arn} automatically, as TRAILWATCH_CONTAIN_AUTO says for ${alert.detector} alerts.`
      : `TRAILWATCH_CONTAIN_AUTO asks to contain ${result.target} on ${alert.detector} alerts; nothing was changed: ${result.failure ?? ''}`,
    '',
    `Alert: ${alert.severity.toUpperCase()} ${alertHeadline(alert)} [${alert.alert_id}]`,
    `Incident: ${result.incident}: ${incident}`,
    ...(outcome
      ? ['', `Changes (containment ${outcome.id}):`, ...outcome.steps.map((s, i) => `  ${String(i + 1)}. ${s.step}: ${s.status}`), '', `Undo: trailwatch contain undo ${outcome.id} --reason WHY${consoleUrl ? `, or ${consoleUrl.replace(/\/+$/, '')}/containments` : ''}`]
      : []),
  ]
  const text = lines.map(textLine).join('\n')
  const markup = htmlDocument(html`${lines.map((line) => (line ? html`<p style="margin:0 0 4px;word-break:break-word">${line}</p>` : ''))}`)
  return { subject, text, html: markup }
}
