import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { DATASETS, INVICTUS } from './helpers/datasets.js'

const SIGMA = path.join(DATASETS, 'sigma-cloudtrail')
const FIXTURES = path.resolve(import.meta.dirname, 'fixtures', 'rules')
const SPRAYING = '0b8f1a2c-0000-4000-8000-000000000004'

describe('trailwatch rules', () => {
  it('compiles the SigmaHQ CloudTrail rules and names the two whose logic cannot hold', async () => {
    const check = await runCli(['rules', 'check', SIGMA])
    expect(check.code).toBe(0)
    expect(check.stdout.trim().split('\n').at(-1)).toBe('57 rules: 57 compiled, 0 skipped, 2 with warnings')
    expect(check.stdout).toContain('aws_update_login_profile.yml: warning: filter_main_user_identity: userIdentity.arn|fieldref compares an ARN with requestParameters.userName')
    const list = await runCli(['rules', 'list', SIGMA])
    expect(list.stdout).toContain('rule:4db60cc0-36fb-42b7-9b58-a5b53019fb74  medium   sigma       AWS CloudTrail Important Change  (vitaliy0x1; ')
  })

  it('skips a rule it cannot run with its file, line and reason, and fails the check', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-'))
    const rule = (id: string, detection: string) => `title: t\nid: ${id}\nlogsource:\n  product: aws\n  service: cloudtrail\n${detection}\nlevel: high\n`
    writeFileSync(path.join(dir, 'good.yml'), rule('good-rule', 'detection:\n  selection:\n    eventName: StopLogging\n  condition: selection'))
    writeFileSync(path.join(dir, 'modifier.yml'), rule('base64-rule', 'detection:\n  selection:\n    eventName|base64: x\n  condition: selection'))
    writeFileSync(path.join(dir, 'windows.yml'), 'title: t\nid: w\nlogsource:\n  product: windows\ndetection:\n  selection:\n    EventID: 1\n  condition: selection\n')
    writeFileSync(path.join(dir, 'broken.yml'), 'title: [unclosed\n')
    const check = await runCli(['rules', 'check', dir])
    expect(check.code).toBe(1)
    expect(check.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/broken\.yml:\d+: skipped: not YAML: /) as string,
      `${path.join(dir, 'modifier.yml')}:6: skipped: eventName|base64: the modifier base64`,
      `${path.join(dir, 'windows.yml')}:3: skipped: not a rule for AWS CloudTrail (logsource product aws, service cloudtrail)`,
      '4 rules: 1 compiled, 3 skipped, 0 with warnings',
    ])
  })

  it('starts with the rest when a rule file is hostile, and says so in a finding and in status', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-'))
    writeFileSync(path.join(dir, 'bomb.yml'), `a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`)
    writeFileSync(path.join(dir, 'regex.yml'), 'title: t\nid: bad-regex\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName|re: "Get(Object"\n  condition: selection\nlevel: high\n')
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-data-'))
    const env = { TRAILWATCH_RULES_DIR: dir, TRAILWATCH_LOG_LEVEL: 'error' }
    const detect = await runCli(['detect', '--once', '--at', '2026-11-20T12:00:00Z', '--json', '--data-dir', dataDir], { env })
    expect(detect.code).toBe(0)
    const findings = detect.stdout.trim().split('\n').map((line) => JSON.parse(line) as { detector: string; title: string })
    expect(findings.filter((f) => f.detector === 'rule-files').map((f) => f.title).sort()).toEqual([
      expect.stringMatching(new RegExp(`^A rule does not run: ${path.join(dir, 'bomb.yml')}:1: not loaded: `)) as string,
      expect.stringMatching(new RegExp(`^A rule does not run: ${path.join(dir, 'regex.yml')}:1: bad-regex: the regular expression "Get\\(Object" does not compile`)) as string,
    ])
    const status = await runCli(['status', '--data-dir', dataDir], { env })
    expect(status.stdout).toContain(`RULES THAT DO NOT RUN (trailwatch rules check)\n  ${path.join(dir, 'bomb.yml')}:1: not loaded: `)
    const list = await runCli(['rules', 'list', dir])
    expect(list.stdout).toMatch(new RegExp(`^${path.join(dir, 'bomb.yml')}:1: not loaded: .*; skipped$`, 'm'))
    expect(list.stdout.trim().split('\n').at(-1)).toBe('1 rules, 1 skipped (trailwatch rules check says why)')
  })

  it('runs the rules of TRAILWATCH_RULES_DIR beside the detectors, crediting each rule’s author', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-data-'))
    expect((await runCli(['backfill', INVICTUS, '--data-dir', dataDir])).code).toBe(0)
    const detect = await runCli(['detect', '--once', '--at', '2023-07-10T12:40:00Z', '--detector', 'rule:4db60cc0-36fb-42b7-9b58-a5b53019fb74', '--json', '--data-dir', dataDir], { env: { TRAILWATCH_RULES_DIR: SIGMA } })
    expect(detect.code).toBe(0)
    const [finding] = detect.stdout.trim().split('\n').map((line) => JSON.parse(line) as { detector: string; severity: string; principal: string; why: string; attack: string[] })
    expect(finding).toMatchObject({ detector: 'rule:4db60cc0-36fb-42b7-9b58-a5b53019fb74', severity: 'medium', principal: 'arn:aws:iam::123837392027:user/bert-jan', attack: ['T1685.002'] })
    expect(finding?.why).toMatch(/^Matches the Sigma rule "AWS CloudTrail Important Change" by vitaliy0x1 \(Detection Rule License 1\.1\): /)
  })
})

