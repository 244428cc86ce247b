/**
 * A wildcard pattern as a regular expression: `*` any run of characters, and with `anyOne` `?` one
 * character; every other character is literal. Used for principal ARN patterns, IAM actions and
 * resources, and Sigma's selection names.
 */
export function wildcardRegExp(pattern: string, { anyOne = false, flags = '' }: { anyOne?: boolean; flags?: string } = {}): RegExp {
  const special = anyOne ? /[.+^${}()|[\]\\]/g : /[.+?^${}()|[\]\\]/g
  const escaped = pattern.replace(special, '\\$&').replace(/\*/g, '.*')
  return new RegExp(`^${anyOne ? escaped.replace(/\?/g, '.') : escaped}$`, flags)
}

/** `*` matches anything; every other character is literal. */
export function globMatches(pattern: string, value: string): boolean {
  return wildcardRegExp(pattern).test(value)
}
