import { expect, it } from 'vitest'
import { statusText, type Status } from './status.js'

it('shows a source and a quiet alert on lines of their own, whatever their event data holds', () => {
  const status: Status = {
    at: '2026-11-20T12:00:00.000Z',
    sources: [{ account: '111122223333', region: 'us-east-1\nDETECTORS: all fine', last_event: '2026-11-20T11:50:00.000Z', last_ingested: '2026-11-20T11:55:00.000Z', events_24h: 3 }],
    watermarks: [],
    alerts: { unrouted: 0, notifications: {} },
    quiet: [{ account: '111122223333', title: 'quiet \u001b[2J region', last_seen: null }],
    iam: [],
    skippedRules: [],
  }
  const text = statusText(status)
  expect(text).toContain('us-east-1\\nDETECTORS: all fine')
  expect(text).toContain('quiet \\u001b[2J region')
  expect(text.split('\n').filter((line) => line.startsWith('DETECTORS'))).toEqual(['DETECTORS: where each scheduled run got to'])
  expect(text).not.toContain('\u001b')
})

it('names each rule file that does not run, where and why', () => {
  const status: Status = { at: '2026-11-20T12:00:00.000Z', sources: [], watermarks: [], alerts: { unrouted: 0, notifications: {} }, quiet: [], iam: [], skippedRules: ['/rules/bomb.yml:1: not loaded: Excessive alias count'] }
  const lines = statusText(status).split('\n')
  expect(lines.slice(lines.indexOf('RULES THAT DO NOT RUN (trailwatch rules check)'), lines.indexOf('RULES THAT DO NOT RUN (trailwatch rules check)') + 2)).toEqual([
    'RULES THAT DO NOT RUN (trailwatch rules check)',
    '  /rules/bomb.yml:1: not loaded: Excessive alias count',
  ])
})

it('names an account whose IAM snapshot is older than two days', () => {
  const status: Status = {
    at: '2026-11-20T12:00:00.000Z',
    sources: [],
    watermarks: [],
    alerts: { unrouted: 0, notifications: {} },
    quiet: [],
    iam: [
      { account: '111122223333', taken_at: '2026-11-20T04:15:00.000Z', stale: false },
      { account: '444455556666', taken_at: '2026-11-16T04:15:00.000Z', stale: true },
    ],
    skippedRules: [],
  }
  const lines = statusText(status).split('\n')
  const at = lines.indexOf('IAM STATE: latest snapshot per account')
  expect(lines.slice(at + 1, at + 3)).toEqual(['  111122223333  2026-11-20T04:15:00.000Z (8 h ago)', '  444455556666  2026-11-16T04:15:00.000Z (4 d ago)  STALE: older than 2 days; trailwatch aws sync'])
})
