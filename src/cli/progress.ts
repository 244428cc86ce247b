/** A one-line progress bar on stderr when it is a terminal; silent otherwise (logs, CI, pipes). */
export class ProgressLine {
  private lastDraw = 0
  private readonly started = performance.now()
  private readonly enabled = process.stderr.isTTY

  update(done: number, total: number, count: number, unit: string): void {
    if (!this.enabled) return
    const now = performance.now()
    if (now - this.lastDraw < 200) return
    this.lastDraw = now
    const fraction = total > 0 ? Math.min(1, done / total) : 0
    const width = 30
    const filled = Math.round(fraction * width)
    const rate = count / Math.max(0.001, (now - this.started) / 1000)
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`
    process.stderr.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(done)} / ${formatBytes(total)}  ${count.toLocaleString('en')} ${unit}  ${Math.round(rate).toLocaleString('en')}/s `)
  }

  clear(): void {
    if (this.enabled) process.stderr.write('\r\x1b[2K')
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
