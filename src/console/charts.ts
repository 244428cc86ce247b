/**
 * Pictures drawn on the server as SVG: no script, nothing loaded, styled by the console's one
 * stylesheet. Each has a text alternative, and each bar or cell that leads somewhere is a link.
 */
import { html, type Html } from '../html.js'
import { identityLabel, type Path, type Step } from '../iam/paths.js'
import { SEVERITIES, type Severity } from '../severity.js'
import { TACTIC_ORDER } from '../alerts/tactics.js'
import { plural } from '../text.js'

export interface DayCounts {
  day: string
  bySeverity: Partial<Record<Severity, number>>
  /** Incidents whose first alert was seen that day. */
  incidents: number
}

const WORST_FIRST = [...SEVERITIES].reverse()

/** Alerts per day as bars stacked by severity, worst on top, and the incidents each day began as dots above them. */
export function alertsOverTime(days: DayCounts[]): Html {
  const width = 14
  const gap = 4
  const height = 120
  const top = 22
  const bottom = 22
  const step = width + gap
  const total = (d: DayCounts): number => SEVERITIES.reduce((sum, s) => sum + (d.bySeverity[s] ?? 0), 0)
  const most = Math.max(1, ...days.map(total))
  const bars = days.map((d, i) => {
    let y = top + height
    const parts = SEVERITIES.filter((s) => d.bySeverity[s]).map((s) => {
      const tall = Math.max(2, Math.round(((d.bySeverity[s] ?? 0) / most) * height))
      y -= tall
      return html`<rect class="sev-fill-${s}" x="${String(i * step)}" y="${String(y)}" width="${String(width)}" height="${String(tall)}"></rect>`
    })
    const counts = WORST_FIRST.filter((s) => d.bySeverity[s]).map((s) => `${String(d.bySeverity[s] ?? 0)} ${s}`)
    const label = `${d.day}: ${plural(total(d), 'alert')}${counts.length ? ` (${counts.join(', ')})` : ''}, ${plural(d.incidents, 'incident')} began`
    const dot = d.incidents ? html`<circle class="incident" cx="${String(i * step + width / 2)}" cy="${String(top - 10)}" r="${String(Math.min(7, 3 + d.incidents))}"></circle>` : ''
    const date = i % 7 === 0 ? html`<text x="${String(i * step)}" y="${String(top + height + 15)}">${d.day.slice(5)}</text>` : ''
    return html`<g><title>${label}</title>${parts}${dot}${date}</g>`
  })
  const alerts = days.reduce((sum, d) => sum + total(d), 0)
  const incidents = days.reduce((sum, d) => sum + d.incidents, 0)
  return html`<svg class="chart" role="img" viewBox="0 0 ${String(days.length * step)} ${String(top + height + bottom)}" width="${String(days.length * step)}" height="${String(top + height + bottom)}" aria-label="${plural(alerts, 'alert')} and ${plural(incidents, 'incident')} over ${plural(days.length, 'day')}, by the day each was first seen">
<line x1="0" y1="${String(top + height)}" x2="${String(days.length * step)}" y2="${String(top + height)}"></line>${bars}</svg>`
}

export interface Ranked {
  label: string
  value: number
  href: string
  /** The worst severity among them, for the bar's colour. */
  worst?: Severity | undefined
}

/** The biggest first, as bars each linking to its page. */
export function rankedBars(items: Ranked[], noun: string): Html {
  const row = 24
  const labelWidth = 250
  const barWidth = 180
  const most = Math.max(1, ...items.map((i) => i.value))
  const rows = items.map((item, i) => {
    const y = i * row
    const long = Math.max(2, Math.round((item.value / most) * barWidth))
    const label = item.label.length > 34 ? `${item.label.slice(0, 33)}…` : item.label
    return html`<a href="${item.href}"><title>${item.label}: ${plural(item.value, noun)}</title><text x="0" y="${String(y + 16)}">${label}</text>
<rect class="${item.worst ? `sev-fill-${item.worst}` : 'bar'}" x="${String(labelWidth)}" y="${String(y + 4)}" width="${String(long)}" height="${String(row - 8)}"></rect><text x="${String(labelWidth + long + 6)}" y="${String(y + 16)}">${String(item.value)}</text></a>`
  })
  const height = Math.max(row, items.length * row)
  return html`<svg class="chart ranked" viewBox="0 0 ${String(labelWidth + barWidth + 50)} ${String(height)}" width="${String(labelWidth + barWidth + 50)}" height="${String(height)}">${rows}</svg>`
}

