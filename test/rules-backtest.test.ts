import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { histogramLines } from '../detectors/backtest.js'
import { runCli } from './helpers/cli.js'
import { apiCall, iamUser } from './helpers/events.js'
import { testDataDir } from './helpers/store.js'

const RULE = 'trailwatch-guardduty-blinded'
const trustedIps = (at: string, user: string) => apiCall(at, iamUser(user), '198.51.100.7', { eventSource: 'guardduty.amazonaws.com', eventName: 'CreateIPSet', requestParameters: { detectorId: 'd1', name: 'trusted', format: 'TXT', location: 'https://s3.amazonaws.com/x/ips.txt', activate: true } })

it('draws a bar per day, as long as its count against the busiest day’s', () => {
  expect(histogramLines([{ day: '2026-11-20', findings: 4 }, { day: '2026-11-21', findings: 0 }, { day: '2026-11-22', findings: 1 }], 8)).toEqual(['2026-11-20  ████████ 4', '2026-11-21  0', '2026-11-22  ██ 1'])
})

it('says what a rule would have found over history, per day, and stores nothing unless asked', async () => {
  const dataDir = testDataDir()
  const input = path.join(dataDir, '..', `${path.basename(dataDir)}-events.jsonl`)
  writeFileSync(input, [trustedIps('2026-11-20T10:00:00Z', 'mallory'), trustedIps('2026-11-20T10:10:00Z', 'trent'), apiCall('2026-11-21T09:00:00Z', iamUser('dana'), '198.51.100.8', { eventName: 'ListBuckets' }), trustedIps('2026-11-22T16:00:00Z', 'mallory')].map((r) => JSON.stringify(r)).join('\n'))
  const env = { TRAILWATCH_DATA_DIR: dataDir }
  expect((await runCli(['backfill', input], { env })).code).toBe(0)

  const range = ['--from', '2026-11-20T00:00:00Z', '--to', '2026-11-23T00:00:00Z']
  const text = await runCli(['rules', 'backtest', RULE, ...range], { env })
  expect(text.code).toBe(0)
  const lines = text.stdout.trim().split('\n')
  expect(lines[0]).toBe(`rule:${RULE}  GuardDuty was told to look away: 3 findings from 2026-11-20T00:00:00.000Z to 2026-11-23T00:00:00.000Z`)
  expect(lines.slice(1, 4).map((line) => line.replace(/█+ /, '# '))).toEqual(['  2026-11-20  # 2', '  2026-11-21  0', '  2026-11-22  # 1'])
  expect(lines.slice(4)).toHaveLength(3)

  const json = await runCli(['rules', 'backtest', `rule:${RULE}`, ...range, '--json'], { env })
  const [result] = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; days: { day: string; findings: number }[]; findings: { principal: string }[] })
  expect(result?.days.map((d) => d.findings)).toEqual([2, 0, 1])
  expect(result?.findings.map((f) => f.principal.split('/').pop())).toEqual(['mallory', 'trent', 'mallory'])
  // A look, not a detection: nothing stored, until --store.
  const alerts = async () => JSON.parse((await runCli(['query', 'SELECT count() AS n FROM alerts', '--json'], { env })).stdout) as { n: number }
  expect(await alerts()).toEqual({ n: 0 })
  expect((await runCli(['rules', 'backtest', RULE, ...range, '--store'], { env })).code).toBe(0)
  expect(await alerts()).toEqual({ n: 3 })
}, 180_000)

it('asks for rules by name or --all, not both, and names an unknown one', async () => {
  const env = { TRAILWATCH_DATA_DIR: testDataDir() }
  const neither = await runCli(['rules', 'backtest', '--days', '1'], { env })
  expect([neither.code, neither.stderr.trim()]).toEqual([1, 'trailwatch: name the rules to backtest, or --all for every one'])
  const unknown = await runCli(['rules', 'backtest', 'trailwatch-guardduty-blind', '--days', '1'], { env })
  expect(unknown.stderr.trim()).toMatch(/^trailwatch: no detector rule:trailwatch-guardduty-blind; did you mean rule:trailwatch-guardduty-blinded/)
}, 60_000)
