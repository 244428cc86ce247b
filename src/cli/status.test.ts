import { expect, it } from 'vitest'
import { statusText, type Status } from './status.js'

it('shows a source and a quiet alert on lines of their own, whatever their event data holds', () => {
  const status: Status = {
    at: '2026-11-20T12:00:00.000Z',
    sources: [{ account: '111122223333', region: 'us-east-1\nDETECTORS: all fine', last_event: '2026-11-20T11:50:00.000Z', last_ingested: '2026-11-20T11:55:00.000Z', events_24h: 3 }],
    watermarks: [],
    alerts: { unrouted: 0, notifications: {} },
    quiet: [{ account: '111122223333', title: 'quiet \u001b[2J region', last_seen: null }],
    skippedRules: [],
  }
  const text = statusText(status)
  expect(text).toContain('us-east-1\\nDETECTORS: all fine')
  expect(text).toContain('quiet \\u001b[2J region')
  expect(text.split('\n').filter((line) => line.startsWith('DETECTORS'))).toEqual(['DETECTORS: where each scheduled run got to'])
  expect(text).not.toContain('\u001b')
})

it('names each rule file that does not run, where and why', () => {
  const status: Status = { at: '2026-11-20T12:00:00.000Z', sources: [], watermarks: [], alerts: { unrouted: 0, notifications: {} }, quiet: [], skippedRules: ['/rules/bomb.yml:1: not loaded: Excessive alias count'] }
  const lines = statusText(status).split('\n')
  expect(lines.slice(lines.indexOf('RULES THAT DO NOT RUN (trailwatch rules check)'), lines.indexOf('RULES THAT DO NOT RUN (trailwatch rules check)') + 2)).toEqual([
    'RULES THAT DO NOT RUN (trailwatch rules check)',
    '  /rules/bomb.yml:1: not loaded: Excessive alias count',
  ])
})
