import cron, { type ScheduledTask } from 'node-cron'
import { switchedOff } from '../src/alerts/switches.js'
import pLimit, { type LimitFunction } from 'p-limit'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Store } from '../src/clickhouse/client.js'
import { journalNow, storedBatchesAfter } from '../src/clickhouse/stored-batches.js'
import { errorMessage } from '../src/errors.js'
import { recordFindings, type DetectedFindings } from '../src/incidents/record.js'
import type { Settings } from '../src/settings.js'
import { metrics } from '../src/metrics.js'
import { cronLogger, moduleLogger, type Logger } from '../src/logger.js'
import { durationMs, type Detector, type Finding } from './define.js'
import { detectorConfig, readWatermark, replayTogether, runDetector, touchedDetectors, writeWatermark } from './engine.js'
import type { CompiledCondition } from './sigma.js'
import { detectRange, LATENESS_MS, scheduledWindow } from './replay.js'

const MINUTE = 60_000
/** The longest stretch of event times one pass on stored events reads. */
const MAX_STORED_SPAN_MS = 24 * 60 * MINUTE

interface Span {
  from: Date
  to: Date
}

/** Spans with a span added, those less than `gapMs` apart joined into one, in time order. */
function joinSpan(spans: Span[], span: Span, gapMs: number): Span[] {
  const sorted = [...spans, span].sort((a, b) => a.from.getTime() - b.from.getTime())
  const joined: Span[] = []
  for (const next of sorted) {
    const last = joined.at(-1)
    if (last && next.from.getTime() - last.to.getTime() < gapMs) last.to = new Date(Math.max(last.to.getTime(), next.to.getTime()))
    else joined.push({ ...next })
  }
  return joined
}

export interface SchedulerOptions {
  settings: Settings
  logger: Logger
  /** The clock, for tests; detectors themselves only ever see `now` as an argument. */
  clock?: () => Date
  /** Default LATENESS_MS. */
  latenessMs?: number
  /** After a long stop, catch up at most this far. */
  maxCatchUpMs?: number
  /** Called once a run's findings are stored and in incidents: the alerter need not wait for its poll. */
  onFindings?: () => void
  /**
   * How many scheduled runs go at once (default 1). They all fall due on the same second each
   * minute; run together they take the engine from the passes on stored batches for many seconds,
   * and those passes are what alerts in seconds. The scheduled runs are the net for late events.
   */
  scheduledConcurrency?: number
  /**
   * Look this often at the journal of batches other processes stored (`trailwatch ingest` beside
   * `trailwatch detect`) and run the immediate detectors over them, as `run` does for its own.
   */
  followStoredBatchesMs?: number
  /** How old the list of detectors people turned off may be (default half a minute): a switch takes effect within this. */
  switchesReadEveryMs?: number
}

/** How many alerts the passes on stored events remember having stored. */
const RECENTLY_STORED = 10_000

/** What a finding says that storing it again would change. */
function findingState(finding: Finding): string {
  return JSON.stringify([finding.severity, finding.title, finding.firstSeen, finding.lastSeen])
}

/** A detector that keeps overlapping is said to once an hour, not on every tick. */
const OVERLAP_WARNING_EVERY_MS = 3_600_000

/** Runs every detector on its cron schedule (UTC), never two runs of one detector at once. */
export class DetectorScheduler {
  private tasks: ScheduledTask[] = []
  private readonly running = new Set<Promise<unknown>>()
  /** When each detector's latest scheduled run was due, and when its overlap was last said. */
  private readonly dueAt = new Map<string, number>()
  private readonly overlapWarnedAt = new Map<string, number>()
  /** Each detector's latest run, scheduled or catching up: the next one waits for it. */
  private readonly latest = new Map<string, Promise<unknown>>()
  /** Each detector's catch-up that has not started yet: history stored meanwhile joins it. */
  private readonly waitingHistory = new Map<string, { spans: Span[]; run: Promise<unknown> }>()
  /** Stored events the immediate detectors have not looked at yet, and their pass while one runs. */
  private pendingStored: Span | undefined
  /** What the passes on stored events stored last, per alert, oldest first. */
  private readonly recentlyStored = new Map<string, string>()
  private storedPass: Promise<void> | undefined
  /** Aborted on stop: batches stored from then on (the last flush) wait for the scheduled runs of the next start; a catch-up ends between two runs. */
  private readonly stopping = new AbortController()
  private readonly clock: () => Date
  private readonly logger: Logger
  private readonly scheduledSlots: LimitFunction
  /** The detectors people turned off (console, `rules disable`), and when that was read. */
  private off: { ids: Set<string>; readAt: number } = { ids: new Set(), readAt: Number.NEGATIVE_INFINITY }

