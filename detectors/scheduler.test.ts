import path from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, consoleSignIn, daily, iamUser, ingestRecords } from '../test/helpers/events.js'
import { openTestStore, queryRows, testLogger, type TestStore } from '../test/helpers/store.js'
import { clickHouseTime } from '../src/time.js'
import type { Detector, DetectorContext } from './define.js'
import { builtInRulesDir, loadRuleFiles } from './rule-files.js'
import { readWatermark, runDetector, touchedDetectors } from './engine.js'
import { scheduledWindow } from './replay.js'
import { DetectorScheduler } from './scheduler.js'
import cloudtrailTampering from './cloudtrail-tampering/detector.js'
import consoleBruteForce from './console-brute-force/detector.js'
import unusualSourceIp from './unusual-source-ip/detector.js'
import { testSettings } from '../test/helpers/detect.js'
import { DATASETS } from '../test/helpers/datasets.js'
import { incidentOfAlerts } from '../src/incidents/incidents.js'
import { detectorSwitches, switchDetector } from '../src/alerts/switches.js'

const T0 = Date.parse('2026-11-20T12:00:00Z')
const minutes = (n: number) => n * 60_000

describe('scheduledWindow', () => {
  it('covers the detector window, or back to the last run less lateness, capped by the catch-up limit', () => {
    const now = new Date(T0)
    expect(scheduledWindow(unusualSourceIp, now, undefined, minutes(15), 7 * 86_400_000).from.toISOString()).toBe('2026-11-20T11:00:00.000Z')
    // Down for three hours: the run reaches back to where the last one ended, less lateness.
    expect(scheduledWindow(unusualSourceIp, now, new Date(T0 - minutes(180)), minutes(15), 7 * 86_400_000).from.toISOString()).toBe('2026-11-20T08:45:00.000Z')
    expect(scheduledWindow(unusualSourceIp, now, new Date(T0 - 30 * 86_400_000), minutes(15), 7 * 86_400_000).from.toISOString()).toBe('2026-11-13T12:00:00.000Z')
  })
})

