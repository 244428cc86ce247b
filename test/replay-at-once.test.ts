import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Detector, Finding } from '../detectors/define.js'
import { DETECTORS } from '../detectors/registry.js'
import { insertCredentialReport, parseCredentialReport } from '../src/credentials/credential-report.js'
import { storeSnapshot } from '../src/iam/snapshots.js'
import { officeWorkingTime, simulateOrganisation } from '../src/simulate/organisation.js'
import { replayDetector, replaysAtOnce, replayTogether, runDetector } from '../detectors/engine.js'
import type { CompiledCondition } from '../detectors/sigma.js'
import { LATENESS_MS, scheduledRuns } from '../detectors/replay.js'
import { builtInRulesDir, checkRulePatterns, loadRuleFiles, rulePaths, type LoadedRule } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { testSettings } from './helpers/detect.js'
import { DATASETS, INVICTUS } from './helpers/datasets.js'
import { ACCOUNT, apiCall, consoleSignIn, guardDutyEvent, ingestRecords, roleSession, type RawEvent } from './helpers/events.js'
import { openTestStore, testDataDir, testLogger, type TestStore } from './helpers/store.js'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const ORGANISATION_END = Date.parse('2026-11-19T05:00:00Z')
/** A week whose last night is the one Europe's clocks go forward (01:00 UTC, 29 March 2026), its incidents in that night. */
const SPRING_END = Date.parse('2026-03-29T05:00:00Z')

let store: TestStore
let rules: LoadedRule[]
/** Per built-in rule with examples, when its last example happened. */
const lastExample = new Map<string, number>()

beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
  rules = (await checkRulePatterns(store.client, loadRuleFiles([...rulePaths(undefined), path.join(DATASETS, 'sigma-cloudtrail')]))).rules
  // Each built-in rule's examples, matching and not, in an account of its own: what each rule is written to find, and what it must not.
  const records: RawEvent[] = []
  for (const [n, rule] of rules.entries()) {
    if (!rule.file.startsWith(builtInRulesDir())) continue
    const examples = (JSON.parse(readFileSync(rule.file.replace(/\.ya?ml$/, '.examples.json'), 'utf8')) as Record<string, { match?: RawEvent[]; miss?: RawEvent[] }>)[rule.id]
    if (!examples) continue
    const account = String(200_000_000_000 + n)
    const mine = [...(examples.match ?? []), ...(examples.miss ?? [])].map((record, i): RawEvent => ({ ...record, eventID: `${rule.id}-${String(i)}`, recipientAccountId: account }))
    lastExample.set(rule.detector.id, Math.max(...mine.map((record) => Date.parse(String(record.eventTime)))))
    records.push(...mine)
  }
  await ingestRecords(store, records)
  // An organisation's week, with incidents and traps on its last day, beside them in time.
  const organisation = simulateOrganisation({ days: 8, end: ORGANISATION_END, seed: 7, traps: true })
  await ingestRecords(store, organisation.records)
  await ingestRecords(store, simulateOrganisation({ days: 8, end: SPRING_END, seed: 5 }).records)
  // Beside them, what that day does not trip, as a feed of records and a GuardDuty finding lands in a file.
  const feed = path.join(testDataDir(), 'intrusions.jsonl')
  // And a region busy all week that goes quiet, which data-freshness reports.
  const busy = Array.from({ length: 8 * 72 }, (_, i) => apiCall(ORGANISATION_END - 8 * DAY + i * 20 * MINUTE, roleSession('ci', 'build'), '3.90.1.1', { awsRegion: 'sa-east-1' }))
  const quietSince = ORGANISATION_END - 150 * MINUTE
  writeFileSync(feed, [...intrusions(ORGANISATION_END - 100 * MINUTE), ...busy.filter((record) => Date.parse(String(record.eventTime)) < quietSince)].map((value) => JSON.stringify(value)).join('\n'))
  await backfill(store, [feed], { maxBatch: 1000, maxRecordBytes: 1 << 20, logger: testLogger })
  // An account whose IAM sync stopped days ago, and another's that runs.
  const empty = JSON.stringify({ UserDetailList: [], GroupDetailList: [], RoleDetailList: [], Policies: [] })
  await storeSnapshot(store, ACCOUNT, ORGANISATION_END - 5 * DAY, empty, ORGANISATION_END)
  await storeSnapshot(store, '999988887777', ORGANISATION_END - 2 * 60 * MINUTE, empty, ORGANISATION_END)
  await insertCredentialReport(store, parseCredentialReport(organisation.credentialReport), ORGANISATION_END, ORGANISATION_END)
}, 300_000)
afterAll(async () => {
  await store.close()
})

