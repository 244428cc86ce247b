import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** Writes records as S3-style CloudTrail log files of `perFile` records each, named in order; returns their total size. */
export function writeLogFiles(directory: string, records: Iterable<object>, perFile: number): number {
  mkdirSync(directory)
  let bytes = 0
  let batch: string[] = []
  let file = 0
  const flush = () => {
    const text = `{"Records":[${batch.join(',')}]}`
    bytes += text.length
    writeFileSync(path.join(directory, `${String(file++).padStart(5, '0')}.json`), text)
    batch = []
  }
  for (const record of records) {
    batch.push(JSON.stringify(record))
    if (batch.length === perFile) flush()
  }
  if (batch.length > 0) flush()
  return bytes
}
