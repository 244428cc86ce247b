/**
 * Sigma detection logic (selections, modifiers, conditions) for the CloudTrail log source, compiled
 * to a ClickHouse condition over `events`. Every value and every field name becomes a query
 * parameter: nothing a rule or an event holds is ever SQL text.
 */

import { wildcardRegExp } from '../src/glob.js'

/**
 * Fields read from columns: CloudTrail's own where a column holds exactly the raw value, and under
 * `trailwatch.` what the store knows of each call. Every other field is read from `raw`.
 */
const EXACT_COLUMNS: Record<string, string> = {
  eventSource: 'toString(event_source)',
  eventName: 'toString(event_name)',
  eventType: 'toString(event_type)',
  awsRegion: 'toString(aws_region)',
  errorCode: 'toString(error_code)',
  errorMessage: 'error_message',
  userAgent: 'user_agent',
  'userIdentity.accessKeyId': 'access_key_id',
  // The user or role behind the call, whatever the session's name: a role is one principal.
  'trailwatch.principal': 'principal_arn',
  // human-console, human-cli, automation or aws-service (README: "Who made the call").
  'trailwatch.actor': 'toString(actor_kind)',
  // The two-letter country of the caller's address; empty for private addresses and AWS hostnames.
  'trailwatch.country': 'toString(source_country)',
  // The named address lists the caller's address was on when stored (tor-exit, the operator's own), comma-separated: match with |contains.
  'trailwatch.addressLists': "arrayStringConcat(source_lists, ',')",
}

/**
 * trailwatch's fields worked out from the original record, empty when it has none: read like a
 * column, but from `raw`, so never first.
 */
const DERIVED_FIELDS: Record<string, string> = {
  // Every instance type a request names, wherever it nests (RunInstances, a fleet's or an Auto
  // Scaling group's overrides, a launch template, ModifyInstanceAttribute's {"value": …}): sorted, once each, joined by commas.
  'trailwatch.instanceTypes': `arrayStringConcat(arraySort(arrayDistinct(extractAll(JSONExtractRaw(raw, 'requestParameters'), '"(?i:instanceType)"[[:space:]]*:[[:space:]]*(?:[{][[:space:]]*"value"[[:space:]]*:[[:space:]]*)?"([^"]+)"'))), ',')`,
  // Whom an image, snapshot or database snapshot is shared with, in words: the accounts,
  // organizations and units a permission adds, and "everyone" for the public group (an entry of
  // another shape as written, so that no share goes unseen); sorted, once each.
  'trailwatch.sharedWith': `arrayStringConcat(arraySort(arrayDistinct(arrayMap(v -> if(v = 'all', 'everyone', v), arrayFilter(v -> v != '', arrayConcat(
      arrayMap(item -> coalesce(nullIf(JSONExtractString(item, 'userId'), ''), nullIf(JSONExtractString(item, 'organizationArn'), ''), nullIf(JSONExtractString(item, 'organizationalUnitArn'), ''), nullIf(JSONExtractString(item, 'group'), ''), item),
        arrayConcat(JSONExtractArrayRaw(raw, 'requestParameters', 'launchPermission', 'add', 'items'), JSONExtractArrayRaw(raw, 'requestParameters', 'createVolumePermission', 'add', 'items'))),
      JSONExtract(raw, 'requestParameters', 'valuesToAdd', 'Array(String)')))))), ', ')`,
  // The other AWS accounts a request names (every twelve-digit number in its parameters but the
  // account's own: principals, conditions, ARNs), sorted, once each: whom a resource policy lets in.
  'trailwatch.accountsNamed': `arrayStringConcat(arraySort(arrayDistinct(arrayFilter(a -> a != account_id,
      extractAll(JSONExtractRaw(raw, 'requestParameters'), '(?:^|[^0-9])([0-9]{12})(?:[^0-9]|$)')))), ', ')`,
}

/** A field the store answers without a JSON path: a column or a derived field. */
const storeField = (field: string): string | undefined => EXACT_COLUMNS[field] ?? DERIVED_FIELDS[field]

const MODIFIERS = new Set(['contains', 'startswith', 'endswith', 're', 'all', 'fieldref', 'cidr', 'exists', 'gt', 'gte', 'lt', 'lte'])

