// A store of the simulated organisation, for the benchmarks: weeks of activity at a chosen size.
import { EventWriter } from '../ingest/event-writer.js'
import type { Store } from '../src/clickhouse/client.js'
import { decodeEvent } from '../src/cloudtrail/decode.js'
import { loadSourceEnricher } from '../src/cloudtrail/enrich.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import type { Logger } from '../src/logger.js'
import { simulateOrganisation, type Organisation } from '../src/simulate/organisation.js'

const DAY = 86_400_000

/**
 * One day (0 the first of `days`) of an organisation of about `target` events over `days` days
 * ending at `end`: its records, and its credential report. The last day holds the incidents.
 */
export function organisationDay(target: number, days: number, day: number, end: number): Organisation {
  // About 2 × 24 × rate instance calls a day, plus a few hundred from people, CI and services.
  const instanceCallsPerHour = Math.max(1, Math.round((target / days - 400) / 48))
  const dayEnd = end - (days - day - 1) * DAY
  // People work the day before, unless it was a weekend.
  const workdays = [0, 6].includes(new Date(dayEnd - DAY).getUTCDay()) ? 0 : 1
  return simulateOrganisation({ days: 1, end: dayEnd, seed: day + 1, instanceCallsPerHour, workdays, incidents: day === days - 1 })
}

/**
 * About `target` events over `days` days ending at `end`, generated and stored a day at a time so
 * that memory holds one day; the incidents and the credential report on the last day. Returns the
 * number of events stored.
 */
export async function fillOrganisation(store: Store, target: number, days: number, end: number, logger: Logger): Promise<number> {
  const enricher = await loadSourceEnricher()
  const writer = new EventWriter(store, { maxBatch: 10_000, logger, skipStored: false })
  let count = 0
  for (let day = 0; day < days; day++) {
    const { records, credentialReport } = organisationDay(target, days, day, end)
    for (const record of records) {
      const decoded = decodeEvent(Buffer.from(JSON.stringify(record)), enricher)
      if (!decoded.ok) throw new Error(decoded.reason)
      const wait = writer.add(decoded.event)
      if (wait) await wait
      count++
    }
    if (day === days - 1) await insertCredentialReport(store, parseCredentialReport(credentialReport), end, end)
  }
  await writer.flush()
  return count
}
