import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { durationMs } from '../detectors/define.js'
import { findingText, runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import type { InboxWatcher } from '../ingest/inbox.js'
import { openAlerter } from '../src/alerting/service.js'
import type { Context } from '../src/cli/context.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { principalsFrom } from '../src/principals.js'
import { recordFindings } from '../src/incidents/record.js'
import { atLeast } from '../src/severity.js'
import { plural } from '../src/text.js'
import { officeWorkingTime, simulateOrganisation } from '../src/simulate/organisation.js'

const DAYS = 21
/** The incident at 3 a.m. in Berlin may be up to a day old, whatever the time now. */
const WINDOW_MS = 24 * 3_600_000

/**
 * A first look without any data of one's own: three weeks of a made-up company with a few
 * incidents, dropped into the inbox as a CloudTrail log file and taken through the whole pipeline
 * (ingest, a credential report, every detector, the alerter), ending at `now`. The same story, with the
 * same events in each person's own time, whatever day and hour `now` is.
 */
export async function runDemo(context: Context, inbox: InboxWatcher, now: Date, print: (line: string) => void): Promise<void> {
  const { config, store } = context
  const end = Math.floor(now.getTime() / 60_000) * 60_000
  const organisation = simulateOrganisation({ days: DAYS, end, seed: 7 })
  const file = path.join(inbox.directory, `demo-organisation-${new Date(end).toISOString().slice(0, 10)}.json`)
  await mkdir(inbox.directory, { recursive: true })
  await writeFile(file, JSON.stringify({ Records: organisation.records }))
  const ingested = await inbox.ingestFile(file)
  await insertCredentialReport(store, parseCredentialReport(organisation.credentialReport), end, end)
  print(`Demo: ${String(DAYS)} days of a made-up company (offices in Berlin, New York and Kolkata, CI, instance roles, a partner account)`)
  print(`  ${String(ingested.stored)} events from ${path.relative(process.cwd(), file)}, and its IAM credential report`)

  // The operator's own principals file, when there is one, wins over the demo's offices, each in its
  // own time zone as the company's security team would set them.
  const settings = { ...context.settings, principals: config.principalsFile ? context.settings.principals : principalsFrom(officeWorkingTime(), context.settings.principals.learning) }
  const findings = []
  for (const detector of DETECTORS) {
    // The last day, as the scheduler catching up would see it.
    const window = { now: new Date(end), from: new Date(end - Math.max(WINDOW_MS, durationMs(detector.window))) }
    findings.push(...(await runDetector(store, detector, window, settings)))
  }
  await recordFindings(store, [{ findings, detectedAt: new Date(end) }], new Date(end))
  const worth = findings.filter((f) => atLeast(f.severity, config.alerting.minSeverity))
  const posture = findings.filter((f) => f.kind === 'posture').length
  print(`  the detectors found ${plural(findings.length - posture, 'threat')} and ${plural(posture, 'posture finding')}, ${String(worth.length)} worth an email:`)
  for (const f of worth) print(`    ${findingText(f)}`)

  const delivered: string[] = []
  const { alerter, transport } = openAlerter({ ...context, settings }, (_, delivery) => delivered.push(delivery.response))
  try {
    await alerter.runOnce(new Date(end))
  } finally {
    transport.close()
  }
  if (config.alerting.smtpUrl) {
    print(`  ${String(delivered.length)} emails sent over ${transport.description}`)
    return
  }
  print(`  ${String(delivered.length)} emails, in ${path.relative(process.cwd(), path.join(config.dataDir, 'outbox'))}:`)
  // By name: the time, then alerts before the posture digest, whatever order they went out in.
  for (const file of delivered.sort()) print(`    ${path.relative(process.cwd(), file)}`)
}
