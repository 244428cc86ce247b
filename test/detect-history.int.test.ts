import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { INVICTUS } from './helpers/datasets.js'

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures')
let dataDir: string

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-history-'))
  expect((await runCli(['backfill', INVICTUS, '--data-dir', dataDir])).code).toBe(0)
})

/** Each finding of `detect --json` as what a person would compare: detector, principal, severity, title. */
const findings = (stdout: string): string[] =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { detector: string; principal: string; severity: string; title: string })
    .map((f) => `${f.severity} ${f.detector} ${f.principal} ${f.title}`)
    .sort()

describe('detect over history', () => {
  it('finds over an hour, window by window, what one run at the hour’s end finds, and what shorter windows saw before it', async () => {
    const once = await runCli(['detect', '--once', '--at', '2023-07-10T12:40:00Z', '--json', '--data-dir', dataDir])
    const range = await runCli(['detect', '--from', '2023-07-10T11:40:00Z', '--to', '2023-07-10T12:40:00Z', '--json', '--data-dir', dataDir])
    expect(range.code).toBe(0)
    expect(findings(once.stdout)).toHaveLength(28)
    // Rules looking at 10 to 30 minutes: the run at 12:40 no longer sees the harvests and sweeps of 11:57 to 12:10.
    const shortWindow = / rule:trailwatch-(secrets-many-read|secrets-listed-then-read|ssm-parameters-listed-then-decrypted|ec2-password-data-many|ec2-user-data-read-many|instance-credentials-used-by-operator) /
    expect(findings(range.stdout).filter((f) => !shortWindow.test(f))).toEqual(findings(once.stdout))
    expect(findings(range.stdout).filter((f) => shortWindow.test(f))).toHaveLength(7)
  })

  it('finds the attack in a day of history, and says what it covered', async () => {
    const range = await runCli(['detect', '--from', '2023-07-10T00:00:00Z', '--to', '2023-07-11T00:00:00Z', '--detector', 'cloudtrail-tampering', '--data-dir', dataDir])
    expect(range.code).toBe(0)
    expect(range.stdout).toMatch(/CRITICAL cloudtrail-tampering .* called DeleteTrail on/)
    expect(range.stdout.trim().split('\n').at(-1)).toMatch(/^\d+ findings from 1 detectors for 2023-07-10T00:00:00.000Z to 2023-07-11T00:00:00.000Z$/)
  })

  it('names a credential report dated after the detection time instead of skipping it silently', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-late-report-'))
    expect((await runCli(['import', 'credential-report', path.join(FIXTURES, 'credential-report.csv'), '--generated-at', '2026-11-27T06:30:00Z', '--data-dir', dir])).code).toBe(0)
    const early = await runCli(['detect', '--once', '--at', '2026-11-01T00:00:00Z', '--detector', 'stale-access-key', '--data-dir', dir])
    expect(early.code).toBe(0)
    expect(early.stderr).toMatch(/^warning: account 111122223333 has no credential report from before 2026-11-01T00:00:00.000Z \(its first is of 2026-11-27T06:30:00.000Z\)/m)
    const later = await runCli(['detect', '--once', '--at', '2026-11-28T00:00:00Z', '--detector', 'stale-access-key', '--data-dir', dir])
    expect(later.stderr).not.toContain('warning')
  })

  it('logs like a one-off command, not a service: on a fresh store, nothing on stderr', async () => {
    const fresh = mkdtempSync(path.join(tmpdir(), 'trailwatch-history-fresh-'))
    const range = await runCli(['detect', '--from', '2023-07-10T11:40:00Z', '--to', '2023-07-10T12:40:00Z', '--data-dir', fresh])
    expect([range.code, range.stderr]).toEqual([0, ''])
  })

  it('leaves out what the detectors file turns off, unless asked for by name', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'trailwatch-off-')), 'detectors.json')
    writeFileSync(file, JSON.stringify({ 'cloudtrail-tampering': { enabled: false }, 'rule:trailwatch-lambda-public': { enabled: false } }))
    const env = { TRAILWATCH_DETECTORS_FILE: file }
    const all = findings((await runCli(['detect', '--once', '--at', '2023-07-10T12:40:00Z', '--json', '--data-dir', dataDir])).stdout)
    const some = findings((await runCli(['detect', '--once', '--at', '2023-07-10T12:40:00Z', '--json', '--data-dir', dataDir], { env })).stdout)
    expect(some).toEqual(all.filter((f) => !/ (cloudtrail-tampering|rule:trailwatch-lambda-public) /.test(f)))
    expect(all.length - some.length).toBe(7)
    const named = await runCli(['detect', '--once', '--at', '2023-07-10T12:40:00Z', '--detector', 'cloudtrail-tampering', '--data-dir', dataDir], { env })
    expect(named.stdout.trim().split('\n').at(-1)).toBe('6 findings from 1 detectors for the window ending 2023-07-10T12:40:00.000Z')
  })

  it('says how much history a range without --to replays before it starts', async () => {
    const fresh = mkdtempSync(path.join(tmpdir(), 'trailwatch-history-now-'))
    const from = new Date(Date.now() - 3 * 3_600_000).toISOString()
    const range = await runCli(['detect', '--from', from, '--detector', 'cloudtrail-tampering', '--data-dir', fresh])
    expect(range.code).toBe(0)
    expect(range.stderr).toMatch(new RegExp(`^replaying ${from.replace(/[.]/g, '\\.')} to now \\(\\S+\\): 3 hours\n$`))
  })

  it('refuses a range that ends before it starts, and --at with --from', async () => {
    const backwards = await runCli(['detect', '--from', '2023-07-10T12:00:00Z', '--to', '2023-07-10T11:00:00Z', '--data-dir', dataDir])
    expect([backwards.code, backwards.stderr.trim()]).toEqual([1, 'trailwatch: --from must be before --to (2023-07-10T11:00:00.000Z)'])
    const mixed = await runCli(['detect', '--from', '2023-07-10T11:00:00Z', '--at', '2023-07-10T12:00:00Z', '--data-dir', dataDir])
    expect(mixed.code).toBe(1)
    expect(mixed.stderr).toContain('--at is the end of one window')
  })
})

describe('detect over a week of the simulated organisation', () => {
  // Replaying a week is 2,016 runs a detector, each paying the engine's fixed cost per query: minutes.
  it('finds every incident of the week at medium or above, and nothing else, with nothing configured', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-week-'))
    expect((await runCli(['demo', '--at', '2026-11-27T12:00:00Z', '--data-dir', dir])).code).toBe(0)
    const week = await runCli(
      ['detect', '--from', '2026-11-20T12:00:00Z', '--to', '2026-11-27T12:00:00Z', '--detector', 'unusual-source-ip', '--detector', 'off-hours-activity', '--detector', 'stale-access-key', '--json', '--data-dir', dir],
    )
    expect(week.code).toBe(0)
    const emailed = week.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { detector: string; principal: string; severity: string })
      .filter((f) => ['medium', 'high', 'critical'].includes(f.severity))
      .map((f) => `${f.detector} ${f.principal} ${f.severity}`)
    expect(emailed.sort()).toEqual([
      'off-hours-activity arn:aws:iam::111122223333:user/anna medium',
      'stale-access-key arn:aws:iam::111122223333:user/legacy-etl medium',
      'unusual-source-ip arn:aws:iam::111122223333:role/app-runtime high',
      'unusual-source-ip arn:aws:iam::111122223333:user/anna critical',
    ])
  }, 420_000)
})
