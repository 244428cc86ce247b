import cron, { type ScheduledTask } from 'node-cron'
import type { Store } from '../src/clickhouse/client.js'
import { errorMessage } from '../src/errors.js'
import type { Settings } from '../src/settings.js'
import { metrics } from '../src/metrics.js'
import type { Logger } from '../src/logger.js'
import { durationMs, type Detector, type Finding } from './define.js'
import { detectorConfig, readWatermark, runDetector, storeFindings, writeWatermark } from './engine.js'

export interface SchedulerOptions {
  settings: Settings
  logger: Logger
  /** The clock, for tests; detectors themselves only ever see `now` as an argument. */
  clock?: () => Date
  /** Default LATENESS_MS. */
  latenessMs?: number
  /** After a long stop, catch up at most this far. */
  maxCatchUpMs?: number
}

/** CloudTrail delivers in about 5 minutes on average and promises nothing: each run looks back this far past the last. */
export const LATENESS_MS = 15 * 60_000

/** The window a scheduled run covers: from the last run's end (less lateness), at least the detector's own window. */
export function scheduledWindow(detector: Detector, now: Date, watermark: Date | undefined, latenessMs: number, maxCatchUpMs: number): { from: Date; now: Date } {
  const own = now.getTime() - durationMs(detector.window)
  const sinceLast = watermark ? watermark.getTime() - latenessMs : own
  return { from: new Date(Math.max(Math.min(own, sinceLast), now.getTime() - maxCatchUpMs)), now }
}

/** Runs every detector on its cron schedule (UTC), never two runs of one detector at once. */
export class DetectorScheduler {
  private tasks: ScheduledTask[] = []
  private readonly running = new Set<Promise<unknown>>()
  private readonly clock: () => Date
  private readonly logger: Logger

  constructor(
    private readonly store: Store,
    private readonly detectors: Detector[],
    private readonly options: SchedulerOptions,
  ) {
    this.clock = options.clock ?? (() => new Date())
    this.logger = options.logger.child({ module: 'detectors.scheduler' })
    // Fail on a bad configuration at start, not at the first tick.
    for (const detector of detectors) detectorConfig(detector, options.settings.detectors)
  }

  start(): void {
    for (const detector of this.detectors) {
      const task = cron.schedule(detector.schedule, () => this.track(this.runScheduled(detector)), { timezone: 'UTC', noOverlap: true, name: detector.id })
      this.tasks.push(task)
    }
    this.logger.info({ detectors: this.detectors.map((d) => d.id) }, 'detectors scheduled')
  }

  async stop(): Promise<void> {
    for (const task of this.tasks) await task.stop()
    this.tasks = []
    await Promise.allSettled([...this.running])
  }

  /** One scheduled run: from the watermark to now, findings stored, watermark moved. */
  async runScheduled(detector: Detector): Promise<Finding[]> {
    const started = performance.now()
    const now = this.clock()
    try {
      const watermark = await readWatermark(this.store, detector.id)
      const window = scheduledWindow(detector, now, watermark, this.options.latenessMs ?? LATENESS_MS, this.options.maxCatchUpMs ?? 7 * 86_400_000)
      const findings = await runDetector(this.store, detector, window, this.options.settings)
      await storeFindings(this.store, findings, now)
      await writeWatermark(this.store, detector.id, now, now)
      metrics.detectorSeconds.observe({ detector: detector.id }, (performance.now() - started) / 1000)
      for (const finding of findings) metrics.detectorFindings.inc({ detector: detector.id, severity: finding.severity })
      this.logger.info({ detector: detector.id, findings: findings.length, ms: Math.round(performance.now() - started) }, 'detector ran')
      return findings
    } catch (err) {
      // The watermark stays: the next run covers this window too.
      metrics.detectorFailures.inc({ detector: detector.id })
      this.logger.error({ detector: detector.id, err: errorMessage(err) }, 'detector run failed')
      return []
    }
  }

  private track(run: Promise<unknown>): Promise<unknown> {
    this.running.add(run)
    void run.finally(() => this.running.delete(run))
    return run
  }
}