export interface TechniqueCount {
  technique: string
  tactic: string
  count: number
}

/**
 * Tactics as columns, the techniques under each as cells shaded by their count (alerts that named
 * them, or detectors that look for them: `noun`), each a link to ATT&CK's page.
 */
export function attackMatrix(seen: TechniqueCount[], noun: string): Html {
  const column = 120
  const cell = 30
  const head = 34
  const tactics = [...TACTIC_ORDER, 'other'].filter((t) => seen.some((s) => s.tactic === t))
  const most = Math.max(1, ...seen.map((s) => s.count))
  const columns = tactics.map((tactic, c) => {
    const techniques = seen.filter((s) => s.tactic === tactic).sort((a, b) => b.count - a.count || a.technique.localeCompare(b.technique))
    const x = c * column
    const [first = '', ...rest] = tactic.split('-')
    return html`<g><text class="tactic" x="${String(x + 4)}" y="14">${first}</text><text class="tactic" x="${String(x + 4)}" y="28">${rest.join('-')}</text>${techniques.map((t, r) => {
      const level = Math.min(4, 1 + Math.floor((t.count / most) * 3.999))
      const path = t.technique.replace('.', '/')
      return html`<a href="https://attack.mitre.org/techniques/${path}/" rel="noopener noreferrer"><title>${t.technique} (${tactic}): ${plural(t.count, noun)}</title><rect class="h${String(level)}" x="${String(x + 2)}" y="${String(head + r * cell)}" width="${String(column - 4)}" height="${String(cell - 4)}"></rect><text class="on-h${String(level)}" x="${String(x + 8)}" y="${String(head + r * cell + 18)}">${t.technique} ×${String(t.count)}</text></a>`
    })}</g>`
  })
  const rows = Math.max(1, ...tactics.map((t) => seen.filter((s) => s.tactic === t).length))
  const width = Math.max(1, tactics.length) * column
  const height = head + rows * cell
  return html`<svg class="chart matrix" viewBox="0 0 ${String(width)} ${String(height)}" width="${String(width)}" height="${String(height)}">${columns}</svg>`
}

const PER_DAY = { width: 14, gap: 4, height: 120, top: 16, bottom: 22 }

/** A count per day as bars, each with its day and count as a tooltip and its count above it; every seventh day named. */
export function countsPerDay(days: { day: string; count: number }[], noun: string, how: string): Html {
  const { width, gap, height, top, bottom } = PER_DAY
  const most = Math.max(1, ...days.map((d) => d.count))
  const step = width + gap
  const bars = days.map(({ day, count }, i) => {
    const tall = count === 0 ? 0 : Math.max(2, Math.round((count / most) * height))
    const x = String(i * step)
    const label = count > 0 ? html`<text x="${String(i * step + width / 2)}" y="${String(top + height - tall - 3)}" text-anchor="middle">${String(count)}</text>` : ''
    const date = i % 7 === 0 ? html`<text x="${x}" y="${String(top + height + 15)}">${day.slice(5)}</text>` : ''
    return html`<g><title>${day}: ${plural(count, noun)}</title><rect class="bar" x="${x}" y="${String(top + height - tall)}" width="${String(width)}" height="${String(tall)}"></rect>${label}${date}</g>`
  })
  const total = days.reduce((sum, d) => sum + d.count, 0)
  return html`<svg class="history" role="img" viewBox="0 0 ${String(days.length * step)} ${String(top + height + bottom)}" width="${String(days.length * step)}" height="${String(top + height + bottom)}" aria-label="${plural(total, noun)} over ${plural(days.length, 'day')}, ${how}">
<line x1="0" y1="${String(top + height)}" x2="${String(days.length * step)}" y2="${String(top + height)}"></line>${bars}</svg>`
}

