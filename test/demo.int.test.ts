import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { simpleParser } from 'mailparser'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'

/** The story the demo tells, by detector, principal and severity, whatever the day, hour and time zone. */
const STORY = [
  ['off-hours-activity', 'arn:aws:iam::111122223333:user/anna', 'medium'],
  ['stale-access-key', 'arn:aws:iam::111122223333:user/legacy-etl', 'medium'],
  ['unusual-source-ip', 'arn:aws:iam::111122223333:role/app-runtime', 'high'],
  ['unusual-source-ip', 'arn:aws:iam::111122223333:user/anna', 'critical'],
]

// Each ends the demo at a moment that once broke a clock-bound simulation, run under another machine time zone.
const MOMENTS = [
  { name: 'a Sunday morning', at: '2026-11-29T10:00:00Z', tz: 'Pacific/Auckland' },
  { name: 'a month end at midnight', at: '2026-02-28T23:30:00Z', tz: 'America/Los_Angeles' },
  { name: 'half an hour after Europe moved its clocks forward', at: '2026-03-29T01:30:00Z', tz: 'Europe/Berlin' },
  { name: 'half an hour after New York moved its clocks back', at: '2026-11-01T06:30:00Z', tz: 'Asia/Kolkata' },
]

describe('the demo', () => {
  it.each(MOMENTS)('tells the same story on $name', async ({ at, tz }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-demo-'))
    const env = { TRAILWATCH_DATA_DIR: path.join(dir, 'data'), TZ: tz }
    const result = await runCli(['demo', '--at', at], { env, cwd: dir })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\s+10000 events from data\/inbox\/demo-organisation-\d{4}-\d{2}-\d{2}\.json, and its IAM credential report$/m)
    expect(result.stdout).toContain('the detectors found 3 threats and 1 posture finding, 4 worth an email:')

    const alerts = await runCli(['query', 'SELECT detector, principal, severity FROM alerts FINAL ORDER BY detector, principal', '--json'], { env })
    expect(alerts.stdout.trim().split('\n').map((line) => Object.values(JSON.parse(line) as Record<string, string>))).toEqual(STORY)

    // The night session is at 3 a.m. on anna's own clock, and read a secret.
    expect(result.stdout).toMatch(/MEDIUM {3}off-hours-activity {2}arn:aws:iam::111122223333:user\/anna acted at \w{3} \d{4}-\d{2}-\d{2} 03:00 Europe\/Berlin, .*including GetSecretValue/)
    expect(result.stdout).toMatch(/CRITICAL unusual-source-ip {2}arn:aws:iam::111122223333:user\/anna acted from 5\.255\.255\.77 \(RU, /)

    const outbox = path.join(dir, 'data', 'outbox')
    const files = readdirSync(outbox)
    // anna's two alerts are one incident: one email; the stale key is told apart, as posture.
    expect(files).toHaveLength(3)
    expect(result.stdout).toContain('3 emails, in data/outbox:')
    const subjects = await Promise.all(files.map(async (f) => (await simpleParser(readFileSync(path.join(outbox, f)))).subject))
    expect(subjects.sort()).toEqual(['[trailwatch] CRITICAL anna: unusual-source-ip 5.255.255.77 (+1)', '[trailwatch] HIGH role app-runtime: unusual-source-ip 185.220.101.1', '[trailwatch] posture: 1 new finding, the worst MEDIUM'])
    const incidents = await runCli(['incidents', 'list', '--json', '--to', at], { env })
    expect(incidents.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { detectors: string[] }).detectors)).not.toContainEqual(['stale-access-key'])
  })
})
