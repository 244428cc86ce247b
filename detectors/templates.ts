import type { Severity } from './define.js'

/** `{{name}}`: a value the rule matched, by name or by a field's path. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g
const NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/

/** One value shown in a title stays readable; the whole of it is in the event. */
const MAX_VALUE_LENGTH = 200

/** The names a template refers to; throws on one that is neither a name nor a field path. */
export function templateNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map(([whole, name = '']) => {
    if (!NAME.test(name)) throw new Error(`${whole} is not a value's name or a field path`)
    return name
  })
}

/**
 * The template with each `{{name}}` replaced by its value, once: a value holding `{{…}}` stays
 * text. Values come from events, so whatever shows the result escapes it for its own medium.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name] ?? ''
    return value.length > MAX_VALUE_LENGTH ? `${value.slice(0, MAX_VALUE_LENGTH)}…` : value
  })
}

export interface SeverityTemplate {
  /** A template whose value picks the severity. */
  from: string
  /** The severity for an exact value. */
  equals?: Record<string, Severity> | undefined
  /** The severity from a number up: the highest bound the value reaches wins. */
  atLeast?: Record<string, Severity> | undefined
}

/** The severity a finding's values give: an exact value first, then the highest bound reached, else the rule's level. */
export function templatedSeverity(template: SeverityTemplate | undefined, values: Record<string, string>, level: Severity): Severity {
  if (!template) return level
  const value = renderTemplate(template.from, values)
  const exact = template.equals?.[value]
  if (exact) return exact
  const number = Number(value)
  if (value === '' || !Number.isFinite(number)) return level
  const reached = Object.entries(template.atLeast ?? {})
    .filter(([bound]) => number >= Number(bound))
    .sort(([a], [b]) => Number(b) - Number(a))
  return reached[0]?.[1] ?? level
}
