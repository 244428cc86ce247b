/**
 * Text from data, for every place it goes: a terminal or plain-text line, an email header, HTML,
 * a shell word, a CSV cell. CloudTrail fields are written by whoever made the call; each helper
 * makes them inert where they land. Below everything that prints, so anything may use it.
 */
import { stringify } from 'csv-stringify/sync'

/** A message before it becomes MIME: what a person reads, as plain text and as HTML. */
export interface Composed {
  subject: string
  text: string
  html: string
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Direction overrides and isolates: they reorder what a person reads, so they are shown, never obeyed. */
const DIRECTION_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Direction controls shown as `\u202e` and its kin, for text a person reads as it is (a chat message). */
export function visibleDirection(value: string): string {
  return value.replace(DIRECTION_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Event fields are data: in HTML they are text, never markup, and never reorder the page. */
export function escapeHtml(value: string): string {
  return visibleDirection(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

/** A header value from data: one line (CR, LF and other controls become spaces, direction controls visible), bounded length. */
export function headerText(value: string, max = 160): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const line = visibleDirection(value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')).replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/**
 * A line of plain text from data: control characters, line separators and direction overrides
 * become visible escapes, so that a value cannot start a line of its own (a forged runbook step)
 * or reorder what a person reads.
 */
export function textLine(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return visibleDirection(value).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => TEXT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const TEXT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * A value as one word for a shell: pasted, it is that value and never a command. A value holding
 * control or direction characters is written with visible escapes in `$'…'` (bash, zsh, ksh), so
 * the word shown is the word run, and still names the same value.
 */
export function shellWord(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be shown
  const hidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
  if (!hidden.test(value)) return `'${value.replace(/'/g, `'\\''`)}'`
  const escaped = value.replace(/[\\']/g, (c) => `\\${c}`).replace(hidden, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return `$'${escaped}'`
}

/**
 * JSON whose bytes hold no direction control or line separator (they can only sit in strings, and
 * are written as `\uXXXX` there): the same value when parsed, inert when a person reads the body.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** "1 alert", "3 alerts". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${String(n)} ${n === 1 ? one : many}`
}

/** Rows as CSV with a header; a cell a spreadsheet would run as a formula (=, +, -, @, or a tab or CR first) is kept as text. */
export function csv<T extends object>(rows: T[], columns: (keyof T & string)[]): string {
  return stringify(
    rows.map((row) => columns.map((column) => row[column] ?? '')),
    {
      header: true,
      columns,
      cast: { boolean: (value) => (value ? 'true' : 'false'), string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
    },
  )
}

/** The candidates nearest a mistyped name (a few edits away, or sharing its start), nearest first. */
export function closestNames(name: string, candidates: readonly string[], max = 3): string[] {
  const wanted = name.toLowerCase()
  const scored = candidates.map((candidate) => ({ candidate, distance: editDistance(wanted, candidate.toLowerCase()) }))
  const near = Math.max(2, Math.floor(wanted.length / 3))
  return scored
    .filter(({ candidate, distance }) => distance <= near || candidate.toLowerCase().startsWith(wanted))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, max)
    .map(({ candidate }) => candidate)
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
