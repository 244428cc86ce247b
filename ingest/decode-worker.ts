// The decoder's thread: turns raw input into store rows while the main thread fetches and inserts.
import { parentPort, workerData } from 'node:worker_threads'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { errorMessage } from '../src/errors.js'
import { InputDecoder, type DecodeJob, type DecodeLimits } from './decoding.js'

const port = parentPort
if (!port) throw new Error('decode-worker runs as a worker thread')
const limits = workerData as Required<DecodeLimits>
const decoder = new InputDecoder(limits, await loadSourceEnricher(limits.addressLists))
port.on('message', (job: DecodeJob) => {
  try {
    const decoded = decoder.run(job)
    port.postMessage({ decoded }, [decoded.rows.buffer, decoded.ends.buffer, decoded.idEnds.buffer, decoded.timesMs.buffer, ...decoded.rejections.map((r) => r.bytes.buffer)])
  } catch (err) {
    port.postMessage({ error: errorMessage(err) })
  }
})
port.postMessage({ ready: true })
