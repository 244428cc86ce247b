import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { INVICTUS } from './helpers/datasets.js'

const freshDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), `trailwatch-${prefix}-`))
const FIXTURES = path.resolve(import.meta.dirname, 'fixtures')
const EXAMPLES = path.resolve(import.meta.dirname, '../examples')

describe('trailwatch command line', () => {
  it('has --help on every command', async () => {
    for (const command of [[], ['run'], ['demo'], ['status'], ['backfill'], ['query'], ['import', 'credential-report'], ['migrate'], ['ingest'], ['produce'], ['detect'], ['rules', 'list'], ['rules', 'check'], ['rules', 'test'], ['alert'], ['suppress', 'add'], ['suppress', 'list'], ['suppress', 'remove'], ['notifications', 'list'], ['notifications', 'retry'], ['report', 'credentials'], ['events'], ['timeline'], ['rules', 'disable'], ['rules', 'enable']]) {
      const { code, stdout } = await runCli([...command, '--help'])
      expect(code).toBe(0)
      expect(stdout).toContain(`Usage: trailwatch ${command.join(' ')}`.trim())
    }
  })

  it('backfills with a JSON summary, says through its exit code what was rejected, and stores nothing twice', async () => {
    const dataDir = freshDir('data')
    const input = freshDir('input')
    const good = { eventID: 'cli-1', eventTime: '2026-11-02T09:15:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com', recipientAccountId: '111122223333' }
    writeFileSync(path.join(input, 'events.jsonl'), `${JSON.stringify(good)}\n{"eventID":"no-name"}\n`)

    const first = await runCli(['backfill', input, '--json', '--data-dir', dataDir])
    expect(first.code).toBe(2)
    expect(JSON.parse(first.stdout)).toMatchObject({ files: 1, read: 2, stored: 1, duplicate: 0, rejected: 1 })

    const second = await runCli(['backfill', input, '--json', '--data-dir', dataDir])
    expect(JSON.parse(second.stdout)).toMatchObject({ stored: 0, duplicate: 1 })

    const query = await runCli(['query', 'SELECT * FROM (SELECT event_id, event_name FROM events UNION ALL SELECT location, reason FROM rejected_input FINAL) ORDER BY 1', '--json', '--data-dir', dataDir])
    expect(query.code).toBe(0)
    expect(query.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { event_id: 'cli-1', event_name: 'ListUsers' },
      { event_id: 'line 2', event_name: expect.stringMatching(/^eventTime: /) as unknown },
    ])
  })

  it('searches events page by page, and reads a run of the same call as one line of a timeline', async () => {
    const dataDir = freshDir('data')
    expect((await runCli(['backfill', INVICTUS, '--data-dir', dataDir])).code).toBe(0)
    const deletes = await runCli(['events', '--key', 'AKIATFQR7NSC8Q4X20BJ', '--event', 'DeleteTrail', '--data-dir', dataDir])
    expect(deletes.stdout.trim().split('\n')).toEqual([
      ...Array<string>(2).fill('2023-07-10 12:08:04 UTC  DeleteTrail  arn:aws:iam::123837392027:user/bert-jan  AKIATFQR7NSC8Q4X20BJ  192.168.10.20  123837392027 us-east-1  ok'),
      '2023-07-10 11:59:02 UTC  DeleteTrail  arn:aws:iam::123837392027:user/bert-jan  AKIATFQR7NSC8Q4X20BJ  192.168.10.20  123837392027 us-east-1  TrailNotFoundException',
      '3 events',
    ])
    // Two pages of two failed calls go on where the first stopped: four different calls.
    const first = await runCli(['events', '--error', 'any', '--limit', '2', '--json', '--data-dir', dataDir])
    const last = JSON.parse(first.stdout.trim().split('\n').at(-1) ?? '{}') as { time: string; event_id: string }
    const more = await runCli(['events', '--error', 'any', '--limit', '2', '--to', last.time, '--before-event', last.event_id, '--json', '--data-dir', dataDir])
    const ids = [...first.stdout.trim().split('\n'), ...more.stdout.trim().split('\n')].map((line) => (JSON.parse(line) as { event_id: string; error: string }).event_id)
    expect(new Set(ids).size).toBe(4)
    expect((await runCli(['events', '--resource', 'x'.repeat(3000), '--data-dir', dataDir])).stderr).toContain('the resource searched for is longer than 2048 characters')

    const role = 'arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role'
    const timeline = await runCli(['timeline', '--principal', role, '--from', '2023-07-10T11:00:00Z', '--to', '2023-07-10T13:00:00Z', '--data-dir', dataDir])
    const lines = timeline.stdout.trim().split('\n')
    expect(lines.at(-1)).toBe('29 calls and 0 alerts, 2023-07-10 11:00:00 UTC → 2023-07-10 13:00:00 UTC')
    // 29 denied GetPasswordData calls in a row, and no alert between them (no detector ran): one line.
    expect(lines.filter((line) => line.includes('GetPasswordData')).map((line) => /×(\d+) to/.exec(line)?.[1])).toEqual(['29'])
  })

  it('rules disable keeps a detector from detect --once until rules enable, unless it is named', async () => {
    const dataDir = freshDir('data')
    expect((await runCli(['backfill', path.join(EXAMPLES, 'carol.jsonl'), '--data-dir', dataDir])).code).toBe(0)
    const detected = async (...more: string[]) => (await runCli(['detect', '--once', '--at', '2026-11-20T12:00:00Z', '--json', '--data-dir', dataDir, ...more])).stdout.includes('"detector":"unusual-source-ip"')
    expect((await runCli(['rules', 'disable', 'unusual-source-ip', '--reason', 'office move', '--by', 'carol', '--data-dir', dataDir])).stdout).toContain('unusual-source-ip turned off')
    expect(await detected()).toBe(false)
    expect(await detected('--detector', 'unusual-source-ip')).toBe(true)
    expect((await runCli(['rules', 'enable', 'unusual-source-ip', '--reason', 'moved', '--data-dir', dataDir])).code).toBe(0)
    expect(await detected()).toBe(true)
    const unknown = await runCli(['rules', 'disable', 'unusual-source', '--reason', 'x', '--data-dir', dataDir])
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'trailwatch: no detector unusual-source; did you mean unusual-source-ip?'])
  })

  it('names a path that does not exist', async () => {
    const { code, stderr } = await runCli(['backfill', '/nonexistent/cloudtrail', '--data-dir', freshDir('data')])
    expect(code).toBe(1)
    expect(stderr.trim()).toBe('trailwatch: cannot read /nonexistent/cloudtrail: no such file or directory')
  })

  it('detect --once --at --json prints each finding as the contract says, and stores it as one alert', async () => {
    const dataDir = freshDir('data')
    // The README's example: 20 days of carol from Comcast, then one call from Russia.
    expect((await runCli(['backfill', path.join(EXAMPLES, 'carol.jsonl'), '--data-dir', dataDir])).code).toBe(0)

    const detect = () => runCli(['detect', '--once', '--at', '2026-11-20T12:00:00Z', '--detector', 'unusual-source-ip', '--json', '--data-dir', dataDir])
    const first = await detect()
    expect(first.code).toBe(0)
    const findings = first.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(findings).toEqual([
      expect.objectContaining({
        detector: 'unusual-source-ip',
        severity: 'high',
        principal: 'arn:aws:iam::111122223333:user/carol',
        account: '111122223333',
        title: expect.stringContaining('5.255.255.77') as unknown,
        first_seen: '2026-11-20T11:50:00.000Z',
        last_seen: '2026-11-20T11:50:00.000Z',
        evidence: expect.objectContaining({ address: '5.255.255.77', country: 'RU' }) as unknown,
      }),
    ])
    await detect()
    const alerts = await runCli(['query', 'SELECT count() AS n FROM alerts FINAL', '--json', '--data-dir', dataDir])
    expect(Number((JSON.parse(alerts.stdout) as { n: string }).n)).toBe(1)
  })

  it('prints a table for people', async () => {
    const { code, stdout } = await runCli(['query', "SELECT 'hello' AS greeting", '--data-dir', freshDir('data')])
    expect(code).toBe(0)
    expect(stdout).toMatch(/greeting[\s\S]*hello/)
  })

  it('imports a credential report', async () => {
    const dataDir = freshDir('data')
    const imported = await runCli(['import', 'credential-report', path.join(FIXTURES, 'credential-report.csv'), '--generated-at', '2026-11-27T06:30:00Z', '--json', '--data-dir', dataDir])
    expect(imported.code).toBe(0)
    expect(JSON.parse(imported.stdout)).toEqual({ users: 4, accounts: ['111122223333'], generated_at: '2026-11-27T06:30:00.000Z' })
    const bad = await runCli(['import', 'credential-report', path.join(FIXTURES, 'credential-report.csv'), '--generated-at', 'someday', '--data-dir', dataDir])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/expected an ISO 8601 time/)
  })

  it('logs JSON lines when piped, and readable lines for a person', async () => {
    const env = { TRAILWATCH_LOG_LEVEL: 'info' }
    const piped = await runCli(['migrate', '--data-dir', freshDir('data')], { env })
    const logged = piped.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(logged[0]).toMatchObject({ level: 30, module: 'clickhouse.migrations', version: 1, msg: 'applied migration' })

    const readable = await runCli(['migrate', '--data-dir', freshDir('data')], { env: { ...env, TRAILWATCH_LOG_FORMAT: 'pretty' } })
    // eslint-disable-next-line no-control-regex -- colours are part of a terminal's line
    const lines = readable.stderr.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n')
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO \(events, rejected input, credential reports\): clickhouse\.migrations: applied migration \{"version":1\}$/)
  })

  it('names the setting that is wrong, and never its value', async () => {
    const { code, stderr } = await runCli(['query', 'SELECT 1', '--data-dir', freshDir('data')], { env: { INGEST_MAX_BATCH: 'lots', CLICKHOUSE_URL: 'hunter2' } })
    expect(code).toBe(1)
    expect(stderr).toMatch(/INGEST_MAX_BATCH: expected a number of events/)
    expect(stderr).toMatch(/CLICKHOUSE_URL: expected a URL/)
    expect(stderr).not.toContain('hunter2')
  })

  it('says which process holds the data directory instead of the engine lock error', async () => {
    const dataDir = freshDir('data')
    const holder = spawn(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, 'helpers/hold-store.ts'), dataDir], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      await once(holder.stdout, 'data')
      const { code, stderr } = await runCli(['query', 'SELECT 1', '--data-dir', dataDir])
      expect(code).toBe(1)
      expect(stderr).toContain(`is in use by process ${String(holder.pid)}`)
      expect(stderr).not.toMatch(/Cannot lock file|DB::Exception/)
      // A run killed outright left its address behind: the command still names the real holder.
      const gone = spawn(process.execPath, ['-e', ''])
      await once(gone, 'exit')
      writeFileSync(path.join(dataDir, 'run.json'), JSON.stringify({ pid: gone.pid, url: 'http://127.0.0.1:9', token: 'x'.repeat(64) }), { mode: 0o600 })
      const stale = await runCli(['status', '--data-dir', dataDir])
      expect([stale.code, stale.stderr]).toEqual([1, expect.stringContaining(`is in use by process ${String(holder.pid)}`) as unknown])
    } finally {
      holder.stdin.end()
      await once(holder, 'exit')
    }
  })
})
