import { localTime, utcText } from '../time.js'
import type { StoredAlert } from './alerts.js'
import type { AlertActivity } from './evidence.js'
import { escapeHtml, headerText, htmlDocument, shellWord, textLine, type Composed } from './format.js'

function evidenceTimeZone(alert: StoredAlert): string | undefined {
  const working = alert.evidence.working_time
  if (typeof working === 'object' && working !== null && 'timezone' in working && typeof working.timezone === 'string') return working.timezone
  return undefined
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${String(n)} ${n === 1 ? one : many}`
}

function flatten(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (Array.isArray(value)) return value.map(flatten).join(', ') || '—'
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${flatten(v)}`).join('; ')
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** One alert, in the order a person on call reads it: who, what, where, when, why, evidence, what to do. */
export function composeAlert(alert: StoredAlert, activity: AlertActivity, zone: string | undefined): Composed {
  const timeZone = zone ?? evidenceTimeZone(alert)
  const kind = activity.actorKinds[0] ?? (typeof alert.evidence.actor_kind === 'string' ? alert.evidence.actor_kind : 'unknown')
  const totalCalls = activity.calls.reduce((sum, c) => sum + c.calls, 0)
  const failed = activity.calls.reduce((sum, c) => sum + c.failed, 0)

  const who = `${alert.principal} (${kind}) in account ${alert.account}`
  const what = activity.calls.length
    ? `${plural(totalCalls, 'call')} in the last day of the alert${failed ? `, ${String(failed)} failed` : ''}: ${activity.calls.map((c) => `${c.event} ×${String(c.calls)}`).join(', ')}`
    : 'no stored events for this principal in the alert’s span; see the detector’s evidence below'
  const where = activity.sources.length
    ? activity.sources.map((s) => `${s.address || 'unknown'}${s.country || s.asn ? ` (${s.country || '??'}, AS${String(s.asn)} ${s.org})` : ''} ×${String(s.calls)}`)
    : ['no address recorded']
  const span = alert.first_seen === alert.last_seen ? utcText(alert.first_seen) : `${utcText(alert.first_seen)} → ${utcText(alert.last_seen)}`
  const local = timeZone
    ? `${localTime(Date.parse(alert.first_seen), timeZone).text} (principal’s local time)`
    : 'local time unknown: give this principal a time zone in TRAILWATCH_PRINCIPALS_FILE'
  const facts: [string, string[]][] = [
    ['Who', [who]],
    ['What', [what]],
    ['Where', where],
    ['When', [span, local]],
    ['Why', [alert.why || alert.title]],
  ]
  const evidence = Object.entries(alert.evidence).map(([key, value]) => `${key}: ${flatten(value)}`)
  const events = activity.recent.map((e) => [utcText(e.time), e.event, e.address || '—', e.region, e.error || 'ok', e.user_agent])
  const subject = headerText(`[trailwatch] ${alert.severity.toUpperCase()} ${alert.detector}: ${alert.title}`)
  const footer = `Alert ${alert.alert_id} · ${alert.detector}${alert.attack.length ? ` · ATT&CK ${alert.attack.join(', ')}` : ''}`

  const text = [
    `${alert.severity.toUpperCase()} · ${alert.detector}`,
    alert.title,
    '',
    ...facts.flatMap(([label, lines]) => [label.toUpperCase(), ...lines.map((line) => `  ${line}`)]),
    '',
    'EVIDENCE',
    ...evidence.map((line) => `  ${line}`),
    ...(events.length ? ['', `LATEST EVENTS (${String(events.length)})`, ...events.map((cells) => `  ${cells.join('  ')}`)] : []),
    '',
    'RUNBOOK',
    ...alert.runbook.map((step, i) => `  ${String(i + 1)}. ${step}`),
    '',
    footer,
    `Silence it: trailwatch suppress add --detector ${shellWord(alert.detector)} --principal ${shellWord(alert.principal)} --owner YOU --reason WHY --expires 7d`,
    '',
  ]
    .map(textLine)
    .join('\n')

  const cell = (value: string): string => `<td style="padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top">${escapeHtml(value)}</td>`
  const html = htmlDocument(`<p style="margin:0 0 4px;font-weight:bold;color:${SEVERITY_COLOURS[alert.severity]}">${escapeHtml(alert.severity.toUpperCase())} · ${escapeHtml(alert.detector)}</p>
<h1 style="font-size:18px;margin:0 0 12px;word-break:break-word">${escapeHtml(alert.title)}</h1>
<table style="border-collapse:collapse;width:100%">
${facts.map(([label, lines]) => `<tr><th style="text-align:left;padding:4px 8px 4px 0;vertical-align:top;width:64px">${label}</th><td style="padding:4px 0;word-break:break-word">${lines.map(escapeHtml).join('<br>')}</td></tr>`).join('\n')}
</table>
<h2 style="font-size:16px;margin:16px 0 4px">Evidence</h2>
<ul style="margin:0;padding-left:20px;word-break:break-word">${evidence.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>
${events.length ? `<h2 style="font-size:16px;margin:16px 0 4px">Latest events</h2>
<div style="overflow-x:auto"><table style="border-collapse:collapse;font-size:13px"><tr>${['Time', 'Event', 'Address', 'Region', 'Result', 'User agent'].map((h) => `<th style="text-align:left;padding:4px 8px">${h}</th>`).join('')}</tr>
${events.map((cells) => `<tr>${cells.map(cell).join('')}</tr>`).join('\n')}</table></div>` : ''}
<h2 style="font-size:16px;margin:16px 0 4px">Runbook</h2>
<ol style="margin:0;padding-left:20px">${alert.runbook.map((step) => `<li>${escapeHtml(step)}</li>`).join('')}</ol>
<p style="margin:16px 0 0;font-size:12px;color:#555;word-break:break-all">${escapeHtml(footer)}</p>`)
  return { subject, text, html }
}

const SEVERITY_COLOURS: Record<string, string> = { info: '#555', low: '#555', medium: '#b35900', high: '#c00', critical: '#900' }

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
  const html = htmlDocument(`<p>${escapeHtml(plural(total, 'occurrence'))} held back so they would not flood you: alerts found again after their email, and alerts over the hourly limit.</p>
${lines.map((l) => `<h2 style="font-size:16px;margin:16px 0 4px;word-break:break-word">${escapeHtml(l.heading)}</h2>
<p style="margin:0 0 4px">${escapeHtml(l.summary)}</p>
<ul style="margin:0;padding-left:20px;word-break:break-word">${l.titles.map((t) => `<li>${escapeHtml(t)}</li>`).join('')}${l.more ? `<li>${escapeHtml(l.more)}</li>` : ''}</ul>`).join('\n')}`)
  return { subject, text, html }
}
