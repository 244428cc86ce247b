import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { apiCall, iamUser } from '../test/helpers/events.js'
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
