import { readdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import type { Finding } from '../detectors/define.js'
import { backfill } from '../ingest/backfill.js'
import { INVICTUS, STRATUS } from './helpers/datasets.js'
import { openTestStore, testLogger, type TestStore } from './helpers/store.js'
import { captureOf, STRATUS_COVERAGE, WRITTEN_CAPTURES } from './stratus-coverage.js'
import { testSettings } from './helpers/detect.js'

const options = { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger }
// What `trailwatch run` runs with nothing configured: the detectors and the built-in rules.
const RUNNING = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
const detector = (id: string) => {
  const found = RUNNING.find((d) => d.id === id)
  if (!found) throw new Error(id)
  return found
}

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [STRATUS, WRITTEN_CAPTURES, INVICTUS], options)
})
afterAll(async () => {
  await store.close()
})

describe('Stratus Red Team techniques', () => {
  it('has each detonation log named in the coverage', () => {
    const files = readdirSync(STRATUS).filter((f) => f.startsWith('aws.') && f.endsWith('.json'))
    expect(files.filter((f) => !STRATUS_COVERAGE.some((c) => `${c.technique}.json` === f))).toEqual([])
  })

  for (const { technique, detector: detectorId, event } of STRATUS_COVERAGE) {
    it(`${technique} is found by ${detectorId}`, async () => {
      const capture = captureOf(technique)
      if (!capture) throw new Error(`no capture of ${technique}`)
      const records = JSON.parse(readFileSync(capture.file, 'utf8')) as { eventTime: string; recipientAccountId: string }[]
      const times = records.map((r) => Date.parse(r.eventTime))
      const accounts = new Set(records.map((r) => r.recipientAccountId))
      const window = { from: new Date(Math.min(...times)), now: new Date(Math.max(...times) + 1000) }
      const findings = (await runDetector(store, detector(detectorId), window, testSettings())).filter((f) => accounts.has(f.account))
      // A detector names the event it judged; a rule, the events it matched.
      expect(findings.flatMap((f): unknown[] => (Array.isArray(f.evidence.event_names) ? f.evidence.event_names : [f.evidence.event ?? 'ConsoleLogin']))).toContain(event)
      expect(findings.every((f) => f.severity !== 'info' && f.severity !== 'low')).toBe(true)
    })
  }
})