export class UnsupportedRule extends Error {
  /** The rule's top-level key the problem is under, when known, to name its line. */
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message)
  }
}

/**
 * A condition, and a weaker one on columns alone that every row it matches meets too (none when
 * it has none): read first, as PREWHERE, it spares reading the original record of other rows.
 */
export interface Part {
  sql: string
  pre: string | undefined
}

export interface CompiledCondition extends Part {
  params: Record<string, unknown>
}

type Value = string | number | boolean | null

/** Compiles a rule's `detection` block; throws UnsupportedRule with what it cannot express. */
export function compileDetection(detection: Record<string, unknown>, params: Record<string, unknown> = {}): CompiledCondition {
  const { condition, ...selections } = detection
  if (typeof condition !== 'string') throw new UnsupportedRule(Array.isArray(condition) ? 'a list of conditions' : 'no condition')
  const param = parameters(params)
  const compiled = new Map<string, Part>()
  for (const [name, selection] of Object.entries(selections)) compiled.set(name, compileSelection(name, selection, param))
  return { ...compileCondition(condition, compiled), params }
}

/**
 * `FROM events` over a window (the query parameters named), rows matching the condition: the
 * window and the condition's part on columns are read first, the original record only after.
 */
export function eventsMatching(condition: Part, from = 'from', to = 'now'): string {
  const window = `event_time >= {${from}:DateTime64(3)} AND event_time < {${to}:DateTime64(3)}`
  return `FROM events PREWHERE ${window}${condition.pre ? ` AND ${condition.pre}` : ''} WHERE ${condition.sql}`
}

type Param = (value: unknown, type: string) => string

/** Adds each value to `params` under a new name and returns its placeholder. */
function parameters(params: Record<string, unknown>): Param {
  // Counted, not looked up: a list of 20,000 values must not cost 20,000 walks over the names.
  let next = Object.keys(params).length
  return (value, type) => {
    const name = `p${String(next++)}`
    params[name] = value
    return `{${name}:${type}}`
  }
}

const COMPARISONS: Record<string, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '!=' }

export interface CorrelationSpec {
  type: 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered'
  /** The `detection` blocks of the rules it correlates. */
  detections: Record<string, unknown>[]
  groupBy: string[]
  /** `gte: 10` and the like; for value_count, `field` names what is counted. */
  condition: Record<string, number | string>
}

export interface CompiledCorrelation {
  /** Each correlated rule's condition, in the order given. */
  rules: Part[]
  groups: string[]
  /** event_count and value_count: the field whose distinct values count, none for events. */
  counted: string | undefined
  /** event_count and value_count: what the count (`measure`) must meet; none for the temporal types. */
  bounds: string | undefined
  params: Record<string, unknown>
}

/**
 * A Sigma correlation: the rules it correlates, what groups their events, and for a count what is
 * counted and the bounds of the condition (`gte: 10` and the like).
 */
export function compileCorrelation(spec: CorrelationSpec): CompiledCorrelation {
  const params: Record<string, unknown> = {}
  const rules = spec.detections.map((detection) => compileDetection(detection, params))
  const param = parameters(params)
  const groups = spec.groupBy.map((field) => fieldText(field, param))
  if (spec.type === 'temporal' || spec.type === 'temporal_ordered') return { rules, groups, counted: undefined, bounds: undefined, params }
  const { field, ...comparisons } = spec.condition
  if (spec.type === 'value_count' && typeof field !== 'string') throw new UnsupportedRule('value_count: the condition names no field')
  const bounds = Object.entries(comparisons).map(([op, value]) => {
    const operator = COMPARISONS[op]
    if (operator === undefined || typeof value !== 'number') throw new UnsupportedRule(`correlation condition ${op}: ${String(value)}`)
    return `measure ${operator} ${param(value, 'UInt64')}`
  })
  if (bounds.length === 0) throw new UnsupportedRule(`${spec.type}: no condition`)
  return { rules, groups, counted: spec.type === 'value_count' ? fieldText(String(field), param) : undefined, bounds: andOf(bounds), params }
}

