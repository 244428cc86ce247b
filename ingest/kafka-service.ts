import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import type { IngestWorker } from './kafka-ingest.js'

/**
 * Kafka ingest as one part of a process that does more (`trailwatch run`): while the brokers cannot
 * be reached it keeps trying, says why in readiness and logs the cause once, and the rest of the
 * process goes on working.
 */
export class KafkaIngestService {
  private worker: IngestWorker | undefined
  private problem = 'connecting to the brokers'
  private readonly stopping = new AbortController()
  private loop: Promise<void> = Promise.resolve()
  private failure: ((err: unknown) => void) | undefined
  /** Settles when a worker that was running fails for good. */
  readonly failed: Promise<never>

  constructor(
    private readonly build: () => IngestWorker,
    private readonly logger: Logger,
    private readonly retryMs = 30_000,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.failure = reject
    })
    this.failed.catch(() => undefined)
  }

  start(): void {
    this.loop = this.connect()
  }

  readiness(): Record<string, true | string> {
    if (!this.worker) return { kafka: this.problem }
    return { kafka: this.worker.readiness() }
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.loop
    await this.worker?.stop()
  }

  /** A call, not a field: it turns true while a connection attempt is awaited. */
  private isStopped(): boolean {
    return this.stopping.signal.aborted
  }

  private async connect(): Promise<void> {
    let reported = ''
    while (!this.isStopped()) {
      const worker = this.build()
      try {
        await worker.start()
        if (this.isStopped()) {
          await worker.stop()
          return
        }
        this.worker = worker
        worker.failed.catch((err: unknown) => this.failure?.(err))
        if (reported) this.logger.info('Kafka ingest started')
        return
      } catch (err) {
        this.problem = errorMessage(err)
        if (this.problem !== reported) {
          this.logger.error({ err: this.problem, retryMs: this.retryMs }, 'Kafka ingest cannot start; trying again')
          reported = this.problem
        }
        await worker.stop().catch(() => undefined)
        await sleep(this.retryMs, undefined, { signal: this.stopping.signal }).catch(() => undefined)
      }
    }
  }
}
