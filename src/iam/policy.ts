import { wildcardRegExp } from '../glob.js'
import { BlockList, isIP } from 'node:net'
import { AppError } from '../errors.js'

/** A value a condition or a context key may hold. */
type Scalar = string | number | boolean

export interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Condition?: Record<string, Record<string, Scalar | Scalar[]>>
}

export interface PolicyDocument {
  Version?: string
  Statement: Statement | Statement[]
}

/** A policy with the name a person knows it by: a managed policy's ARN, or `user/NAME:INLINE`. */
export interface NamedPolicy {
  name: string
  document: PolicyDocument
}

/** One request: the action (`s3:GetObject`), the resource ARN, and the request context's keys. */
export interface Request {
  action: string
  resource: string
  /** Global and service keys, by name (case-insensitive): `aws:MultiFactorAuthPresent`, `aws:SourceIp`, … */
  context?: Record<string, Scalar | Scalar[] | undefined>
}

export interface Decision {
  decision: 'allowed' | 'explicit-deny' | 'implicit-deny'
  /** The statements that decided it: the denying ones, or the allowing ones (and the boundary's). */
  because: string[]
}

/** A policy field that holds one value or several, as a list. */
export const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

export function statementsOf(document: PolicyDocument): Statement[] {
  return asList(document.Statement)
}