/** A field's value as text, for a rule to show or to group by: its path is parameters like every other. */
export function fieldExpression(field: string, params: Record<string, unknown>): string {
  return fieldText(field, parameters(params))
}

function compileSelection(name: string, selection: unknown, param: Param): Part {
  if (Array.isArray(selection)) {
    if (selection.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
      return anyOf(selection.map((item) => compileMap(item as Record<string, unknown>, param)))
    }
    throw new UnsupportedRule(`${name}: keywords (values without a field)`)
  }
  if (typeof selection === 'object' && selection !== null) return compileMap(selection as Record<string, unknown>, param)
  throw new UnsupportedRule(`${name}: a selection must be a map or a list of maps`)
}

function compileMap(map: Record<string, unknown>, param: Param): Part {
  const parts = Object.entries(map).map(([key, value]) => {
    const [field = '', ...modifiers] = key.split('|')
    for (const modifier of modifiers) if (!MODIFIERS.has(modifier)) throw new UnsupportedRule(`${key}: the modifier ${modifier}`)
    const values = (Array.isArray(value) ? value : [value]) as unknown[]
    for (const v of values) if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw new UnsupportedRule(`${key}: a value that is not text, a number or null`)
    const matches = (values as Value[]).map((v): Part => {
      const sql = compileValue(field, modifiers, v, param)
      const columnsOnly = EXACT_COLUMNS[field] !== undefined && (!modifiers.includes('fieldref') || EXACT_COLUMNS[String(v)] !== undefined)
      return { sql, pre: columnsOnly ? sql : undefined }
    })
    return modifiers.includes('all') ? allOf(matches) : anyOf(matches)
  })
  return allOf(parts)
}

/** The field's value as text: strings as they are, numbers and booleans as JSON writes them; '' when absent. */
function fieldText(field: string, param: Param): string {
  const known = storeField(field)
  if (known) return known
  const path = jsonPath(field, param)
  return `if(JSONType(raw, ${path}) = 'String', JSONExtractString(raw, ${path}), JSONExtractRaw(raw, ${path}))`
}

function jsonPath(field: string, param: Param): string {
  return field
    .split('.')
    .map((key) => param(key, 'String'))
    .join(', ')
}

function compileValue(field: string, modifiers: string[], value: Value, param: Param): string {
  if (modifiers.includes('exists')) return value === false ? `NOT ${presence(field, param)}` : presence(field, param)
  if (value === null) {
    return storeField(field) ? `${fieldText(field, param)} = ''` : `(NOT JSONHas(raw, ${jsonPath(field, param)}) OR JSONType(raw, ${jsonPath(field, param)}) = 'Null')`
  }
  const text = fieldText(field, param)
  if (modifiers.includes('fieldref')) return `${text} = ${fieldText(String(value), param)}`
  if (modifiers.includes('re')) return `match(${text}, ${param(String(value), 'String')})`
  if (modifiers.includes('cidr')) return `isIPAddressInRange(${text}, ${param(String(value), 'String')})`
  for (const [modifier, operator] of [['gt', '>'], ['gte', '>='], ['lt', '<'], ['lte', '<=']] as const) {
    if (modifiers.includes(modifier)) return `toFloat64OrNull(${text}) ${operator} ${param(Number(value), 'Float64')}`
  }
  // Sigma compares text without regard to case; `*` and `?` are wildcards unless escaped.
  const pattern = likePattern(String(value))
  const wrapped = modifiers.includes('contains') ? `%${pattern}%` : modifiers.includes('startswith') ? `${pattern}%` : modifiers.includes('endswith') ? `%${pattern}` : pattern
  // A pattern of wildcards alone (`contains: '*'`) asks whether the field is there at all: absent is not empty text.
  if (/^%*$/.test(wrapped)) return presence(field, param)
  return `${text} ILIKE ${param(wrapped, 'String')}`
}

function presence(field: string, param: Param): string {
  return storeField(field) ? `${fieldText(field, param)} != ''` : `JSONHas(raw, ${jsonPath(field, param)})`
}

function likePattern(value: string): string {
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string
    if (c === '\\' && i + 1 < value.length && ['*', '?', '\\'].includes(value[i + 1] as string)) {
      out += escapeLike(value[++i] as string)
    } else if (c === '*') out += '%'
    else if (c === '?') out += '_'
    else out += escapeLike(c)
  }
  return out
}

