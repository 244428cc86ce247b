const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }

export const DURATION_PATTERN = /^(\d+)([mhd])$/

/** '15m', '6h', '30d' to milliseconds. */
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text)
  if (!match) throw new Error(`not a duration: ${text} (expected e.g. 15m, 6h, 30d)`)
  return Number(match[1]) * (UNITS[match[2] as string] as number)
}
