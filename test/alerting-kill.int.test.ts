import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli, startCli } from './helpers/cli.js'
import { apiCall, iamUser } from './helpers/events.js'
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js'

const AT = '2026-11-20T12:00:00Z'
const USERS = ['ana', 'ben', 'cai', 'dee', 'eli']

let smtp: TestSmtpServer
beforeAll(async () => {
  smtp = await startSmtpServer()
})
afterAll(async () => {
  await smtp.close()
})

it('an alerter killed between sending and recording re-sends that one message and loses none', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-kill-alerter-'))
  const events = path.join(dataDir, 'tampering.jsonl')
  // Five people each stop the trail: five alerts in different groups, so each is emailed at once.
  const records = USERS.map((user, i) =>
    apiCall(Date.parse(AT) - (50 - i) * 60_000, iamUser(user), '73.15.20.1', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging', requestParameters: { name: 'org-trail' }, readOnly: false }),
  )
  writeFileSync(events, records.map((r) => JSON.stringify(r)).join('\n'))
  const env = { TRAILWATCH_DATA_DIR: path.join(dataDir, 'data'), TRAILWATCH_ALERT_TO: 'secops@example.com', SMTP_URL: smtp.url, TRAILWATCH_ALERT_POLL_MS: '100' }
  expect((await runCli(['backfill', events], { env })).code).toBe(0)
  expect((await runCli(['detect', '--once', '--at', AT, '--detector', 'cloudtrail-tampering'], { env })).stdout).toContain('5 findings')

  // The server takes the second message in full, then the alerter dies before it hears "250 OK".
  const alerter = startCli(['alert'], { env })
  let killedOn: string | undefined
  smtp.onAccepted = (received) => {
    if (smtp.received.length === 2) {
      killedOn = received.mail.messageId
      alerter.kill('SIGKILL')
    }
  }
  await once(alerter, 'exit')
  expect(killedOn).toBeDefined()
  smtp.onAccepted = () => undefined

  const rerun = await runCli(['alert', '--once'], { env })
  expect(rerun.code).toBe(0)

  const ids = smtp.received.map((r) => r.mail.messageId)
  const copies = new Map<string | undefined, number>()
  for (const id of ids) copies.set(id, (copies.get(id) ?? 0) + 1)
  // Never a loss: all five arrived. At most one duplicate: the message the crash interrupted.
  expect(copies.size).toBe(5)
  expect(ids.length).toBeLessThanOrEqual(6)
  expect([...copies].filter(([, n]) => n > 1).map(([id]) => id)).toEqual(ids.length === 6 ? [killedOn] : [])

  const sent = await runCli(['notifications', 'list', '--status', 'sent', '--json'], { env })
  expect(sent.stdout.trim().split('\n')).toHaveLength(5)
})

it('shows permanent failures by command, and sends one again when asked', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-failed-'))
  const events = path.join(dataDir, 'tampering.jsonl')
  writeFileSync(events, JSON.stringify(apiCall(Date.parse(AT) - 600_000, iamUser('ana'), '73.15.20.1', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'DeleteTrail', requestParameters: { name: 'org-trail' }, readOnly: false })))
  const env = { TRAILWATCH_DATA_DIR: path.join(dataDir, 'data'), TRAILWATCH_ALERT_TO: 'secops@example.com', SMTP_URL: smtp.url }
  await runCli(['backfill', events], { env })
  await runCli(['detect', '--once', '--at', AT], { env })

  smtp.judge = () => ({ code: 550, message: 'no such mailbox' })
  const refused = await runCli(['alert', '--once'], { env })
  expect(refused.stdout).toContain('0 sent, 0 to retry, 1 failed (trailwatch notifications list --status failed)')
  const failed = await runCli(['notifications', 'list', '--status', 'failed', '--json'], { env })
  const [row] = failed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { notification_id: string; status: string; error: string; recipient: string })
  expect(row).toMatchObject({ status: 'failed', recipient: 'secops@example.com', error: expect.stringContaining('550') as unknown })

  smtp.judge = () => undefined
  const received = smtp.received.length
  expect((await runCli(['notifications', 'retry', row?.notification_id ?? ''], { env })).stdout).toContain('1 notifications queued again')
  expect((await runCli(['alert', '--once'], { env })).stdout).toContain('1 sent')
  expect(smtp.received.length - received).toBe(1)
  expect((await runCli(['notifications', 'retry', 'nonexistent'], { env })).stderr).toContain('not failed notifications: nonexistent')
})