function escapeLike(c: string): string {
  return c === '%' || c === '_' || c === '\\' ? `\\${c}` : c
}

const andOf = (parts: string[]): string => (parts.length === 1 ? (parts[0] as string) : `(${parts.join(' AND ')})`)
const orOf = (parts: string[]): string => (parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`)

/** Every part: a row must meet each one's part on columns. */
function allOf(parts: Part[]): Part {
  const pres = parts.flatMap((part) => (part.pre === undefined ? [] : [part.pre]))
  return { sql: andOf(parts.map((part) => part.sql)), pre: pres.length > 0 ? andOf(pres) : undefined }
}

/** Any part: a row must meet one of their parts on columns, when each has one. */
export function anyOf(parts: Part[]): Part {
  const pres = parts.flatMap((part) => (part.pre === undefined ? [] : [part.pre]))
  return { sql: orOf(parts.map((part) => part.sql)), pre: pres.length === parts.length ? orOf(pres) : undefined }
}

/** Not the part: only a condition wholly on columns says anything about the columns when negated. */
function noneOf(part: Part): Part {
  const sql = `NOT ${part.sql}`
  return { sql, pre: part.pre === part.sql ? sql : undefined }
}

/** Parentheses and `not`s a condition may nest: deep enough for any rule a person writes, not for a stack overflow. */
const MAX_CONDITION_DEPTH = 64

/** `sel and not 1 of filter_*`, `all of them`, parentheses: not binds tightest, then and, then or. */
function compileCondition(condition: string, selections: Map<string, Part>): Part {
  if (condition.includes('|')) throw new UnsupportedRule(`condition "${condition}": an aggregation (| count() …), which Sigma replaced with correlation rules`)
  const tokens = condition.match(/\(|\)|[^\s()]+/g) ?? []
  let at = 0
  let depth = 0
  const peek = (): string | undefined => tokens[at]?.toLowerCase()
  const expect = (token: string): void => {
    if (peek() !== token) throw new UnsupportedRule(`condition "${condition}": expected ${token}`)
    at++
  }
  const named = (pattern: string): Part[] => {
    const names = pattern === 'them' ? [...selections.keys()] : [...selections.keys()].filter((name) => wildcardRegExp(pattern, { anyOne: true }).test(name))
    if (names.length === 0) throw new UnsupportedRule(`condition "${condition}": no selection matches ${pattern}`)
    return names.map((name) => selections.get(name) as Part)
  }
  const primary = (): Part => {
    const token = peek()
    if (token === undefined) throw new UnsupportedRule(`condition "${condition.slice(0, 200)}": ends too soon`)
    if (++depth > MAX_CONDITION_DEPTH) throw new UnsupportedRule(`condition: nested deeper than ${String(MAX_CONDITION_DEPTH)} levels`)
    try {
      return primaryAt(token)
    } finally {
      depth--
    }
  }
  const primaryAt = (token: string): Part => {
    if (token === '(') {
      at++
      const inner = or()
      expect(')')
      return inner
    }
    if (token === 'not') {
      at++
      return noneOf(primary())
    }
    if (token === '1' || token === 'all' || token === 'any') {
      at++
      expect('of')
      const target = tokens[at++]
      if (target === undefined) throw new UnsupportedRule(`condition "${condition}": "of" names nothing`)
      const parts = named(target)
      return token === 'all' ? allOf(parts) : anyOf(parts)
    }
    at++
    const selection = selections.get(tokens[at - 1] as string)
    if (selection === undefined) throw new UnsupportedRule(`condition "${condition}": no selection ${String(tokens[at - 1])}`)
    return selection
  }
  const and = (): Part => {
    const parts = [primary()]
    while (peek() === 'and') {
      at++
      parts.push(primary())
    }
    return allOf(parts)
  }
  const or = (): Part => {
    const parts = [and()]
    while (peek() === 'or') {
      at++
      parts.push(and())
    }
    return anyOf(parts)
  }
  const sql = or()
  if (at < tokens.length) throw new UnsupportedRule(`condition "${condition}": unexpected ${String(tokens[at])}`)
  return sql
}
