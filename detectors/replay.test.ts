import { describe, expect, it } from 'vitest'
import type { Detector } from './define.js'
import offHours from './off-hours-activity/detector.js'
import { LATENESS_MS, scheduledRuns } from './replay.js'
import staleAccessKey from './stale-access-key/detector.js'

const runs = (detector: Detector, from: string, to: string): string[][] =>
  scheduledRuns(detector, new Date(from), new Date(to), LATENESS_MS).map((w) => [w.from.toISOString().slice(0, 16), w.now.toISOString().slice(0, 16)])

describe('scheduledRuns: history run by run, as the scheduler would have', () => {
  it('runs at each tick of the schedule over its own window, and once more at the end of the range', () => {
    expect(runs({ ...(offHours as Detector), schedule: '*/15 * * * *' }, '2026-11-20T10:07:00Z', '2026-11-20T11:05:00Z')).toEqual([
      ['2026-11-20T09:15', '2026-11-20T10:15'],
      ['2026-11-20T09:30', '2026-11-20T10:30'],
      ['2026-11-20T09:45', '2026-11-20T10:45'],
      ['2026-11-20T10:00', '2026-11-20T11:00'],
      ['2026-11-20T10:05', '2026-11-20T11:05'],
    ])
  })

  it('replays a schedule of every minute every five minutes, on the five, and one of its own minute at it', () => {
    expect(runs(offHours, '2026-11-20T10:07:00Z', '2026-11-20T10:21:00Z').map(([, now]) => now)).toEqual(['2026-11-20T10:10', '2026-11-20T10:15', '2026-11-20T10:20', '2026-11-20T10:21'])
    expect(runs({ ...(offHours as Detector), schedule: '3 * * * *' }, '2026-11-20T10:07:00Z', '2026-11-20T12:05:00Z').map(([, now]) => now)).toEqual(['2026-11-20T11:03', '2026-11-20T12:03', '2026-11-20T12:05'])
  })

  it('reaches back to the last run less the lateness when that is further than its window', () => {
    expect(runs(staleAccessKey, '2026-11-01T00:00:00Z', '2026-11-03T06:00:00Z')).toEqual([
      ['2026-10-31T06:00', '2026-11-01T06:00'],
      ['2026-11-01T05:45', '2026-11-02T06:00'],
      ['2026-11-02T05:45', '2026-11-03T06:00'],
    ])
  })
})
