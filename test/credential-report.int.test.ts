import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { CredentialAgeReport } from '../src/reports/credential-age.js'
import { runCli, startCli } from './helpers/cli.js'
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js'

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures', 'credential-age')
const ACCOUNT = '111122223333'
const AT = '2026-11-23T07:00:00Z'

const common = { account: ACCOUNT, root_key: false, known_from: 'credential report' }
/** The fixture, worked out by hand: each key's age, last use and standing at AT. */
const EXPECTED_KEYS = [
  { ...common, user: '<root_account>', access_key_id: '', status: 'Active', created: '2024-03-01T00:00:00.000Z', age_days: 997, last_used: '2026-10-01T00:00:00.000Z', days_unused: 53, last_address: '', last_region: 'us-east-1', last_service: 'iam', rotation_overdue: true, unused: true, root_key: true, standing: 'delete root key, rotate, unused' },
  // CloudTrail saw the key used after the report's last-use date: the later one counts.
  { ...common, user: 'alice', access_key_id: 'AKIAALICEEXAMPLE0001', status: 'Active', created: '2025-01-15T10:00:00.000Z', age_days: 676, last_used: '2026-11-22T09:00:00.000Z', days_unused: 0, last_address: '73.15.20.1', last_region: 'us-east-1', last_service: 's3.amazonaws.com', rotation_overdue: true, unused: false, standing: 'rotate' },
  { ...common, user: 'alice', access_key_id: '', status: 'Inactive', created: '2026-03-01T00:00:00.000Z', age_days: 267, last_used: '2026-03-15T00:00:00.000Z', days_unused: 253, last_address: '', last_region: 'eu-west-1', last_service: 'ec2', rotation_overdue: true, unused: true, standing: 'inactive, rotate, unused' },
  { ...common, user: 'ci-deploy', access_key_id: 'AKIACIDEPLOYEXAMPLE1', status: 'Active', created: '2026-10-20T00:00:00.000Z', age_days: 34, last_used: '2026-11-23T06:40:00.000Z', days_unused: 0, last_address: '3.90.1.1', last_region: 'eu-west-1', last_service: 'cloudformation.amazonaws.com', rotation_overdue: false, unused: false, standing: 'ok' },
  // Never used and 114 days old: past both limits.
  { ...common, user: 'dan', access_key_id: '', status: 'Active', created: '2026-08-01T00:00:00.000Z', age_days: 114, last_used: null, days_unused: null, last_address: '', last_region: '', last_service: '', rotation_overdue: true, unused: true, standing: 'rotate, unused' },
  // Created after the report was generated: CloudTrail alone knows it. fay's deleted key is gone.
  { ...common, user: 'erin', access_key_id: 'AKIAERINEXAMPLE00001', status: 'Active', created: '2026-11-23T06:00:00.000Z', age_days: 0, last_used: '2026-11-23T06:30:00.000Z', days_unused: 0, last_address: '81.2.69.142', last_region: 'eu-west-2', last_service: 'sts.amazonaws.com', rotation_overdue: false, unused: false, standing: 'ok', known_from: 'CloudTrail' },
]

let smtp: TestSmtpServer
let env: Record<string, string>
beforeAll(async () => {
  smtp = await startSmtpServer()
  const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-credential-age-'))
  env = { TRAILWATCH_DATA_DIR: dataDir, SMTP_URL: smtp.url, TRAILWATCH_ALERT_TO: 'secops@example.com', TRAILWATCH_REPORT_TO: 'iam-owners@example.com' }
  expect((await runCli(['backfill', path.join(FIXTURE, 'cloudtrail.json')], { env })).code).toBe(0)
  expect((await runCli(['import', 'credential-report', path.join(FIXTURE, 'credential-report.csv'), '--generated-at', '2026-11-23T05:00:00Z'], { env })).code).toBe(0)
})
afterAll(async () => {
  await smtp.close()
})

