import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_ENTRY, runCli, runProgram, TSX } from './helpers/cli.js'

const freshDir = () => mkdtempSync(path.join(tmpdir(), 'trailwatch-mistakes-'))
const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version

/** A mistake is answered with exactly one line on stderr and a failing exit status. */
async function expectOneLine(args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const { code, stdout, stderr } = await runCli(args, { env })
  expect(code).toBe(1)
  expect(stdout).toBe('')
  expect(stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(message)])
}

describe('mistakes get one line, not a stack trace', () => {
  it('names a credential report that does not exist', async () => {
    await expectOneLine(['import', 'credential-report', '/nonexistent/report.csv', '--data-dir', freshDir()], /^trailwatch: cannot read \/nonexistent\/report\.csv: no such file or directory$/)
  })

  it('refuses a data directory that is a file, naming the option or the variable', async () => {
    const file = path.join(freshDir(), 'not-a-directory')
    writeFileSync(file, '')
    await expectOneLine(['query', 'SELECT 1', '--data-dir', file], new RegExp(`^trailwatch: --data-dir: ${file} is a file, not a directory$`))
    await expectOneLine(['query', 'SELECT 1'], new RegExp(`^trailwatch: TRAILWATCH_DATA_DIR: ${file} is a file, not a directory$`), { TRAILWATCH_DATA_DIR: file })
  })

  it('names an unknown detector and the known ones, or the closest when it is a typo, in detect and suppress alike', async () => {
    await expectOneLine(['detect', '--once', '--detector', 'no-such-detector', '--data-dir', freshDir()], /^trailwatch: no detector no-such-detector; known: unusual-source-ip, .*data-freshness, iam-posture, escalation-paths, guardduty-findings, aws-key-quarantine, and \d+ rules \(trailwatch rules list\)$/)
    await expectOneLine(['detect', '--once', '--detector', 'unusual-source-ips', '--data-dir', freshDir()], /^trailwatch: no detector unusual-source-ips; did you mean unusual-source-ip\?$/)
    // A suppression for a detector that does not exist would never match anything.
    await expectOneLine(['suppress', 'add', '--detector', 'off-hour-activity', '--owner', 'me', '--reason', 'typo', '--expires', '7d', '--data-dir', freshDir()], /^trailwatch: no detector off-hour-activity; did you mean off-hours-activity\?$/)
  })

  it('names a detectors file entry for no detector or rule, and an enabled that is not true or false', async () => {
    const file = path.join(freshDir(), 'detectors.json')
    writeFileSync(file, JSON.stringify({ 'rule:trailwatch-key-two-contries': { enabled: false } }))
    await expectOneLine(['detect', '--once', '--data-dir', freshDir()], /^trailwatch: TRAILWATCH_DETECTORS_FILE: no detector or rule rule:trailwatch-key-two-contries; known: unusual-source-ip, .*, and rule:ID for each rule \(trailwatch rules list\)$/, { TRAILWATCH_DETECTORS_FILE: file })
    writeFileSync(file, JSON.stringify({ 'data-freshness': { enabled: 'no' } }))
    await expectOneLine(['detect', '--once', '--data-dir', freshDir()], /^trailwatch: detector data-freshness: enabled: expected true or false$/, { TRAILWATCH_DETECTORS_FILE: file })
  })

  it('refuses --at and --json without --once instead of starting the schedules', async () => {
    const dataDir = freshDir()
    await expectOneLine(['detect', '--at', '2026-11-20T12:00:00Z', '--data-dir', dataDir], /^trailwatch: --at and --json go with --once/)
    await expectOneLine(['detect', '--json', '--data-dir', dataDir], /^trailwatch: --at and --json go with --once/)
  })

  it('names the Kafka brokers it cannot reach', async () => {
    const input = path.join(freshDir(), 'one.json')
    writeFileSync(input, JSON.stringify({ eventID: 'e-1', eventTime: '2026-11-20T12:00:00Z', eventName: 'ListUsers', eventSource: 'iam.amazonaws.com' }))
    // Port 9 (discard) is closed on loopback: the connection is refused at once, then retried by the client.
    await expectOneLine(['produce', input], /^trailwatch: cannot reach the Kafka brokers 127\.0\.0\.1:9 \(KAFKA_BROKERS\): .*ECONNREFUSED/, { KAFKA_BROKERS: '127.0.0.1:9' })
    await expectOneLine(['ingest', '--data-dir', freshDir()], /^trailwatch: cannot reach the Kafka brokers 127\.0\.0\.1:9 \(KAFKA_BROKERS\): .*ECONNREFUSED/, {
      KAFKA_BROKERS: '127.0.0.1:9',
      TRAILWATCH_LOG_LEVEL: 'warn',
    })
  })

  it('names an unknown command or option', async () => {
    await expectOneLine(['nonsense'], /^trailwatch: unknown command 'nonsense'$/)
    await expectOneLine(['query', 'SELECT 1', '--nonsense'], /^trailwatch: unknown option '--nonsense'$/)
    await expectOneLine(['findings', 'export', '--format', 'xml', '--data-dir', freshDir()], /^trailwatch: option '--format <format>' argument 'xml' is invalid\. Allowed choices are ocsf, json\.$/)
  })
})

describe('a reader that stops reading', () => {
  it('ends a printing command quietly with status 0, in JSON and as a table', async () => {
    const dataDir = freshDir()
    for (const form of [['--json'], []]) {
      // As a shell runs `trailwatch query … | head -1`: the status is trailwatch's, not head's.
      const pipeline = `"$0" --import "$1" "$2" query 'SELECT number FROM system.numbers LIMIT 200000' ${form.join(' ')} --data-dir "$3" | head -1; exit "\${PIPESTATUS[0]}"`
      const result = await runProgram('bash', ['-c', pipeline, process.execPath, TSX, CLI_ENTRY, dataDir])
      expect(result).toEqual({ code: 0, stdout: expect.stringMatching(/^(\{"number":0\}|.*number.*)\n$/) as unknown, stderr: '' })
    }
  })
})

describe('asking what trailwatch is', () => {
  it('prints its version', async () => {
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
  })

  it('prints its commands when given none', async () => {
    const { code, stdout, stderr } = await runCli([])
    expect([code, stderr]).toEqual([0, ''])
    expect(stdout).toMatch(/^Usage: trailwatch \[options\] \[command\]/)
    expect(stdout).toContain('backfill [options] <path...>')
  })
})

describe('empty results say what to do next', () => {
  it('names the import a report needs, and the span an empty incident list looked at', async () => {
    const dataDir = freshDir()
    const iam = await runCli(['report', 'iam', '--at', '2026-11-20T12:00:00Z', '--data-dir', dataDir])
    expect(iam.stdout).toContain('No IAM snapshot imported yet, so nothing was judged: trailwatch import iam FILE.json')
    const credentials = await runCli(['report', 'credentials', '--at', '2026-11-20T12:00:00Z', '--data-dir', dataDir])
    expect(credentials.stdout).toContain('No credential report imported yet, so no key was judged: trailwatch import credential-report FILE.csv')
    const incidents = await runCli(['incidents', 'list', '--to', '2026-11-20T12:00:00Z', '--data-dir', dataDir])
    expect(incidents.stdout.trim()).toBe('0 incidents in the 7 days to 2026-11-20T12:00:00.000Z; --from widens the span (--from 2020-01-01T00:00:00Z for all)')
  })
})
