import { html, joinHtml, type Html, type HtmlValue } from '../html.js'
import { shortPrincipal } from '../principals.js'
import { utcText } from '../time.js'

/** Served as /console.css: the only style the pages use (the Content-Security-Policy allows nothing inline). */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #1b1b1b; --muted: #4a4a4a; --line: #d0d0d0; --accent: #0b4f8a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f0a500; outline-offset: 1px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; padding: 8px 16px; background: #0d2b45; color: #fff; }
header a { color: #fff; }
header .brand { font-weight: bold; margin-right: 8px; }
header nav ul { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin: 0; padding: 0; }
header .who { margin-left: auto; display: flex; gap: 8px; align-items: center; }
header button { background: none; border: 1px solid #fff; color: #fff; padding: 2px 8px; border-radius: 3px; cursor: pointer; }
main { padding: 12px 16px 32px; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: 4px 0 12px; overflow-wrap: break-word; }
h2 { font-size: 1.1rem; margin: 24px 0 8px; }
p, li, dd { overflow-wrap: break-word; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
th { background: #f2f4f7; }
/* Times and ids break at their separators or not at all. */
time, .nowrap { white-space: nowrap; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
/* A picture or the hour grid scrolls inside its box; the page itself never scrolls sideways. */
.scroll { overflow-x: auto; }
.scroll > table.heat { min-width: 560px; }
/* On a phone each row of a table is a card, each cell under its column's name. */
@media (max-width: 700px) {
  table.data thead { position: absolute; left: -9999px; }
  table.data, table.data tbody, table.data tr, table.data td { display: block; width: 100%; }
  table.data tr { border-bottom: 2px solid var(--line); padding: 4px 0; }
  table.data td { border: 0; padding: 2px 4px; }
  table.data td[data-label]::before { content: attr(data-label) ": "; font-weight: bold; }
}
.muted { color: var(--muted); }
.sev { white-space: nowrap; display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 0.85rem; font-weight: bold; text-transform: uppercase; }
.sev-critical { background: #7a0000; } .sev-high { background: #b00020; } .sev-medium { background: #8a4500; }
.sev-low { background: #2f5372; } .sev-info { background: #555; }
.status { font-weight: bold; }
.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 12px; margin: 0; }
.facts dt { font-weight: bold; } .facts dd { margin: 0; }
.summary { border: 2px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 0 0 12px; }
.summary.sev-border-critical { border-color: #7a0000; } .summary.sev-border-high { border-color: #b00020; }
details > summary { cursor: pointer; color: var(--accent); margin-bottom: 8px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin-bottom: 12px; }
form.filters > div { max-width: 100%; }
form label { display: block; font-size: 0.85rem; font-weight: bold; }
input, select, button { font: inherit; }
input[type=text], input[type=password], input[type=date], input[type=url], select, textarea { padding: 4px 6px; border: 1px solid #767676; border-radius: 3px; max-width: 100%; }
button.primary { background: var(--accent); color: #fff; border: 0; padding: 6px 12px; border-radius: 3px; cursor: pointer; }
.actions { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px; }
.actions form { border: 1px solid var(--line); border-radius: 4px; padding: 10px; flex: 1 1 260px; display: grid; grid-template-columns: minmax(0, 1fr); align-content: start; gap: 6px; min-width: 0; }
.actions select, .actions input[type=text], .actions input[type=url], .actions textarea { width: 100%; }
.notice { background: #eef6ee; border: 1px solid #7fb77f; padding: 8px 12px; border-radius: 4px; }
.error { background: #fdeeee; border: 1px solid #d07070; padding: 8px 12px; border-radius: 4px; }
tr.alert td { background: #fff4e5; }
.new { font-weight: bold; color: #8a4500; }
.failed { font-weight: bold; color: #b00020; }
.pager { display: flex; flex-wrap: wrap; gap: 8px 16px; margin: 8px 0; }
svg.history, svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg.history rect.bar, svg.chart rect.bar { fill: var(--accent); } svg.history line, svg.chart line { stroke: var(--line); }
svg.history text, svg.chart text { font-size: 11px; fill: var(--muted); }
svg.chart rect.sev-fill-critical { fill: #7a0000; } svg.chart rect.sev-fill-high { fill: #b00020; } svg.chart rect.sev-fill-medium { fill: #c26a00; }
svg.chart rect.sev-fill-low { fill: #2f5372; } svg.chart rect.sev-fill-info { fill: #8a8a8a; }
svg.chart circle.incident { fill: #f0a500; stroke: #1b1b1b; }
svg.chart a text { fill: var(--accent); text-decoration: underline; } svg.chart text.tactic { fill: var(--ink); font-weight: bold; }
svg.chart rect.h1 { fill: #cfe2f3; } svg.chart rect.h2 { fill: #8fb8de; } svg.chart rect.h3 { fill: #2f6fa8; } svg.chart rect.h4 { fill: #0d2b45; }
svg.chart a text.on-h1, svg.chart a text.on-h2 { fill: #1b1b1b; } svg.chart a text.on-h3, svg.chart a text.on-h4 { fill: #fff; }
.scroll > svg.matrix { max-width: none; }
svg.paths rect.identity { fill: #f2f6fa; stroke: #2f6fa8; } svg.paths rect.admin { fill: #fde8e8; stroke: #b00020; } svg.paths text { font-size: 12px; fill: var(--ink); }
svg.paths line { stroke: #2f5372; stroke-width: 1.5; } svg.paths g.cut line { stroke: #b00020; stroke-dasharray: 5 3; } svg.paths marker path { fill: #2f5372; } svg.paths a text { fill: var(--accent); }
svg.map rect.sea { fill: #f2f6fa; } svg.map line { stroke: #dde5ee; } svg.map circle.country { fill: #0b4f8a; fill-opacity: 0.7; stroke: #0d2b45; }
svg.map text { font-size: 13px; fill: var(--ink); font-weight: bold; }
.legend span { margin-right: 12px; white-space: nowrap; }
a.list { display: inline-block; padding: 0 5px; border-radius: 3px; background: #5a1a6e; color: #fff; font-size: 0.8rem; font-weight: bold; white-space: nowrap; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f4f4; padding: 6px 8px; margin: 4px 0; }
.heat td, .heat th { padding: 2px; text-align: center; font-size: 0.75rem; border: 1px solid #fff; }
.h0 { background: #f4f6f8; color: #1b1b1b; } .h1 { background: #cfe2f3; color: #1b1b1b; } .h2 { background: #8fb8de; color: #1b1b1b; }
.h3 { background: #2f6fa8; color: #fff; } .h4 { background: #0d2b45; color: #fff; }
.login { max-width: 360px; margin: 48px auto; display: grid; gap: 10px; }
`

export interface PageContext {
  user: string
  csrf: string
  /** Sign-out is offered when a person signed in with a password. */
  signedIn: boolean
}

const NAV: [string, string][] = [
  ['/', 'Incidents'],
  ['/posture', 'Posture'],
  ['/overview', 'Overview'],
  ['/events', 'Events'],
  ['/containments', 'Containments'],
  ['/suppressions', 'Suppressions'],
  ['/detectors', 'Detectors'],
  ['/freshness', 'Data freshness'],
  ['/credentials', 'Credential age'],
  ['/audit', 'Audit log'],
]

export function page(title: string, body: Html, context?: PageContext): Html {
  const header = context
    ? html`<header><span class="brand">trailwatch</span><nav aria-label="Main"><ul>${NAV.map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></nav>
<div class="who"><span>${context.user}</span>${context.signedIn ? html`<form method="post" action="/logout">${csrfField(context)}<button type="submit">Sign out</button></form>` : ''}</div></header>`
    : html`<header><span class="brand">trailwatch</span></header>`
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · trailwatch</title><link rel="stylesheet" href="/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a>${header}
<main id="main">${body}</main></body></html>
`
}

export function csrfField(context: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${context.csrf}">`
}

export function severity(value: string): Html {
  return html`<span class="sev sev-${value}">${value}</span>`
}

export function time(iso: string | null): Html {
  return iso ? html`<time datetime="${iso}">${utcText(iso)}</time>` : html`<span class="muted">never</span>`
}

/** An identifier that may wrap after its separators (`:`, `/`, `@`), never inside a token. */
export function ident(value: string): Html {
  return html`<span class="id">${joinHtml(value.split(/(?<=[:/@])/), html`<wbr>`)}</span>`
}

/** A query string of the fields given, in a stable order: a search is a URL to keep or share. */
export function queryString(fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) if (value) params.set(name, value)
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** The events a search names, as a link. */
export function eventsLink(fields: Record<string, string | undefined>, label: HtmlValue): Html {
  return html`<a href="/events${queryString(fields)}">${label}</a>`
}

export function principalLink(arn: string): Html {
  return html`<a href="/principals${queryString({ arn })}">${shortPrincipal(arn)}</a>`
}

/** An address as a link to its events, and a badge for each named list it was on (each a link to that list's events). */
export function addressLink(address: string, lists: readonly string[] = []): Html {
  if (!address) return html`—`
  return html`${eventsLink({ address }, ident(address))}${lists.map((list) => html` <a class="list" href="/events${queryString({ list })}">${list}</a>`)}`
}

export function keyLink(key: string): Html {
  return key ? eventsLink({ key }, ident(key)) : html`—`
}

export function options(values: readonly string[], selected: string | undefined, any: string): Html {
  return html`<option value="">${any}</option>${values.map((v) => html`<option value="${v}"${v === selected ? html` selected` : ''}>${v}</option>`)}`
}

/**
 * A table of records: columns on a wide screen, one card per row on a phone, each cell named. A
 * name longer than any real one scrolls inside the table's box rather than break mid-token.
 */
export function dataTable(caption: string, columns: readonly string[], rows: readonly (readonly HtmlValue[])[], rowClass?: (index: number) => string): Html {
  return html`<div class="scroll"><table class="data"><caption class="skip">${caption}</caption><thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead><tbody>
${rows.map((cells, i) => html`<tr${rowClass?.(i) ? html` class="${rowClass(i)}"` : ''}>${cells.map((cell, c) => (columns[c] ? html`<td data-label="${columns[c]}">${cell}</td>` : html`<td>${cell}</td>`))}</tr>`)}</tbody></table></div>`
}