it('lists every key with its age, last use and standing, row by row, in JSON and CSV', async () => {
  const json = await runCli(['report', 'credentials', '--at', AT, '--format', 'json'], { env })
  expect(json.code).toBe(0)
  const report = JSON.parse(json.stdout) as CredentialAgeReport
  expect(report.keys).toHaveLength(EXPECTED_KEYS.length)
  EXPECTED_KEYS.forEach((expected, i) => {
    expect(report.keys[i], `row ${String(i + 1)}: ${expected.user}`).toEqual(expected)
  })
  expect(report.usersWithoutMfa).toEqual([
    { account: ACCOUNT, user: '<root_account>', arn: `arn:aws:iam::${ACCOUNT}:root`, password_last_used: '2026-09-02T08:11:00.000Z' },
    { account: ACCOUNT, user: 'bob', arn: `arn:aws:iam::${ACCOUNT}:user/bob`, password_last_used: '2026-11-21T10:00:00.000Z' },
  ])
  expect(report.sources).toEqual([{ account: ACCOUNT, generated_at: '2026-11-23T05:00:00.000Z' }])

  // alice used her key again the next day: invisible at AT, her last use a day later.
  const nextDay = JSON.parse((await runCli(['report', 'credentials', '--at', '2026-11-24T10:00:00Z', '--format', 'json'], { env })).stdout) as CredentialAgeReport
  expect(nextDay.keys.find((k) => k.access_key_id === 'AKIAALICEEXAMPLE0001')).toMatchObject({ last_used: '2026-11-24T09:00:00.000Z', last_address: '198.51.100.20', age_days: 678 })

  const csv = await runCli(['report', 'credentials', '--at', AT, '--format', 'csv'], { env })
  const rows = parse<Record<string, string>>(csv.stdout, { columns: true })
  expect(rows).toEqual(EXPECTED_KEYS.map((key) => Object.fromEntries(Object.entries(key).map(([k, v]) => [k, v === null ? '' : String(v)]))))

  const text = await runCli(['report', 'credentials', '--at', AT], { env })
  expect(text.stdout).toContain('6 access keys (5 active) in 1 accounts')
  expect(text.stdout).toContain('3 active keys older than 90 days')
  expect(text.stdout).toMatch(/alice\s+AKIAALICEEXAMPLE0001\s+Active\s+676d\s+2026-11-22\s+0d\s+73\.15\.20\.1 us-east-1 s3\.amazonaws\.com\s+rotate\n/)
})

it('emails a summary, the keys that need action and the CSV, with the week’s suppressed alerts', async () => {
  const rule = await runCli(['suppress', 'add', '--detector', 'stale-access-key', '--principal', '*:user/dan', '--owner', 'pat', '--reason', 'dan leaves on Friday', '--expires', '30d'], { env })
  expect(rule.stdout).toMatch(/^added [0-9a-f]{8} /)
  const ruleId = rule.stdout.split(' ')[1] ?? ''
  // The detector finds dan's key; the alerter silences it under the rule.
  await runCli(['detect', '--once', '--at', AT, '--detector', 'stale-access-key'], { env })
  const alerted = await runCli(['alert', '--once'], { env })
  expect(alerted.stdout).toContain('1 suppressed')

  const emailed = await runCli(['report', 'credentials', '--at', new Date().toISOString(), '--format', 'csv', '--email'], { env })
  expect(emailed.code).toBe(0)
  const mail = smtp.received.find((r) => r.to.includes('iam-owners@example.com'))?.mail
  expect(mail?.subject).toMatch(/^\[trailwatch\] credential-age report \d{4}-\d{2}-\d{2}: \d+ keys need action$/)
  expect(mail?.text).toContain('users who sign in without MFA')
  expect(mail?.text).toContain(`1 alerts silenced by rule ${ruleId} (stale-access-key, *:user/dan); owner pat: dan leaves on Friday`)
  const [attachment] = mail?.attachments ?? []
  expect(attachment?.contentType).toBe('text/csv')
  expect(attachment?.content.toString('utf8')).toBe(emailed.stdout)
  expect(typeof mail?.html === 'string' ? mail.html : '').toContain('AKIAALICEEXAMPLE0001')
})

it('goes out on its cron schedule from the running alerter, which stops on SIGTERM', async () => {
  const before = smtp.received.length
  const alerter = startCli(['alert'], { env: { ...env, TRAILWATCH_REPORT_SCHEDULE: '*/2 * * * * *', TRAILWATCH_REPORT_TIMEZONE: 'Europe/Berlin', TRAILWATCH_ALERT_POLL_MS: '200' } })
  await expect.poll(() => smtp.received.slice(before).filter((r) => r.mail.subject?.includes('credential-age report')).length, { timeout: 20_000, interval: 250 }).toBeGreaterThan(0)
  alerter.kill('SIGTERM')
  const [code] = (await once(alerter, 'exit')) as [number | null]
  expect(code).toBe(0)
})