describe('invictus-ir aws_dataset: every finding of the detectors and built-in rules, and why each is right', () => {
  let findings: Finding[]
  beforeAll(async () => {
    // The whole capture: 2023-07-10, 11:42 to 12:38 UTC.
    const window = { from: new Date('2023-07-10T11:00:00Z'), now: new Date('2023-07-10T13:00:00Z') }
    findings = []
    for (const d of RUNNING) findings.push(...(await runDetector(store, d, window, testSettings())))
    findings = findings.filter((f) => f.account === '123837392027')
  })

  const line = (f: Finding) => `${f.detector} ${f.severity} ${f.principal.split(':').pop() ?? ''} ${typeof f.evidence.event === 'string' ? f.evidence.event : ''}`.trim()

  it('lists exactly these findings', () => {
    expect(findings.map(line).sort()).toEqual(
      [
        // The Stratus user created to sign in without MFA; bert-jan's own sign-in used MFA and is not here.
        'console-login-without-mfa medium user/stratus-red-team-nmfalu-gfjyeaypjt',
        // DeleteTrail and StopLogging against trails Stratus had already removed: failed, still attempts.
        'cloudtrail-tampering high user/bert-jan DeleteTrail',
        'cloudtrail-tampering high user/bert-jan StopLogging',
        // Succeeded: trails deleted, a selector dropping management events, a flow log removed.
        'cloudtrail-tampering critical user/bert-jan DeleteTrail',
        'cloudtrail-tampering high user/bert-jan PutEventSelectors',
        'cloudtrail-tampering high user/bert-jan DeleteFlowLogs',
        // The role Stratus made to leave the organisation was denied; the attempt counts.
        'cloudtrail-tampering medium role/stratus-red-team-leave-org-role LeaveOrganization',
        // AdministratorAccess attached to a role, and to a user created in the same hour (critical).
        'iam-privilege-escalation high user/bert-jan AttachRolePolicy',
        'iam-privilege-escalation critical user/bert-jan AttachUserPolicy',
        // The backdoor role's trust policy now names account 193672423079.
        'iam-privilege-escalation high user/bert-jan UpdateAssumeRolePolicy',
        // Keys and console passwords made for other users, each created in the same hour.
        'iam-privilege-escalation high user/bert-jan CreateAccessKey',
        'iam-privilege-escalation high user/bert-jan CreateAccessKey',
        'iam-privilege-escalation high user/bert-jan CreateLoginProfile',
        'iam-privilege-escalation high user/bert-jan CreateLoginProfile',
        // The ~30 denied GetPasswordData calls, and 15 denied DescribeInstanceAttribute (user-data theft).
        'access-denied-burst medium role/stratus-red-team-ec2-get-password-data-role',
        'access-denied-burst medium role/stratus-red-team-get-usr-data-role',
        // Stratus itself retrying AssumeRole on roles it had just created: 13 denials in minutes from a CLI.
        'access-denied-burst medium user/bert-jan',
        // Twenty secrets created and read back at once, and listed before one was read.
        'rule:trailwatch-secrets-many-read medium user/bert-jan',
        'rule:trailwatch-secrets-listed-then-read medium user/bert-jan',
        // An AMI, an EBS snapshot and an RDS snapshot shared with outside accounts, each the first in 90 days.
        'rule:trailwatch-ami-shared high user/bert-jan',
        'rule:trailwatch-ebs-snapshot-shared high user/bert-jan',
        'rule:trailwatch-rds-snapshot-shared high user/bert-jan',
        // Port 22 opened to every address.
        'rule:trailwatch-security-group-open-admin-port high user/bert-jan',
        // The same sweeps seen by what they were after: 29 instances' Windows passwords, 15 instances'
        // user data. bert-jan's own Terraform read two instances' user data and is not counted.
        'rule:trailwatch-ec2-password-data-many high role/stratus-red-team-ec2-get-password-data-role',
        'rule:trailwatch-ec2-user-data-read-many medium role/stratus-red-team-get-usr-data-role',
        // Ten p2.xlarge GPU instances asked for (refused for quota), a type the account had never run.
        'rule:trailwatch-ec2-unusual-instance-type high role/stratus-red-team-ec2lui-role-pcccexdthk',
        // SendCommand to i-0dbc91f429e48eeed at 11:57:16, its first in the account; six seconds later that
        // instance's role credentials called GetCallerIdentity from bert-jan's address.
        'rule:trailwatch-ssm-command-new-principal medium user/bert-jan',
        'rule:trailwatch-instance-credentials-used-by-operator high user/bert-jan',
        // DescribeParameters naming none, then 40 SecureStrings read decrypted; the 80 DescribeParameters of
        // bert-jan's Terraform each named its parameter and are not the listing.
        'rule:trailwatch-ssm-parameters-listed-then-decrypted medium user/bert-jan',
        // A function opened to principal "*", another's code replaced (the first code change in the
        // account), and a Roles Anywhere trust anchor for an outside certificate authority.
        'rule:trailwatch-lambda-public high user/bert-jan',
        'rule:trailwatch-lambda-code-new-principal medium user/bert-jan',
        'rule:trailwatch-rolesanywhere-trust-anchor high user/bert-jan',
        // The trail's bucket told to expire every object after a day ("nuke-cloudtrail-logs-after-1-day").
        'rule:trailwatch-s3-lifecycle-short-expiry high user/bert-jan',
        // A bucket's policy letting account 193672423079 read it (Stratus' s3-backdoor-bucket-policy); the
        // Terraform policies before it let only CloudTrail in, and Terraform's DeregisterImage was its own clean-up.
        'rule:trailwatch-bucket-policy-other-account high user/bert-jan',
      ].sort(),
    )
  })

  it('explains the password-data burst in its evidence', () => {
    const burst = findings.find((f) => f.principal.endsWith('get-password-data-role'))
    expect(burst?.evidence).toMatchObject({ denied: 29, events: ['GetPasswordData'] })
  })
})
