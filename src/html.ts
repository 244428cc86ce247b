/**
 * HTML that escapes by default. Markup is an `Html` value, made only by the `html` tag (and
 * `joinHtml`), whose interpolated strings and numbers are escaped. A plain string can never become
 * markup by being forgotten: it is escaped, and a function that wants markup does not accept one.
 */
import { escapeHtml } from './text.js'

const SEAL = Symbol('html')

export class Html {
  readonly #markup: string
  constructor(markup: string, seal: symbol) {
    if (seal !== SEAL) throw new TypeError('Html is made by html`…`')
    this.#markup = markup
  }
  /** The markup, to send or to put in a message. Deliberately not `toString`: a lint rule then catches markup joined as text. */
  get markup(): string {
    return this.#markup
  }
}

/** What may go into `html`: markup as it is, text escaped, and nothing for absent or false. */
export type HtmlValue = Html | string | number | false | null | undefined | readonly HtmlValue[]

function place(value: HtmlValue): string {
  if (typeof value === 'string') return escapeHtml(value)
  if (typeof value === 'number') return String(value)
  if (value instanceof Html) return value.markup
  if (value === false || value === null || value === undefined) return ''
  return value.map(place).join('')
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let markup = strings[0] ?? ''
  values.forEach((value, i) => {
    markup += place(value) + (strings[i + 1] ?? '')
  })
  return new Html(markup, SEAL)
}

/** Items with a separator between them, each placed as `html` would. */
export function joinHtml(items: readonly HtmlValue[], separator: HtmlValue): Html {
  return new Html(items.map(place).join(place(separator)), SEAL)
}

/** A whole HTML message: one centred column, readable on a phone. */
export function htmlDocument(body: Html, maxWidth = 640): string {
  return html`<!doctype html>
<html><body style="margin:0;padding:12px;font-family:-apple-system,Segoe UI,Roboto,sans-serif;font-size:15px;color:#111">
<div style="max-width:${maxWidth}px;margin:0 auto">
${body}
</div></body></html>
`.markup
}