describe('DetectorScheduler', () => {
  let store: TestStore
  beforeAll(async () => {
    store = await openTestStore()
    await ingestRecords(store, daily(20, T0, 14, (at) => apiCall(at, iamUser('carol'), '98.207.1.1')))
  })
  afterAll(async () => {
    await store.close()
  })

  it('moves its watermark, and a late event is still caught by the next run', async () => {
    let now = new Date(T0)
    let told = 0
    const scheduler = new DetectorScheduler(store, [unusualSourceIp], { settings: testSettings(), logger: testLogger, clock: () => now, onFindings: () => told++ })
    expect(await scheduler.runScheduled(unusualSourceIp)).toEqual([])
    expect((await readWatermark(store, unusualSourceIp.id))?.toISOString()).toBe(new Date(T0).toISOString())

    // Two hours later CloudTrail delivers an event from before the first run's end: the window is
    // long past for the detector's own 1 h, but the watermark less lateness reaches it.
    await ingestRecords(store, [apiCall(T0 - minutes(5), iamUser('carol'), '5.255.255.77')])
    now = new Date(T0 + minutes(120))
    const findings = await scheduler.runScheduled(unusualSourceIp)
    expect(findings.map((f) => [f.detector, f.severity, f.evidence.address])).toEqual([['unusual-source-ip', 'high', '5.255.255.77']])
    // The alert is in an incident at once, with no alerter running, and whoever listens is told.
    expect((await incidentOfAlerts(store, findings.map((f) => f.alertId))).size).toBe(1)
    expect(told).toBe(1)

    // Found again, still one alert.
    now = new Date(T0 + minutes(125))
    await scheduler.runScheduled(unusualSourceIp)
    const alerts = await queryRows<{ n: string }>(store, 'SELECT count() AS n FROM alerts FINAL')
    expect(Number(alerts[0]?.n)).toBe(1)
  })

  it('does not run a detector someone turned off, nor move its watermark; turned on again, it finds what it missed', async () => {
    const own = await openTestStore()
    try {
      await ingestRecords(own, [...daily(20, T0, 14, (at) => apiCall(at, iamUser('dave'), '98.207.1.2')), apiCall(T0 - minutes(10), iamUser('dave'), '5.255.255.77')])
      const scheduler = new DetectorScheduler(own, [unusualSourceIp], { settings: testSettings(), logger: testLogger, clock: () => new Date(T0), switchesReadEveryMs: 0 })
      await switchDetector(own, { detector: unusualSourceIp.id, enabled: false, actor: 'carol', reason: 'noisy during the office move' }, new Date(T0 - minutes(30)))
      expect(await scheduler.runScheduled(unusualSourceIp)).toEqual([])
      expect(await readWatermark(own, unusualSourceIp.id)).toBeUndefined()
      await expect(switchDetector(own, { detector: unusualSourceIp.id, enabled: true, actor: 'carol', reason: ' ' }, new Date(T0 - minutes(20)))).rejects.toThrow('give a reason')
      await switchDetector(own, { detector: unusualSourceIp.id, enabled: true, actor: 'carol', reason: 'the move is done' }, new Date(T0 - minutes(20)))
      expect((await scheduler.runScheduled(unusualSourceIp)).map((f) => f.evidence.address)).toEqual(['5.255.255.77'])
      expect((await detectorSwitches(own)).get(unusualSourceIp.id)).toMatchObject({ enabled: true, actor: 'carol', reason: 'the move is done' })
    } finally {
      await own.close()
    }
  })

  it('catches up on history stored while a detector is busy in one run per stretch of time, not one per file', async () => {
    const windows: DetectorContext[] = []
    // Run by run, so that each window the catch-up covers is seen.
    const { replaySql: _, ...runByRun } = unusualSourceIp
    const counting: typeof unusualSourceIp = {
      ...runByRun,
      params: (config, context) => {
        windows.push(context)
        return unusualSourceIp.params?.(config, context) ?? {}
      },
    }
    const scheduler = new DetectorScheduler(store, [counting], { settings: testSettings(), logger: testLogger, clock: () => new Date(T0) })
    const yesterday = T0 - 86_400_000
    const lastWeek = T0 - 7 * 86_400_000
    const file = (start: number) => ({ from: new Date(start), to: new Date(start + minutes(4)) })
    // CloudTrail writes several files per 5 minutes: three for each of yesterday's 12:00 to 12:20,
    // and one of last week, all stored before the detector gets to them: one range per stretch of time.
    const files = [...[0, 5, 10, 15].flatMap((m) => [file(yesterday + minutes(m)), file(yesterday + minutes(m)), file(yesterday + minutes(m))]), file(lastWeek)]
    await Promise.all(files.map((f) => scheduler.catchUp(f)))
    const runs = windows.map((w) => w.now.getTime())
    const within = (from: number, to: number) => runs.filter((r) => r > from && r <= to)
    // Each stretch's runs go on until a window past its last event: every window that holds any of them.
    expect(within(lastWeek, lastWeek + minutes(64)).map((r) => (r - lastWeek) / minutes(1))).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 64])
    // Twelve files, each 5 minutes run once: 12:05 to 13:15, and 13:19, a window after the last file.
    expect(within(yesterday, yesterday + minutes(79)).map((r) => (r - yesterday) / minutes(1))).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 79])
    expect(runs).toHaveLength(29)
  })

  it('stops between two runs of a catch-up, naming the history it left for detect --from', async () => {
    let runs = 0
    const counting: typeof unusualSourceIp = { ...unusualSourceIp, params: (config, context) => (runs++, unusualSourceIp.params?.(config, context) ?? {}) }
    const warnings: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) })
    const scheduler = new DetectorScheduler(store, [counting], { settings: testSettings(), logger, clock: () => new Date(T0) })
    // A month of late history: thousands of runs, a day of them to a query, which a stop must not wait for.
    const caughtUp = scheduler.catchUp({ from: new Date(T0 - 30 * 86_400_000), to: new Date(T0) })
    await expect.poll(() => runs, { timeout: 30_000 }).toBeGreaterThanOrEqual(2)
    await scheduler.stop()
    await caughtUp
    expect(runs).toBeLessThan(20)
    expect(warnings).toEqual([
      'stopped before catching up on late history; trailwatch detect --from 2026-10-21T12:00:00.000Z --to 2026-11-20T12:00:00.000Z --detector unusual-source-ip covers it',
    ])
  })
})