/** What the detectors the organisation's day does not trip are for, beginning at `at`. */
function intrusions(at: number): RawEvent[] {
  const root = { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT }
  const outsider = { ...roleSession('partner', 'visit'), accountId: '999988887777', arn: 'arn:aws:sts::999988887777:assumed-role/partner/visit' }
  return [
    apiCall(at, root, '203.0.113.9', { eventSource: 'signin.amazonaws.com', eventName: 'ConsoleLogin', eventType: 'AwsConsoleSignIn', responseElements: { ConsoleLogin: 'Success' } }),
    ...Array.from({ length: 8 }, (_, i) => consoleSignIn(at + 10 * MINUTE + i * 20_000, 'carol', '198.51.100.20', 'Failure')),
    apiCall(at + 20 * MINUTE, outsider, '198.51.100.44', { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRole', requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/deploy`, roleSessionName: 'visit' } }),
    guardDutyEvent({ id: 'replayed', type: 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS', severity: 8, updatedAt: new Date(at + 30 * MINUTE).toISOString(), key: { accessKeyId: 'ASIAANNAXXXXXXXXXXXX', userName: 'anna', userType: 'IAMUser', principalId: 'AIDAANNA' } }),
    apiCall(at + 40 * MINUTE, { type: 'AWSService', invokedBy: 'iam.amazonaws.com' }, 'iam.amazonaws.com', {
      eventSource: 'iam.amazonaws.com',
      eventName: 'AttachUserPolicy',
      requestParameters: { userName: 'anna', policyArn: 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3' },
    }),
  ]
}

/** The scheduler's runs over a range, one by one, against one query for them all; `runs` keeps each detector's. */
async function compare(detector: Detector & { replaySql: string }, from: number, to: number, settings = testSettings(), runs?: Map<Detector, Finding[][]>): Promise<number> {
  const windows = scheduledRuns(detector, new Date(from), new Date(to), LATENESS_MS)
  const runByRun = []
  for (const window of windows) runByRun.push(await runDetector(store, detector, window, settings))
  expect(await replayDetector(store, detector, windows, settings), detector.id).toEqual(runByRun)
  runs?.set(detector, runByRun)
  return runByRun.filter((findings) => findings.length > 0).length
}

it('finds in one query, for every window of a replay, exactly what each of the scheduler’s runs finds alone: every built-in and SigmaHQ rule over an intrusion', async () => {
  const atOnce = rules.map((rule) => rule.detector).filter(replaysAtOnce)
  expect(atOnce.length).toBe(rules.length)
  let windowsWithFindings = 0
  const runs = new Map<Detector, Finding[][]>()
  // The hour of the dataset's intrusion, with the scheduler's overlapping windows; the range starts and ends between minutes.
  const [from, to] = [Date.parse('2023-07-10T11:40:17.250Z'), Date.parse('2023-07-10T12:45:41.500Z')]
  for (const detector of atOnce) windowsWithFindings += await compare(detector, from, to, testSettings(), runs)
  // Not an agreement on nothing: the intrusion trips rules in many windows.
  expect(windowsWithFindings).toBeGreaterThan(20)
  // And the single-event rules, in one scan for them all: each finds what its runs found.
  const scanned = atOnce.filter((detector) => detector.eachEvent !== undefined) as (Detector & { eachEvent: CompiledCondition })[]
  expect(scanned.length).toBeGreaterThan(40)
  const together = await replayTogether(store, scanned, scheduledRuns(scanned[0] as Detector, new Date(from), new Date(to), LATENESS_MS), testSettings())
  expect(together).toEqual(scanned.map((detector) => runs.get(detector)))
  expect(together.flat(2).length).toBeGreaterThan(10)
}, 600_000)

it('agrees with the runs for every kind of built-in rule over its own examples: thresholds, sequences and first-seen values with their history', async () => {
  const kinds = new Map<string, number>()
  for (const rule of rules) {
    const last = lastExample.get(rule.detector.id)
    if (last === undefined || !replaysAtOnce(rule.detector)) continue
    const found = await compare(rule.detector, last - 50 * MINUTE + 17_250, last + 20 * MINUTE + 41_500)
    if (found > 0) kinds.set(rule.type, (kinds.get(rule.type) ?? 0) + 1)
  }
  // Each kind found something in some window, so each was held to the runs on findings, not on none.
  expect([...kinds.keys()].sort()).toEqual(['first-seen', 'sequence', 'sigma', 'threshold'])
}, 600_000)

it('agrees with the runs for the built-in detectors, over an intrusion and over the last hours of an organisation with incidents', async () => {
  const atOnce = DETECTORS.filter(replaysAtOnce)
  const found = new Set<string>()
  for (const detector of atOnce) {
    const intrusion = await compare(detector, Date.parse('2023-07-10T11:40:17.250Z'), Date.parse('2023-07-10T12:45:41.500Z'))
    const organisation = await compare(detector, ORGANISATION_END - 3 * 60 * MINUTE + 17_250, ORGANISATION_END + 41_500)
    if (intrusion + organisation > 0) found.add(detector.id)
  }
  // The checks of snapshots run a few times a day, and the bulk reads weigh whole hours against whole
  // hours every five minutes: they replay run by run.
  expect(DETECTORS.filter((detector) => !replaysAtOnce(detector)).map((detector) => detector.id)).toEqual(['stale-access-key', 'bulk-data-read', 'iam-posture', 'escalation-paths'])
  // Each of them was held to the runs on findings, not only on none.
  expect([...found].sort()).toEqual(atOnce.map((detector) => detector.id).sort())
}, 600_000)

it('agrees with the runs across a change of the clocks, each office in its own time zone', async () => {
  const settings = testSettings({}, officeWorkingTime())
  const found = new Set<string>()
  for (const detector of DETECTORS.filter(replaysAtOnce)) {
    if ((await compare(detector, SPRING_END - 5 * 60 * MINUTE + 17_250, SPRING_END, settings)) > 0) found.add(detector.id)
  }
  // The stolen key at 03:10 in Berlin, the night the clocks went forward: judged by local hours and by networks.
  expect([...found].sort()).toEqual(['off-hours-activity', 'unusual-source-ip'])
}, 600_000)
