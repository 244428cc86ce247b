import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'

/** datasets/: real CloudTrail data shipped in the repository, with its licences beside it. */
export const DATASETS = path.resolve(import.meta.dirname, '../../datasets')
/** invictus-ir/aws_dataset (MIT): 55 S3 log files, 2,900 records. */
export const INVICTUS = path.join(DATASETS, 'invictus-aws-dataset')
/** DataDog/stratus-red-team detonation logs (Apache-2.0): one JSON array per technique, 310 records. */
export const STRATUS = path.join(DATASETS, 'stratus-detonation-logs')

export type RawRecord = Record<string, unknown>

let byEventId: Map<string, RawRecord> | undefined

/** Every record of both datasets, by eventID. */
export function datasetRecord(eventId: string): RawRecord {
  if (!byEventId) {
    byEventId = new Map()
    for (const file of readdirSync(INVICTUS).filter((f) => f.endsWith('.json'))) {
      const { Records } = JSON.parse(readFileSync(path.join(INVICTUS, file), 'utf8')) as { Records: RawRecord[] }
      for (const record of Records) byEventId.set(record.eventID as string, record)
    }
    for (const file of readdirSync(STRATUS).filter((f) => f.endsWith('.json'))) {
      for (const record of JSON.parse(readFileSync(path.join(STRATUS, file), 'utf8')) as RawRecord[]) byEventId.set(record.eventID as string, record)
    }
  }
  const record = byEventId.get(eventId)
  if (!record) throw new Error(`no record ${eventId} in the datasets`)
  return record
}
