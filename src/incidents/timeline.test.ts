import { describe, expect, it } from 'vitest'
import { collapseRepeats, type TimelineEntry } from './timeline.js'

function call(minute: number, event: string, extra: Partial<Extract<TimelineEntry, { type: 'call' }>> = {}): TimelineEntry {
  return {
    type: 'call',
    time: new Date(Date.UTC(2023, 6, 10, 11, minute)).toISOString(),
    event,
    service: 'ec2.amazonaws.com',
    principal: 'arn:aws:iam::123837392027:role/reader',
    key: 'ASIAEXAMPLE',
    address: '192.168.10.20',
    country: '',
    region: 'us-east-1',
    error: '',
    read_only: true,
    event_id: `e${String(minute)}`,
    new: [],
    hop: '',
    ...extra,
  }
}

describe('collapseRepeats', () => {
  it('makes a run of the same call one row with its count, first and last time, and the marks of any of them', () => {
    const rows = collapseRepeats([call(0, 'GetPasswordData', { new: ['new API'] }), call(1, 'GetPasswordData'), call(2, 'GetPasswordData', { new: ['new region'] }), call(3, 'DescribeInstances')])
    expect(rows.map((r) => (r.type === 'call' ? [r.event, r.count, r.time.slice(11, 16), r.last.slice(11, 16), r.new] : []))).toEqual([
      ['GetPasswordData', 3, '11:00', '11:02', ['new API', 'new region']],
      ['DescribeInstances', 1, '11:03', '11:03', []],
    ])
  })

  it('keeps apart what differs: another address, key, region or outcome, a call that issued a key, and an alert between', () => {
    const alert = { type: 'alert', time: call(2, '').time, alert: {} } as TimelineEntry
    const rows = collapseRepeats([
      call(0, 'GetObject'),
      call(1, 'GetObject', { address: '5.255.255.77' }),
      call(2, 'GetObject', { address: '5.255.255.77', error: 'AccessDenied' }),
      alert,
      call(3, 'GetObject', { address: '5.255.255.77', error: 'AccessDenied' }),
      call(4, 'AssumeRole', { hop: 'issued ASIA1' }),
      call(5, 'AssumeRole', { hop: 'issued ASIA2' }),
      call(6, 'AssumeRole', { region: 'eu-west-1' }),
    ])
    expect(rows.map((r) => (r.type === 'call' ? r.count : 'alert'))).toEqual([1, 1, 1, 'alert', 1, 1, 1, 1])
  })
})