const patterns = new Map<string, RegExp>()
function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`
  let regex = patterns.get(key)
  if (!regex) {
    // IAM's wildcards: `*` any run of characters, `?` one.
    regex = wildcardRegExp(pattern, { anyOne: true, flags: ignoreCase ? 'i' : '' })
    patterns.set(key, regex)
  }
  return regex.test(value)
}

/** Actions match without regard to case (`iam:createuser` is `iam:CreateUser`). */
export function actionMatches(pattern: string, action: string): boolean {
  return globMatch(pattern, action, true)
}

/** `${aws:username}` and the like, from the request context; a variable it lacks matches nothing. */
export function substitute(pattern: string, context: Request['context']): string | undefined {
  if (!pattern.includes('${')) return pattern
  const VARIABLE = /\$\{([^}]+)\}/g
  const literal = (name: string): boolean => name === '*' || name === '?' || name === '$'
  const values = new Map([...pattern.matchAll(VARIABLE)].map(([, name = '']) => [name, literal(name) ? name : contextValue(context, name)]))
  if ([...values.values()].some((value) => value === undefined || Array.isArray(value))) return undefined
  return pattern.replace(VARIABLE, (_, name: string) => String(values.get(name)))
}

/** Whether a resource pattern, its variables already filled in, matches a resource ARN. */
export function resourceGlobMatches(pattern: string, resource: string): boolean {
  return globMatch(pattern, resource, false)
}

function resourceMatches(pattern: string, request: Request): boolean {
  const resolved = substitute(pattern, request.context)
  return resolved !== undefined && globMatch(resolved, request.resource, false)
}

function contextValue(context: Request['context'], key: string): Scalar | Scalar[] | undefined {
  if (!context) return undefined
  const lower = key.toLowerCase()
  for (const [name, value] of Object.entries(context)) if (name.toLowerCase() === lower) return value
  return undefined
}

function inCidr(address: string, cidr: string): boolean {
  const [network = '', prefix] = cidr.split('/')
  const family = isIP(network)
  if (family === 0 || isIP(address) === 0) return false
  const blocks = new BlockList()
  const type = family === 4 ? 'ipv4' : 'ipv6'
  blocks.addSubnet(network, prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix), type)
  return blocks.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6')
}

/** Whether one context value matches one policy value under a base operator (no Not, IfExists or set prefix). */
function matchesValue(base: string, policy: Scalar, given: Scalar): boolean {
  const p = String(policy)
  const g = String(given)
  switch (base) {
    case 'StringEquals':
    case 'ArnEquals':
      return p === g
    case 'StringEqualsIgnoreCase':
      return p.toLowerCase() === g.toLowerCase()
    case 'StringLike':
    case 'ArnLike':
      return globMatch(p, g, false)
    case 'NumericEquals':
      return Number(g) === Number(p)
    case 'NumericLessThan':
      return Number(g) < Number(p)
    case 'NumericLessThanEquals':
      return Number(g) <= Number(p)
    case 'NumericGreaterThan':
      return Number(g) > Number(p)
    case 'NumericGreaterThanEquals':
      return Number(g) >= Number(p)
    case 'DateEquals':
      return Date.parse(g) === Date.parse(p)
    case 'DateLessThan':
      return Date.parse(g) < Date.parse(p)
    case 'DateLessThanEquals':
      return Date.parse(g) <= Date.parse(p)
    case 'DateGreaterThan':
      return Date.parse(g) > Date.parse(p)
    case 'DateGreaterThanEquals':
      return Date.parse(g) >= Date.parse(p)
    case 'Bool':
      return p.toLowerCase() === g.toLowerCase()
    case 'IpAddress':
      return inCidr(g, p)
    default:
      throw new AppError('UNSUPPORTED_CONDITION', `condition operator ${base} is not supported`)
  }
}

/** The positive operator a negated one denies: StringNotEquals → StringEquals. */
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
}

/**
 * One operator on one key, as AWS documents it: several policy values are alternatives (OR; a
 * negated operator: none may match), a key missing from the request makes the condition false
 * (true for a negated operator, and for `…IfExists`), `Null` tests presence, and `ForAnyValue:` /
 * `ForAllValues:` compare each value of a multivalued key.
 */
function conditionHolds(operator: string, key: string, policyValues: Scalar[], context: Request['context']): boolean {
  const [qualifier, rest] = operator.includes(':') ? (operator.split(':', 2) as [string, string]) : [undefined, operator]
  const ifExists = rest.endsWith('IfExists')
  const name = ifExists ? rest.slice(0, -'IfExists'.length) : rest
  const given = contextValue(context, key)
  if (name === 'Null') {
    const absent = given === undefined || (Array.isArray(given) && given.length === 0)
    return policyValues.some((v) => String(v).toLowerCase() === String(absent))
  }
  const negated = name in NEGATED
  const base = NEGATED[name] ?? name
  // A value whose variable the request lacks matches nothing.
  const values = policyValues.flatMap((v): Scalar[] => {
    if (typeof v !== 'string') return [v]
    const resolved = substitute(v, context)
    return resolved === undefined ? [] : [resolved]
  })
  const anyMatch = (value: Scalar): boolean => values.some((p) => matchesValue(base, p, value))
  if (qualifier === 'ForAllValues') {
    const items = asList(given)
    return items.every((value) => (negated ? !anyMatch(value) : anyMatch(value)))
  }
  if (qualifier === 'ForAnyValue') {
    const items = asList(given)
    return items.some((value) => (negated ? !anyMatch(value) : anyMatch(value)))
  }
  if (qualifier !== undefined) throw new AppError('UNSUPPORTED_CONDITION', `condition qualifier ${qualifier} is not supported`)
  if (given === undefined) return ifExists || negated
  const items = asList(given)
  return negated ? !items.some(anyMatch) : items.some(anyMatch)
}

/** Every operator and every key of a Condition block must hold (AND); an empty block holds. */
export function conditionsHold(condition: Statement['Condition'], context: Request['context']): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, values] of Object.entries(keys)) if (!conditionHolds(operator, key, asList(values), context)) return false
  }
  return true
}

// A managed policy such as ReadOnlyAccess names thousands of actions and is shared by thousands of
// identities: what each statement covers is worked out once per action.
const covered = new WeakMap<Statement, Map<string, boolean>>()

/** Whether a statement's Action (or NotAction) covers an action, its resources and conditions aside. */
export function coversAction(statement: Statement, action: string): boolean {
  let known = covered.get(statement)
  if (!known) {
    known = new Map()
    covered.set(statement, known)
  }
  const key = action.toLowerCase()
  let covers = known.get(key)
  if (covers === undefined) {
    covers = statement.Action !== undefined ? asList(statement.Action).some((a) => actionMatches(a, action)) : !asList(statement.NotAction).some((a) => actionMatches(a, action))
    known.set(key, covers)
  }
  return covers
}

/** Whether a statement covers the request: its action, its resource and its conditions. */
export function statementApplies(statement: Statement, request: Request): boolean {
  if (!coversAction(statement, request.action)) return false
  const resource =
    statement.Resource !== undefined ? asList(statement.Resource).some((r) => resourceMatches(r, request)) : statement.NotResource !== undefined ? !asList(statement.NotResource).some((r) => resourceMatches(r, request)) : false
  return resource && conditionsHold(statement.Condition, request.context)
}

function applying(policies: NamedPolicy[], request: Request, effect: Statement['Effect']): string[] {
  return policies.flatMap((policy) => statementsOf(policy.document).flatMap((s, i) => (s.Effect === effect && statementApplies(s, request) ? [`${policy.name}#${s.Sid ?? String(i)}`] : [])))
}

/**
 * AWS's evaluation for one principal's own policies: an explicit Deny anywhere wins; otherwise the
 * request is allowed when an identity policy allows it and, when the principal has a permission
 * boundary, the boundary allows it too; anything else is denied by default.
 */
export function evaluate(request: Request, policies: { identity: NamedPolicy[]; boundary?: NamedPolicy[] | undefined }): Decision {
  const denies = [...applying(policies.identity, request, 'Deny'), ...applying(policies.boundary ?? [], request, 'Deny')]
  if (denies.length) return { decision: 'explicit-deny', because: denies }
  const allows = applying(policies.identity, request, 'Allow')
  if (allows.length === 0) return { decision: 'implicit-deny', because: [] }
  if (policies.boundary) {
    const bounded = applying(policies.boundary, request, 'Allow')
    if (bounded.length === 0) return { decision: 'implicit-deny', because: ['outside the permission boundary'] }
    return { decision: 'allowed', because: [...allows, ...bounded] }
  }
  return { decision: 'allowed', because: allows }
}
