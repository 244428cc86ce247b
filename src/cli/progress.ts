/** What the progress line measures: bytes of input (with a count of what they held beside), or a count of steps. */
export type ProgressMeasure = { of: 'bytes'; counting: string } | { of: 'steps'; counting: string }

/**
 * A one-line progress bar on stderr when it is a terminal: how much is done of how much, the rate and
 * the time left. Silent otherwise (logs, CI, pipes).
 */
export class ProgressLine {
  private lastDraw = Number.NEGATIVE_INFINITY
  private readonly started = performance.now()
  private readonly enabled: boolean

  constructor(
    private readonly measure: ProgressMeasure,
    private readonly output: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {
    this.enabled = output.isTTY === true
  }

  /** `count` is what the bytes held (records, messages); for steps it is `done`. */
  update(done: number, total: number, count = done): void {
    if (!this.enabled) return
    const now = performance.now()
    if (now - this.lastDraw < 200) return
    this.lastDraw = now
    const seconds = Math.max(0.001, (now - this.started) / 1000)
    const fraction = total > 0 ? Math.min(1, done / total) : 0
    const width = 30
    const filled = Math.round(fraction * width)
    const amount =
      this.measure.of === 'bytes'
        ? `${formatBytes(done)} / ${formatBytes(total)}  ${count.toLocaleString('en')} ${this.measure.counting}`
        : `${done.toLocaleString('en')} / ${total.toLocaleString('en')} ${this.measure.counting}`
    const rate = `${Math.round(count / seconds).toLocaleString('en')}/s`
    const left = fraction > 0 && fraction < 1 ? `  ${formatSeconds((seconds * (1 - fraction)) / fraction)} left` : ''
    this.output.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${amount}  ${rate}${left}`)
  }

  clear(): void {
    if (this.enabled) this.output.write('\r\x1b[2K')
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** 42 s, 3 min 20 s, 2 h 5 min. */
export function formatSeconds(seconds: number): string {
  const whole = Math.round(seconds)
  if (whole < 60) return `${String(whole)} s`
  if (whole < 3600) return `${String(Math.floor(whole / 60))} min ${String(whole % 60)} s`
  return `${String(Math.floor(whole / 3600))} h ${String(Math.floor((whole % 3600) / 60))} min`
}