  constructor(
    private readonly store: Store,
    private readonly detectors: Detector[],
    private readonly options: SchedulerOptions,
  ) {
    this.clock = options.clock ?? (() => new Date())
    this.logger = moduleLogger(options.logger, 'detectors.scheduler')
    this.scheduledSlots = pLimit(options.scheduledConcurrency ?? 1)
    // Fail on a bad configuration at start, not at the first tick.
    for (const detector of detectors) detectorConfig(detector, options.settings.detectors)
  }

  start(): void {
    for (const detector of this.detectors) {
      const task = cron.schedule(
        detector.schedule,
        (context) => {
          this.dueAt.set(detector.id, context.date.getTime())
          return this.track(this.oneAtATime(detector, () => this.scheduledSlots(() => this.runScheduled(detector))))
        },
        { timezone: 'UTC', noOverlap: true, name: detector.id, logger: cronLogger(this.logger) },
      )
      task.on('execution:overlap', (context) => {
        this.overlapped(detector, context.date)
      })
      this.tasks.push(task)
    }
    if (this.options.followStoredBatchesMs) void this.track(this.followStoredBatches(this.options.followStoredBatchesMs))
    void this.track(this.switchedOn([]))
    this.logger.info({ detectors: this.detectors.map((d) => d.id) }, 'detectors scheduled')
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    for (const task of this.tasks) await task.stop()
    this.tasks = []
    await Promise.allSettled([...this.running])
  }