describe('the built-in rules', () => {
  it('load by default beside TRAILWATCH_RULES_DIR, and each holds on its examples', async () => {
    const list = await runCli(['rules', 'list'], { env: { TRAILWATCH_RULES_DIR: FIXTURES } })
    const types = list.stdout.trim().split('\n').slice(0, -1).map((line) => line.split(/\s+/)[2])
    expect(new Set(types)).toEqual(new Set(['threshold', 'first-seen', 'sequence', 'sigma', 'correlation']))
    const test = await runCli(['rules', 'test'])
    expect(test.code).toBe(0)
    expect(test.stdout.trim().split('\n').at(-1)).toMatch(/^(\d+) rules tested: \1 passed, 0 failed; 0 without examples$/)
  })
})

describe('trailwatch rules test', () => {
  const signIn = (minute: number, user: string, from: string, result: string) => ({
    eventTime: `2026-11-20T11:${String(minute).padStart(2, '0')}:00Z`,
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    sourceIPAddress: from,
    userIdentity: { type: 'IAMUser', accountId: '111122223333', userName: user },
    responseElements: { ConsoleLogin: result },
  })

  it('runs each rule over the examples beside it, and fails when one does not hold', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-rules-test-'))
    copyFileSync(path.join(FIXTURES, 'sign-ins.yml'), path.join(dir, 'sign-ins.yml'))
    const spraying = { match: ['ann', 'ben', 'cat'].map((u, i) => signIn(i, u, '185.220.101.1', 'Failure')), miss: ['dan', 'dan', 'dan'].map((u, i) => signIn(i, u, '73.15.20.1', 'Failure')) }
    writeFileSync(path.join(dir, 'sign-ins.examples.json'), JSON.stringify({ [SPRAYING]: spraying }))
    const passing = await runCli(['rules', 'test', dir])
    expect([passing.code, passing.stdout.trim().split('\n')]).toEqual([0, [`ok   rule:${SPRAYING}  One address failing for many users (6 examples)`, '1 rules tested: 1 passed, 0 failed; 1 without examples']])

    // A miss that does match: three users from one address.
    writeFileSync(path.join(dir, 'sign-ins.examples.json'), JSON.stringify({ [SPRAYING]: { ...spraying, miss: spraying.match } }))
    const failing = await runCli(['rules', 'test', dir])
    expect(failing.code).toBe(1)
    expect(failing.stdout).toContain(`FAIL rule:${SPRAYING}  One address failing for many users (6 examples)\n     the 3 miss examples gave a finding\n`)

    // An example that is no CloudTrail record is named; an examples file that is not valid stops with its name.
    writeFileSync(path.join(dir, 'sign-ins.examples.json'), JSON.stringify({ [SPRAYING]: { match: [{ eventName: 'ConsoleLogin' }] } }))
    const noTime = await runCli(['rules', 'test', dir])
    expect([noTime.code, noTime.stdout]).toEqual([1, expect.stringContaining('     example 1 is not a CloudTrail record: eventTime: missing') as string])
    writeFileSync(path.join(dir, 'sign-ins.examples.json'), JSON.stringify({ [SPRAYING]: { match: 'all of them' } }))
    const invalid = await runCli(['rules', 'test', dir])
    expect([invalid.code, invalid.stderr]).toEqual([1, `trailwatch: ${path.join(dir, 'sign-ins.examples.json')}: expected {"<rule id or name>": {"match": [records], "miss": [records]}}; ${SPRAYING}.match: Invalid input: expected array, received string\n`])
  })
})