/** Countries as circles at their centroids on a plain longitude-latitude grid, each as big as its share of the calls. */
export function countryMap(countries: { code: string; name: string; lat: number; lon: number; calls: number }[]): Html {
  const scale = 2
  const most = Math.max(1, ...countries.map((c) => c.calls))
  const grid = [
    ...[-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150].map((lon) => html`<line x1="${String((lon + 180) * scale)}" y1="0" x2="${String((lon + 180) * scale)}" y2="${String(180 * scale)}"></line>`),
    ...[-60, -30, 0, 30, 60].map((lat) => html`<line x1="0" y1="${String((90 - lat) * scale)}" x2="${String(360 * scale)}" y2="${String((90 - lat) * scale)}"></line>`),
  ]
  const dots = [...countries]
    .sort((a, b) => b.calls - a.calls)
    .map((c) => {
      const x = (c.lon + 180) * scale
      const y = (90 - c.lat) * scale
      const r = 4 + Math.round(Math.sqrt(c.calls / most) * 14)
      return html`<g><title>${c.code} (${c.name}): ${plural(c.calls, 'call')}</title><circle class="country" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${String(r)}"></circle><text x="${(x + r + 3).toFixed(1)}" y="${(y + 4).toFixed(1)}">${c.code}</text></g>`
    })
  const label = countries.map((c) => `${c.name} ${plural(c.calls, 'call')}`).join(', ')
  return html`<svg class="chart map" role="img" viewBox="0 0 ${String(360 * scale)} ${String(180 * scale)}" width="${String(360 * scale)}" height="${String(180 * scale)}" aria-label="Calls by country: ${label || 'none'}"><rect class="sea" x="0" y="0" width="${String(360 * scale)}" height="${String(180 * scale)}"></rect>${grid}${dots}</svg>`
}

/**
 * An identity's ways to administrator as a graph: each identity a box (a link to its page) in the
 * column of how many steps it is from the start, each step an arrow titled with its calls; the
 * steps of the smallest cut are drawn dashed.
 */
export function escalationPicture(paths: Path[], cut: Step[]): Html {
  const start = paths[0]?.from ?? ''
  const home = start.split(':')[4]
  const depth = new Map<string, number>([[start, 0]])
  for (const path of paths) path.steps.forEach((step, i) => depth.set(step.to, Math.min(depth.get(step.to) ?? Infinity, i + 1)))
  const columns: string[][] = []
  for (const [id, d] of depth) (columns[d] ??= []).push(id)
  const boxWidth = 200
  const boxHeight = 34
  const columnGap = 110
  const rowGap = 22
  const rows = Math.max(1, ...columns.map((c) => c.length))
  const width = columns.length * boxWidth + (columns.length - 1) * columnGap
  const height = rows * (boxHeight + rowGap)
  const at = new Map<string, { x: number; y: number }>()
  columns.forEach((ids, c) => {
    ids.forEach((id, r) => at.set(id, { x: c * (boxWidth + columnGap), y: r * (boxHeight + rowGap) + rowGap / 2 }))
  })
  const cutKeys = new Set(cut.map((s) => `${s.from} ${s.to} ${s.action}`))
  const steps = new Map(paths.flatMap((p) => p.steps).map((s) => [`${s.from} ${s.to} ${s.action}`, s]))
  const arrows = [...steps].map(([key, s]) => {
    const from = at.get(s.from)
    const to = at.get(s.to)
    if (!from || !to) return ''
    const [x1, y1, x2, y2] = [from.x + boxWidth, from.y + boxHeight / 2, to.x, to.y + boxHeight / 2]
    const label = s.action.length > 17 ? `${s.action.slice(0, 16)}…` : s.action
    return html`<g class="step${cutKeys.has(key) ? ' cut' : ''}"><title>${identityLabel(s.from, home)} → ${identityLabel(s.to, home)}: ${s.action}${s.via.length ? `, allowed by ${s.via.join(', ')}` : ''}${cutKeys.has(key) ? ' (in the smallest cut)' : ''}</title><line x1="${String(x1)}" y1="${String(y1)}" x2="${String(x2 - 6)}" y2="${String(y2)}" marker-end="url(#arrow)"></line><text x="${String(x1 + 4)}" y="${String(Math.min(y1, y2) - 4)}">${label}</text></g>`
  })
  const boxes = [...at].map(([id, { x, y }]) => {
    const admin = id.startsWith('admin:') || paths.some((p) => p.to === id)
    const box = html`<rect class="${admin ? 'identity admin' : 'identity'}" x="${String(x)}" y="${String(y)}" width="${String(boxWidth)}" height="${String(boxHeight)}" rx="6"></rect><text x="${String(x + 8)}" y="${String(y + 21)}">${identityLabel(id, home)}</text>`
    return id.startsWith('arn:') ? html`<a href="/principals?arn=${encodeURIComponent(id)}">${box}</a>` : box
  })
  // Not role="img": its identities are links. The list beside it says the same in words.
  return html`<svg class="chart paths" viewBox="0 0 ${String(width)} ${String(height)}" width="${String(width)}" height="${String(height)}"><title>${identityLabel(start, home)} can become administrator by ${plural(paths.length, 'path')}, listed below</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"></path></marker></defs>${arrows}${boxes}</svg>`
}