describe('DetectorScheduler overlaps', () => {
  it('says through its logger, once an hour at most, that a detector is still on its last run', async () => {
    const slow: typeof unusualSourceIp = { ...unusualSourceIp, schedule: '* * * * * *', prepare: () => new Promise((resolve) => setTimeout(resolve, 2_500)) }
    const lines: { msg: string; module?: string; detector?: string }[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) })
    const store = await openTestStore()
    const scheduler = new DetectorScheduler(store, [slow], { settings: testSettings(), logger, clock: () => new Date(T0) })
    scheduler.start()
    // A run of 2.5 s on a schedule of every second: ticks keep finding it busy.
    await expect.poll(() => lines.filter((l) => l.module === 'node-cron').length, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(2)
    await scheduler.stop()
    await store.close()
    const warnings = lines.filter((l) => l.module === 'detectors.scheduler' && l.msg.includes('is still on its run'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ detector: 'unusual-source-ip', msg: expect.stringMatching(/^unusual-source-ip is still on its run due \d+ s earlier; the run due now is skipped/) as unknown })
    // The library's own line went to debug, not past the logger.
    expect(lines.filter((l) => l.module === 'node-cron').every((l) => (l as { level?: number }).level === 20)).toBe(true)
  })
})

describe('DetectorScheduler scheduled runs', () => {
  it('runs the detectors due on the same second one at a time, each in its turn', async () => {
    let running = 0
    const overlapping: number[] = []
    const ran: string[] = []
    const timed = (id: string): typeof unusualSourceIp => ({
      ...unusualSourceIp,
      id,
      schedule: '* * * * * *',
      prepare: async () => {
        overlapping.push(++running)
        await new Promise((resolve) => setTimeout(resolve, 200))
        running--
        ran.push(id)
      },
    })
    const store = await openTestStore()
    const scheduler = new DetectorScheduler(store, [timed('first'), timed('second'), timed('third')], { settings: testSettings(), logger: testLogger, clock: () => new Date(T0) })
    scheduler.start()
    await expect.poll(() => new Set(ran).size, { timeout: 10_000, interval: 100 }).toBe(3)
    await scheduler.stop()
    await store.close()
    expect(Math.max(...overlapping)).toBe(1)
  })
})

