import { Worker } from 'node:worker_threads'
import type { EventLine } from '../src/clickhouse/events.js'
import { decodeLimits, type Decoded, type DecodeJob, type DecodeLimits } from './decoding.js'

type Reply = { ready: true } | { decoded: Decoded } | { error: string }

/** Started from the TypeScript sources (tests, scripts), the thread needs the same loader. */
const FROM_SOURCES = import.meta.url.endsWith('.ts')

/**
 * The decoding of input on a thread of its own: framing, validation, normalisation and row
 * building keep one core busy while the main thread fetches input and the engine inserts on the
 * other. Jobs are answered in the order they were given.
 */
export class Decoder {
  private readonly waiting: { resolve: (decoded: Decoded) => void; reject: (err: Error) => void }[] = []
  private failure: Error | undefined
  private streams = 0

  private constructor(private readonly worker: Worker) {
    // An idle decoder never keeps the process up; one with work to answer does.
    worker.unref()
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) return
      const next = this.waiting.shift()
      if (this.waiting.length === 0) worker.unref()
      if ('decoded' in reply) next?.resolve(reply.decoded)
      else next?.reject(new Error(`decoding failed: ${reply.error}`))
    })
    worker.on('error', (err) => {
      this.fail(err)
    })
    worker.on('exit', (code) => {
      this.fail(new Error(`the decoding thread ended (exit code ${String(code)})`))
    })
  }

  /** Starts the thread and waits until it is ready (its address data loaded). */
  static async start(options: DecodeLimits): Promise<Decoder> {
    const limits = decodeLimits(options)
    const worker = FROM_SOURCES ? sourcesWorker(new URL('./decode-worker.ts', import.meta.url), limits) : new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: limits })
    await new Promise<void>((resolve, reject) => {
      const ready = (reply: Reply) => {
        if (!('ready' in reply)) return
        worker.off('message', ready)
        worker.off('error', reject)
        resolve()
      }
      worker.on('message', ready)
      worker.once('error', reject)
    })
    return new Decoder(worker)
  }

  /** False once the thread has failed or the decoder was closed. */
  get working(): boolean {
    return this.failure === undefined
  }

  decode(job: DecodeJob): Promise<Decoded> {
    if (this.failure) return Promise.reject(this.failure)
    const reply = new Promise<Decoded>((resolve, reject) => this.waiting.push({ resolve, reject }))
    this.worker.ref()
    // A caller that gave up on earlier work (the store failed) may never wait for this answer.
    reply.catch(() => undefined)
    this.worker.postMessage(job, job.kind === 'end' ? [] : [job.bytes.buffer])
    return reply
  }

  /** Kafka messages, each a document of its own; an absent value counts as empty. */
  decodeMessages(values: (Buffer | null)[]): Promise<Decoded> {
    const ends = new Uint32Array(values.length)
    let size = 0
    values.forEach((value, i) => (ends[i] = size += value?.length ?? 0))
    // One buffer of their own: a message is a view into the whole fetch, which must not travel with it.
    const bytes = new Uint8Array(size)
    let at = 0
    for (const value of values) {
      if (!value) continue
      bytes.set(value, at)
      at += value.length
    }
    return this.decode({ kind: 'messages', bytes, ends })
  }

  /** A name for a file's pieces, unique on this decoder. */
  newStream(): number {
    return this.streams++
  }

  /** The next piece of a file, copied so the caller keeps its buffer. */
  decodeChunk(stream: number, chunk: Buffer, lineDelimited: boolean): Promise<Decoded> {
    return this.decode({ kind: 'chunk', stream, bytes: new Uint8Array(chunk), lineDelimited })
  }

  async close(): Promise<void> {
    this.failure ??= new Error('the decoder is closed')
    await this.worker.terminate()
  }

  private fail(err: Error): void {
    this.failure ??= err
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure)
  }
}

/** A thread running a TypeScript module: tsx loads it, as it loads the sources on the main thread. */
function sourcesWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api')
  const start = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(module.href)}, ${JSON.stringify(module.href)}))`
  return new Worker(start, { eval: true, workerData })
}

/** The events of a decoded job as the writer takes them, each row a view into the job's rows. */
export function decodedLines(decoded: Decoded): EventLine[] {
  const rows = Buffer.from(decoded.rows.buffer, decoded.rows.byteOffset, decoded.rows.byteLength)
  const lines: EventLine[] = new Array<EventLine>(decoded.ends.length)
  let start = 0
  let idStart = 0
  for (let i = 0; i < lines.length; i++) {
    const end = decoded.ends[i] as number
    const idEnd = decoded.idEnds[i] as number
    lines[i] = { eventId: decoded.ids.slice(idStart, idEnd), eventTimeMs: decoded.timesMs[i] as number, line: rows.subarray(start, end) }
    start = end
    idStart = idEnd
  }
  return lines
}
