import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, daily, iamUser, ingestRecords } from '../test/helpers/events.js'
import { openTestStore, queryRows, testLogger, type TestStore } from '../test/helpers/store.js'
import { readWatermark } from './engine.js'
import { scheduledWindow } from './replay.js'
import { DetectorScheduler } from './scheduler.js'
import unusualSourceIp from './unusual-source-ip/detector.js'
import { testSettings } from '../test/helpers/detect.js'

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
    const scheduler = new DetectorScheduler(store, [unusualSourceIp], { settings: testSettings(), logger: testLogger, clock: () => now })
    expect(await scheduler.runScheduled(unusualSourceIp)).toEqual([])
    expect((await readWatermark(store, unusualSourceIp.id))?.toISOString()).toBe(new Date(T0).toISOString())

    // Two hours later CloudTrail delivers an event from before the first run's end: the window is
    // long past for the detector's own 1 h, but the watermark less lateness reaches it.
    await ingestRecords(store, [apiCall(T0 - minutes(5), iamUser('carol'), '5.255.255.77')])
    now = new Date(T0 + minutes(120))
    const findings = await scheduler.runScheduled(unusualSourceIp)
    expect(findings.map((f) => [f.detector, f.severity, f.evidence.address])).toEqual([['unusual-source-ip', 'high', '5.255.255.77']])

    // Found again, still one alert.
    now = new Date(T0 + minutes(125))
    await scheduler.runScheduled(unusualSourceIp)
    const alerts = await queryRows<{ n: string }>(store, 'SELECT count() AS n FROM alerts FINAL')
    expect(Number(alerts[0]?.n)).toBe(1)
  })
})