describe('DetectorScheduler.detectStored', () => {
  it('runs only the immediate detectors over a stored batch at once, and tells the alerter', async () => {
    const store = await openTestStore()
    const at = T0 + minutes(1)
    // Carol's history, then one batch: a trail stopped, from an address she never used.
    await ingestRecords(store, daily(20, T0, 14, (day) => apiCall(day, iamUser('carol'), '98.207.1.1')))
    await ingestRecords(store, [apiCall(at, iamUser('carol'), '5.255.255.77', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name: 'org-trail' } })])
    let told = 0
    const scheduler = new DetectorScheduler(store, [unusualSourceIp, cloudtrailTampering], { settings: testSettings(), logger: testLogger, clock: () => new Date(at + 5_000), onFindings: () => told++ })
    await scheduler.detectStored({ from: new Date(at), to: new Date(at) })
    const alerts = await queryRows<{ detector: string }>(store, 'SELECT detector FROM alerts FINAL')
    // unusual-source-ip waits for its schedule: weighing each address against a month of history on every batch costs too much.
    expect(alerts.map((a) => a.detector)).toEqual(['cloudtrail-tampering'])
    expect(told).toBe(1)
    await store.close()
  })

  it('runs first-seen and sequence rules over a stored batch, the remembering ones in a round of their own', async () => {
    const store = await openTestStore()
    const at = T0 + minutes(20)
    const { rules } = loadRuleFiles([builtInRulesDir()])
    const rule = (id: string) => rules.find((r) => r.detector.id === `rule:${id}`)?.detector as Detector
    const firstRead = rule('trailwatch-secret-first-read')
    const listedThenRead = rule('trailwatch-secrets-listed-then-read')
    const secrets = (when: number, eventName: string, secretId?: string) =>
      apiCall(when, iamUser('erin'), '98.207.1.1', { eventSource: 'secretsmanager.amazonaws.com', eventName, readOnly: true, requestParameters: secretId ? { secretId } : null })
    // Two weeks of erin reading the same secret; today she lists them, and the batch reads another.
    await ingestRecords(store, daily(14, T0, 10, (day) => secrets(day, 'GetSecretValue', 'app/db')))
    await ingestRecords(store, [secrets(T0 + minutes(15), 'ListSecrets')])
    await ingestRecords(store, [secrets(at, 'GetSecretValue', 'prod/payments')])
    let told = 0
    const scheduler = new DetectorScheduler(store, [firstRead, listedThenRead], { settings: testSettings(), logger: testLogger, clock: () => new Date(at + 5_000), onFindings: () => told++ })
    await scheduler.detectStored({ from: new Date(at), to: new Date(at) })
    const alerts = await queryRows<{ detector: string; title: string }>(store, 'SELECT detector, title FROM alerts FINAL ORDER BY detector')
    expect(alerts.map((a) => a.detector)).toEqual([firstRead.id, listedThenRead.id])
    expect(alerts[0]?.title).toContain('prod/payments')
    // The sequence's findings were stored before the first-seen rule brought its memory up to the batch.
    expect(told).toBe(2)
    await store.close()
  })

  it('runs the single-event rules a batch wakes in one scan of its events, each finding what it finds alone', async () => {
    const store = await openTestStore()
    const at = T0 + minutes(40)
    const sigma = loadRuleFiles([path.join(DATASETS, 'sigma-cloudtrail')]).rules.filter((r) => r.type === 'sigma').map((r) => r.detector)
    const call = (eventSource: string, eventName: string, requestParameters: Record<string, unknown> = {}) => apiCall(at, iamUser('mallory'), '5.255.255.77', { eventSource, eventName, requestParameters })
    await ingestRecords(store, [
      call('cloudtrail.amazonaws.com', 'StopLogging', { name: 'org-trail' }),
      call('guardduty.amazonaws.com', 'DeleteDetector', { detectorId: 'd1' }),
      call('iam.amazonaws.com', 'CreateAccessKey', { userName: 'admin' }),
      call('ec2.amazonaws.com', 'ModifySnapshotAttribute', { snapshotId: 'snap-1', createVolumePermission: { add: { items: [{ group: 'all' }] } } }),
    ])
    const window = { from: new Date(at), now: new Date(at + 1) }
    const alone = (await Promise.all(sigma.map((rule) => runDetector(store, rule, window, testSettings())))).flat()
    const scheduler = new DetectorScheduler(store, sigma, { settings: testSettings(), logger: testLogger, clock: () => new Date(at + 5_000) })
    await scheduler.detectStored({ from: new Date(at), to: new Date(at) })
    const stored = await queryRows<{ alert_id: string; title: string }>(store, 'SELECT alert_id, title FROM alerts FINAL ORDER BY alert_id')
    // Several rules woken, and each stored what its own query finds.
    expect(alone.length).toBeGreaterThanOrEqual(3)
    expect(stored).toEqual(alone.map((f) => ({ alert_id: f.alertId, title: f.title })).sort((a, b) => a.alert_id.localeCompare(b.alert_id)))
    await store.close()
  })

  it('wakes only the rules whose events a batch holds, each rule read with its own parameters', async () => {
    const store = await openTestStore()
    const at = T0 + minutes(30)
    const rules = loadRuleFiles([builtInRulesDir()]).rules.map((r) => r.detector)
    const erin = (when: number, eventSource: string, eventName: string) => apiCall(when, iamUser('erin'), '98.207.1.1', { eventSource, eventName })
    // The batch lists secrets; a federation token asked for minutes before it is not the batch's.
    await ingestRecords(store, [erin(at, 'secretsmanager.amazonaws.com', 'ListSecrets'), erin(at - minutes(5), 'sts.amazonaws.com', 'GetFederationToken')])
    // A condition is read whole beside its part on columns, whatever its own operators.
    const neverCalled: Detector = { ...(unusualSourceIp as Detector), id: 'never-called', touches: { pre: "event_name = 'NoSuchCall'", sql: "error_code = 'Throttling' OR 1 = 1", params: {} } }
    const touched = await touchedDetectors(store, [...rules, unusualSourceIp, neverCalled], { from: new Date(at), now: new Date(at + 1) })
    expect([...touched].map((d) => d.id)).toEqual(['rule:trailwatch-secrets-listed-then-read'])
    const earlier = await touchedDetectors(store, rules, { from: new Date(at - minutes(10)), now: new Date(at) })
    expect([...earlier].map((d) => d.id)).toEqual(['rule:trailwatch-federation-token-new-principal'])
    await store.close()
  })

  it('follows the batches another process journals, from when it started', async () => {
    const store = await openTestStore()
    const journal = (storedAt: number, at: number) =>
      store.client.insert({ table: 'stored_batches', values: [{ stored_at: clickHouseTime(storedAt), events_from: clickHouseTime(at), events_to: clickHouseTime(at) }], format: 'JSONEachRow' })
    const trail = (at: number, eventName: string, name: string) =>
      apiCall(at, iamUser('erin'), '5.255.255.77', { eventSource: 'cloudtrail.amazonaws.com', eventName, requestParameters: { name } })
    // Journalled an hour before the scheduler starts: left to the scheduled runs. Stored before the
    // window of a scheduled run at the test clock, so a tick during the test cannot find it either.
    await ingestRecords(store, [trail(T0 - minutes(90), 'DeleteTrail', 'old-trail')])
    await journal(Date.now() - 3_600_000, T0 - minutes(90))
    // Journalled after it started, by the store's clock.
    await ingestRecords(store, [trail(T0, 'StopLogging', 'org-trail')])
    await journal(Date.now() + 3_600_000, T0)
    const scheduler = new DetectorScheduler(store, [cloudtrailTampering], { settings: testSettings(), logger: testLogger, clock: () => new Date(T0 + 5_000), followStoredBatchesMs: 50 })
    scheduler.start()
    const titles = async () => (await queryRows<{ title: string }>(store, 'SELECT title FROM alerts FINAL')).map((r) => r.title)
    await expect.poll(titles, { timeout: 10_000, interval: 100 }).toEqual([expect.stringContaining('StopLogging on org-trail')])
    await scheduler.stop()
    expect(await titles()).toHaveLength(1)
    await store.close()
  })

  it('runs a threshold detector over its window ending at the batch, not over the batch alone', async () => {
    const store = await openTestStore()
    const at = T0 + minutes(10)
    // Four guesses at dora's password stored earlier; the batch holds only the fifth.
    await ingestRecords(store, Array.from({ length: 4 }, (_, i) => consoleSignIn(T0 + minutes(i), 'dora', '185.220.101.1', 'Failure')))
    await ingestRecords(store, [consoleSignIn(at, 'dora', '185.220.101.1', 'Failure')])
    let told = 0
    const scheduler = new DetectorScheduler(store, [consoleBruteForce], { settings: testSettings(), logger: testLogger, clock: () => new Date(at + 5_000), onFindings: () => told++ })
    await scheduler.detectStored({ from: new Date(at), to: new Date(at) })
    const alerts = await queryRows<{ detector: string; title: string }>(store, 'SELECT detector, title FROM alerts FINAL')
    expect(alerts.map((a) => a.detector)).toEqual(['console-brute-force'])
    expect(alerts[0]?.title).toContain('dora')
    // The next batch holds a guess of someone else's: the window finds dora's burst again, unchanged, and stores nothing.
    await ingestRecords(store, [consoleSignIn(at + 1_000, 'erin', '185.220.101.2', 'Failure')])
    await scheduler.detectStored({ from: new Date(at + 1_000), to: new Date(at + 1_000) })
    expect(told).toBe(1)
    // A sixth guess changes the finding: stored again.
    await ingestRecords(store, [consoleSignIn(at + 2_000, 'dora', '185.220.101.1', 'Failure')])
    await scheduler.detectStored({ from: new Date(at + 2_000), to: new Date(at + 2_000) })
    expect(told).toBe(2)
    await store.close()
  })
})
