import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { apiCall, iamUser } from '../test/helpers/events.js'
import { refusingEventsContaining, slowEventInserts } from '../test/helpers/faults.js'
import { openTestStore, queryRows, testLogger, type TestStore } from '../test/helpers/store.js'
import { InboxWatcher } from './inbox.js'

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
})
afterAll(async () => {
  await store.close()
})

it('records a symbolic link dropped into the inbox once, reads the files beside it, and never follows it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  writeFileSync(path.join(dir, 'real.json'), JSON.stringify(apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7')))
  symlinkSync('/etc/passwd', path.join(dir, 'passwd.json'))
  const inbox = new InboxWatcher(store, dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0 })

  const first = await inbox.ingestPending()
  expect(first.map((f) => [path.basename(f.path), f.summary.stored, f.summary.rejected])).toEqual([
    ['passwd.json', 0, 1],
    ['real.json', 1, 0],
  ])
  expect(await inbox.ingestPending()).toEqual([])
  const rejected = await queryRows<{ source: string; reason: string; raw: string }>(store, 'SELECT source, reason, raw FROM rejected_input FINAL')
  expect(rejected).toEqual([{ source: path.join(dir, 'passwd.json'), reason: expect.stringMatching(/^a symbolic link/) as unknown, raw: '' }])
})

it('moves a file the store keeps refusing to quarantine with its reason, and goes on with the others', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  const record = (id: string) => ({ ...apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7'), eventID: id })
  writeFileSync(path.join(dir, 'a-refused.json'), JSON.stringify(record('refused-by-the-store')))
  writeFileSync(path.join(dir, 'b-fine.json'), JSON.stringify(record('fine')))
  const inbox = new InboxWatcher(refusingEventsContaining(store, 'refused-by-the-store'), dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0, maxAttempts: 2, retryDelayMs: 1 })

  // The file after it is read on the first pass already.
  expect((await inbox.ingestPending()).map((f) => path.basename(f.path))).toEqual(['b-fine.json'])
  expect(await inbox.ingestPending()).toEqual([])
  expect(readdirSync(dir).sort()).toEqual(['.quarantine', 'b-fine.json'])
  const [moved, reason] = readdirSync(inbox.quarantineDirectory).sort()
  expect(moved).toMatch(/-a-refused\.json$/)
  expect(reason).toBe(`${String(moved)}.reason.txt`)
  expect(readFileSync(path.join(inbox.quarantineDirectory, reason ?? ''), 'utf8')).toMatch(/^stored nothing in 2 attempts while the store answered: inserting 1 events failed: /)
  const rows = await queryRows<{ source: string; reason: string }>(store, "SELECT source, reason FROM rejected_input FINAL WHERE source LIKE '%a-refused.json'")
  expect(rows).toEqual([{ source: path.join(dir, 'a-refused.json'), reason: expect.stringMatching(/^moved to .*\.quarantine\/.*-a-refused\.json: stored nothing in 2 attempts/) as unknown }])
  expect(await queryRows(store, "SELECT event_id FROM events WHERE event_id IN ('fine', 'refused-by-the-store') ORDER BY event_id LIMIT 1 BY event_id")).toEqual([{ event_id: 'fine' }])
})

it('reads a file of millions of numbers with little work, recording a bounded number of rejections, and the next file whole', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  writeFileSync(path.join(dir, 'a-numbers.json'), `{"Records":[${'0,'.repeat(5_000_000)}0]}`)
  writeFileSync(path.join(dir, 'b-fine.json'), JSON.stringify({ ...apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7'), eventID: 'after-the-numbers' }))
  const inbox = new InboxWatcher(store, dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0 })
  const files = await inbox.ingestPending()
  expect(files.map((f) => [path.basename(f.path), f.summary.stored, f.summary.rejected])).toEqual([
    ['a-numbers.json', 0, 101],
    ['b-fine.json', 1, 0],
  ])
  const [last] = await queryRows<{ reason: string }>(store, "SELECT reason FROM rejected_input FINAL WHERE source LIKE '%a-numbers.json' AND reason LIKE 'more than%'")
  expect(last?.reason).toBe('more than 100 values of this document were rejected; the rest of it is skipped')
  // Before documents had a budget, the numbers cost over a minute of decoding and five million rejections.
})

it('says it is not ready while one file holds it up, and ready again once the file is done', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  writeFileSync(path.join(dir, 'slow.json'), JSON.stringify({ ...apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7'), eventID: 'slow-one' }))
  const inbox = new InboxWatcher(slowEventInserts(store, 1_500), dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0, stuckMs: 60_000 })
  const pass = inbox.ingestPending()
  await expect.poll(() => inbox.readiness(Date.now() + 120_000), { timeout: 5_000, interval: 20 }).toMatch(/^the inbox has been reading slow\.json for 1\d\d s; the files after it wait$/)
  expect(inbox.readiness()).toBe(true)
  await pass
  expect(inbox.readiness(Date.now() + 120_000)).toBe(true)
})

it('forgets what a file was rejected for while it was still being written, once it is read whole', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  const file = path.join(dir, 'growing.json')
  const records = [1, 2].map((n) => ({ ...apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7'), eventID: `growing-${String(n)}` }))
  const whole = JSON.stringify({ Records: records })
  writeFileSync(file, whole.slice(0, whole.length - 40))
  const inbox = new InboxWatcher(store, dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0 })
  await inbox.ingestPending()
  const reasons = () => queryRows<{ reason: string }>(store, 'SELECT reason FROM rejected_input FINAL WHERE source = {file:String}', { file })
  expect((await reasons()).map((r) => r.reason)).toEqual(['input ended inside a JSON value (truncated?)'])
  writeFileSync(file, whole)
  const [read] = await inbox.ingestPending(Date.now() + 5_000)
  expect(read?.summary.stored).toBe(1)
  expect(await reasons()).toEqual([])
})

it('names a FIFO dropped into the inbox instead of waiting on it, and reads the files beside it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-inbox-'))
  execFileSync('mkfifo', [path.join(dir, 'a-pipe.json')])
  writeFileSync(path.join(dir, 'b-real.json'), JSON.stringify({ ...apiCall('2026-11-20T09:00:00Z', iamUser('alice'), '198.51.100.7'), eventID: 'beside-the-pipe' }))
  const inbox = new InboxWatcher(store, dir, { maxBatch: 100, maxRecordBytes: 1024 * 1024, logger: testLogger, settleMs: 0 })
  const files = await inbox.ingestPending()
  expect(files.map((f) => [path.basename(f.path), f.summary.stored, f.summary.rejected])).toEqual([
    ['a-pipe.json', 0, 1],
    ['b-real.json', 1, 0],
  ])
  const [row] = await queryRows<{ reason: string }>(store, 'SELECT reason FROM rejected_input FINAL WHERE source = {source:String}', { source: path.join(dir, 'a-pipe.json') })
  expect(row?.reason).toBe('not a regular file (a FIFO, socket or device): not read')
})