  /**
   * From now on (the store's clock), every batch the journal records goes through the immediate
   * detectors. A batch journalled out of order by another worker may be passed over here: the
   * scheduled runs, every minute, cover it.
   */
  private async followStoredBatches(everyMs: number): Promise<void> {
    let after: string | undefined
    while (!this.stopping.signal.aborted) {
      try {
        if (after === undefined) {
          after = await journalNow(this.store)
        } else {
          const batches = await storedBatchesAfter(this.store, after)
          if (batches) {
            after = batches.last
            await this.detectStored(batches)
          }
        }
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'reading the stored batches journal failed; trying again')
      }
      await sleep(everyMs, undefined, { signal: this.stopping.signal }).catch(() => undefined)
    }
  }

  /**
   * Those of `detectors` nobody turned off, the list read at most every half minute. Switched off, a
   * detector does not run and its watermark stays, so turned on again it catches up as after a
   * restart, as one turned off in the detectors file does.
   */
  private async switchedOn(detectors: Detector[]): Promise<Detector[]> {
    if (performance.now() - this.off.readAt >= (this.options.switchesReadEveryMs ?? 30_000)) {
      try {
        this.off = { ids: await switchedOff(this.store), readAt: performance.now() }
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'reading which detectors are turned off failed; keeping the last list')
      }
    }
    return detectors.filter((d) => !this.off.ids.has(d.id))
  }

  /** One scheduled run: from the watermark to now, findings stored, watermark moved. */
  async runScheduled(detector: Detector): Promise<Finding[]> {
    if ((await this.switchedOn([detector])).length === 0) return []
    const started = performance.now()
    const now = this.clock()
    try {
      const watermark = await readWatermark(this.store, detector.id)
      const window = scheduledWindow(detector, now, watermark, this.options.latenessMs ?? LATENESS_MS, this.options.maxCatchUpMs ?? 7 * 86_400_000)
      const findings = await runDetector(this.store, detector, window, this.options.settings)
      await this.record([{ findings, detectedAt: now }], now)
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

  /**
   * Events stored late (a file of last month dropped in the inbox) fall before the windows the
   * schedule runs next: every detector runs, as its schedule would have and as `detect --from`
   * does, every window that holds them, one detector's runs never two at once. A window that had
   * seen a neighbouring file without them is so judged again with them. Spans stored while a detector is
   * busy join its waiting catch-up, so a folder of files is one run per detector, not one per file.
   */
  catchUp(span: Span): Promise<unknown> {
    const latenessMs = this.options.latenessMs ?? LATENESS_MS
    return Promise.all(
      // The list as last read: a catch-up joins spans as they come, without waiting on a read.
      this.detectors.filter((d) => !this.off.ids.has(d.id)).map((detector) => {
        // Every run whose window holds the late events: those ending up to a window after the last of them.
        const to = new Date(Math.min(span.to.getTime() + Math.max(MINUTE, durationMs(detector.window)), this.clock().getTime()))
        if (to.getTime() <= span.from.getTime()) return Promise.resolve()
        const waiting = this.waitingHistory.get(detector.id)
        if (waiting) {
          waiting.spans = joinSpan(waiting.spans, { from: span.from, to }, latenessMs)
          return waiting.run
        }
        const history = { spans: [{ from: span.from, to }], run: Promise.resolve() as Promise<unknown> }
        history.run = this.track(
          this.oneAtATime(detector, async () => {
            // Started: what is stored from now on waits for a run of its own.
            this.waitingHistory.delete(detector.id)
            for (const range of history.spans) {
              const started = performance.now()
              const where = { detector: detector.id, from: range.from.toISOString(), to: range.to.toISOString() }
              try {
                const findings = await detectRange(this.store, [detector], range, this.options.settings, latenessMs, { signal: this.stopping.signal })
                this.logger.info({ ...where, findings: findings.length, ms: Math.round(performance.now() - started) }, 'detector caught up on late history')
                if (findings.length > 0) this.options.onFindings?.()
              } catch (err) {
                if (this.stopping.signal.aborted) {
                  // A stop must not wait for weeks of history; what was not looked at is named for detect --from.
                  this.logger.warn(where, `stopped before catching up on late history; trailwatch detect --from ${where.from} --to ${where.to} --detector ${detector.id} covers it`)
                  continue
                }
                metrics.detectorFailures.inc({ detector: detector.id })
                this.logger.error({ ...where, err: errorMessage(err) }, 'catching up on late history failed; detect --from can run it again')
              }
            }
          }),
        )
        this.waitingHistory.set(detector.id, history)
        return history.run
      }),
    )
  }

  /**
   * A batch of events is stored: the immediate detectors its events concern run over it at once
   * rather than at their next tick, one pass at a time, batches stored meanwhile joining the next
   * pass. Their scheduled runs still come, for what arrives late; alert ids make the two one alert.
   */
  detectStored(span: Span): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve()
    // A stray record of last month in a live batch must not make every pass read a month.
    const from = new Date(Math.max(span.from.getTime(), span.to.getTime() - MAX_STORED_SPAN_MS))
    const pending = this.pendingStored
    this.pendingStored = pending ? { from: new Date(Math.min(pending.from.getTime(), from.getTime())), to: new Date(Math.max(pending.to.getTime(), span.to.getTime())) } : { from, to: span.to }
    this.storedPass ??= this.track(this.drainStored()) as Promise<void>
    return this.storedPass
  }

  private async drainStored(): Promise<void> {
    const immediate = await this.switchedOn(this.detectors.filter((d) => d.immediate))
    try {
      for (let span = this.pendingStored; span; span = this.pendingStored) {
        this.pendingStored = undefined
        const due = await this.touchedBy(immediate, span)
        // Cheapest first, each round's findings stored before the next starts: what judges single
        // events, then what counts over a window, then the rules that first bring their memory up to the batch.
        const rounds = [due.filter((d) => d.immediate === 'event' && !d.prepare), due.filter((d) => d.immediate === 'window' && !d.prepare), due.filter((d) => d.prepare)]
        for (const round of rounds) if (round.length > 0) await this.detectRound(round, span)
      }
    } finally {
      this.storedPass = undefined
    }
  }

  /** The detectors a pass on stored events runs: those that say which events concern them only when the span holds one. */
  private async touchedBy(detectors: Detector[], span: Span): Promise<Detector[]> {
    try {
      const touched = await touchedDetectors(this.store, detectors, { from: span.from, now: new Date(span.to.getTime() + 1) })
      return detectors.filter((d) => !d.touches || touched.has(d))
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'reading which detectors stored events concern failed; running them all')
      return detectors
    }
  }

  /**
   * One round of a pass on stored events: each detector over what the batch touches (the single-event
   * rules in one scan of its events), then what they found stored.
   */
  private async detectRound(detectors: Detector[], span: Span): Promise<void> {
    const started = performance.now()
    const batches: DetectedFindings[] = []
    let slowest = { detector: '', ms: 0 }
    const now = new Date(span.to.getTime() + 1)
    const scanned = detectors.filter((d): d is Detector & { eachEvent: CompiledCondition } => d.immediate === 'event' && d.eachEvent !== undefined)
    const together = scanned.length > 1 ? scanned : []
    const inScan = new Set(together.map((d) => d.id))
    const units = [
      ...(together.length ? [{ name: `${String(together.length)} single-event rules`, ran: together, run: async () => (await replayTogether(this.store, together, [{ from: span.from, now }], this.options.settings)).flat(2) }] : []),
      ...detectors
        .filter((d) => !inScan.has(d.id))
        .map((detector) => {
          const from = detector.immediate === 'window' ? new Date(span.from.getTime() - durationMs(detector.window)) : span.from
          return { name: detector.id, ran: [detector], run: () => runDetector(this.store, detector, { from, now }, this.options.settings, span.from) }
        }),
    ]
    for (const { name, ran, run } of units) {
      const unitStarted = performance.now()
      try {
        const findings = await run()
        batches.push({ findings: findings.filter((f) => this.recentlyStored.get(f.alertId) !== findingState(f)), detectedAt: this.clock() })
      } catch (err) {
        // The scheduled run covers the same events.
        for (const detector of ran) metrics.detectorFailures.inc({ detector: detector.id })
        this.logger.error({ detectors: ran.map((d) => d.id), err: errorMessage(err) }, 'detection on stored events failed; the scheduled run looks at them again')
      }
      const ms = Math.round(performance.now() - unitStarted)
      if (ms > slowest.ms) slowest = { detector: name, ms }
    }
    try {
      await this.record(batches, this.clock())
      for (const finding of batches.flatMap((b) => b.findings)) this.rememberStored(finding)
    } catch (err) {
      // The scheduled runs find the same alerts again, and store them then.
      this.logger.error({ err: errorMessage(err) }, 'storing what stored events showed failed; the scheduled runs look at them again')
    }
    this.logger.debug({ detectors: detectors.length, ms: Math.round(performance.now() - started), slowest }, 'detected on stored events')
  }

  /** A window found again each pass over its events is stored once until it changes: storing it again would only repeat the incidents' work. */
  private rememberStored(finding: Finding): void {
    this.recentlyStored.delete(finding.alertId)
    this.recentlyStored.set(finding.alertId, findingState(finding))
    if (this.recentlyStored.size > RECENTLY_STORED) this.recentlyStored.delete(this.recentlyStored.keys().next().value as string)
  }

  /** Findings stored and their alerts in incidents, whether or not an alerter runs here; then whoever listens is told. */
  private async record(batches: DetectedFindings[], now: Date): Promise<void> {
    if (batches.every(({ findings }) => findings.length === 0)) return
    const { joined, opened, merged } = await recordFindings(this.store, batches, now)
    if (joined > 0) this.logger.info({ joined, opened: opened.length, merged: merged.length }, 'alerts joined incidents')
    this.options.onFindings?.()
  }

  private oneAtATime<T>(detector: Detector, run: () => Promise<T>): Promise<T> {
    const next = (this.latest.get(detector.id) ?? Promise.resolve()).then(run)
    this.latest.set(detector.id, next.catch(() => undefined))
    return next
  }

  /**
   * A run still going when the next is due: the next is skipped (the window of the one after covers
   * it). Said through the logger, naming the detector and how far behind it is, once an hour at most.
   */
  private overlapped(detector: Detector, due: Date): void {
    const last = this.overlapWarnedAt.get(detector.id)
    if (last !== undefined && due.getTime() - last < OVERLAP_WARNING_EVERY_MS) return
    this.overlapWarnedAt.set(detector.id, due.getTime())
    const runningSince = this.dueAt.get(detector.id)
    const behindS = runningSince === undefined ? undefined : Math.round((due.getTime() - runningSince) / 1000)
    this.logger.warn({ detector: detector.id, due: due.toISOString(), behindS }, `${detector.id} is still on its run due ${behindS === undefined ? 'earlier' : `${String(behindS)} s earlier`}; the run due now is skipped (said at most once an hour)`)
  }

  private track(run: Promise<unknown>): Promise<unknown> {
    this.running.add(run)
    void run.finally(() => this.running.delete(run))
    return run
  }
}
