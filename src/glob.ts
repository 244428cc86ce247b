/** `*` matches anything; every other character is literal. Used for principal ARN patterns. */
export function globMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
  return regex.test(value)
}
