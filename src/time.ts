/** The engine's `YYYY-MM-DD hh:mm:ss.sss` (UTC) as ISO 8601, for findings people and tools read. */
export function isoTime(text: string): string {
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}
