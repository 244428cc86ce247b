import { addDays, localTime, zonedInstant } from '../time.js'
import type { Incident, Organisation, Trap } from './organisation.js'
import { seededRandom, type SyntheticRecord } from './records.js'

/**
 * A second organisation, unlike the first in what makes noise: offices in London, Chicago, Pune
 * (UTC+5:30) and Adelaide (UTC+9:30, with summer time), all three clock changes of the autumn inside
 * its six weeks; people who start on the half hour; a corporate VPN whose exit moves; CI on GitHub's
 * OIDC roles from ever-changing runner addresses, every deploy drawing a dozen denials; a weekly
 * security scan on Mondays; an on-call rota whose nights recur; a helpdesk creating new hires and
 * resetting passwords. Its last day holds five incidents and these ordinary things.
 */

const ACCOUNT = '210987654321'
const HOUR = 3_600_000
const MINUTE = 60_000

interface Person {
  name: string
  zone: string
  /** Local working hours [start, end), fractional for a half-hour start. */
  hours: [number, number]
  addresses: string[]
}

const PEOPLE: Person[] = [
  { name: 'ellie', zone: 'Europe/London', hours: [9, 17.5], addresses: ['86.128.44.10', '18.130.20.5'] },
  { name: 'tom', zone: 'Europe/London', hours: [8, 16], addresses: ['82.0.12.7'] },
  { name: 'dana', zone: 'America/Chicago', hours: [8, 17], addresses: ['98.226.1.20'] },
  { name: 'marcus', zone: 'America/Chicago', hours: [9, 18], addresses: ['98.226.77.3'] },
  { name: 'rohit', zone: 'Asia/Kolkata', hours: [10, 19], addresses: ['122.161.4.8'] },
  { name: 'sneha', zone: 'Asia/Kolkata', hours: [9.5, 18.5], addresses: ['106.51.9.2'] },
  { name: 'liam', zone: 'Australia/Adelaide', hours: [8.5, 17], addresses: ['1.120.5.9', '49.176.3.3'] },
  { name: 'sarah', zone: 'Europe/London', hours: [8, 16], addresses: ['82.0.40.2'] },
]

const WORK = [
  ['s3.amazonaws.com', 'ListBuckets'],
  ['ec2.amazonaws.com', 'DescribeInstances'],
  ['logs.amazonaws.com', 'FilterLogEvents'],
  ['ecs.amazonaws.com', 'DescribeServices'],
  ['cloudwatch.amazonaws.com', 'GetMetricData'],
] as const

const RUNNERS = ['20.42.', '52.234.', '4.148.']

const arnOf = (name: string): string => `arn:aws:iam::${ACCOUNT}:user/${name}`
const isWeekend = (date: string): boolean => [0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay())

/** `days` days of the organisation ending at `end` (exclusive), deterministic for a seed. */
export function simulateHarbour(options: { days: number; end: number; seed?: number }): Organisation {
  const { days, end } = options
  const seed = options.seed ?? 1
  const random = seededRandom(seed)
  let sequence = 0
  const id = (): string => {
    const hex = (++sequence).toString(16).padStart(12, '0')
    return `7a7b7c7d-${hex.slice(0, 4)}-4${hex.slice(4, 7)}-b${hex.slice(7, 10)}-${Math.floor(random() * 2 ** 48).toString(16).padStart(12, '0')}`
  }
  const records: SyntheticRecord[] = []
  const call = (at: number, userIdentity: object, sourceIPAddress: string, eventSource: string, eventName: string, extra: object = {}): void => {
    if (at >= end) return
    records.push({
      eventVersion: '1.10',
      userIdentity,
      eventTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource,
      eventName,
      awsRegion: 'eu-west-2',
      sourceIPAddress,
      userAgent: 'aws-cli/2.17.40 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.11.9',
      requestParameters: null,
      responseElements: null,
      requestID: id(),
      eventID: id(),
      readOnly: /^(Get|List|Describe)/.test(eventName),
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
      ...extra,
    })
  }
  const user = (name: string) => ({ type: 'IAMUser', principalId: `AIDA${name.toUpperCase()}`, arn: arnOf(name), accountId: ACCOUNT, accessKeyId: `AKIA${name.toUpperCase().padEnd(16, '0')}`, userName: name })
  const role = (name: string, session: string, extra: object = {}) => ({
    type: 'AssumedRole',
    principalId: `AROA${name.toUpperCase().replace(/-/g, '')}:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: `ASIA${name.toUpperCase().replace(/-/g, '').padEnd(16, 'X').slice(0, 16)}`,
    sessionContext: { sessionIssuer: { type: 'Role', principalId: `AROA${name.toUpperCase()}`, arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, accountId: ACCOUNT, userName: name }, attributes: { mfaAuthenticated: 'false' } },
    ...extra,
  })
  const first = localTime(end - days * 24 * HOUR, 'UTC').date
  const trail: Trail = { dates: Array.from({ length: days + 1 }, (_, i) => addDays(first, i)), seed, random, end, days, call, user, role }
  for (const part of [peopleAtWork, onCallRota, githubDeploys, weeklyScan, instanceRole]) part(trail)
  const traps = ordinaryLastDay(end, call, user)
  const incidents = plantIncidents(end, call, user)
  records.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)))
  return { records, incidents, traps, credentialReport: '' }
}

type Call = (at: number, userIdentity: object, sourceIPAddress: string, eventSource: string, eventName: string, extra?: object) => void
type User = (name: string) => object

/** What each part of the organisation's weeks writes with. */
interface Trail {
  /** Every UTC date of the simulation, the last one included. */
  dates: string[]
  seed: number
  random: () => number
  end: number
  days: number
  call: Call
  user: User
  role: (name: string, session: string, extra?: object) => object
}

/**
 * People at work on their own weekdays, starting up to an hour either side of their usual time and
 * finishing up to an hour and a half late, a few calls an hour, signing in to the console with MFA
 * once a day and now and then reading a secret.
 */
function peopleAtWork({ dates, seed, call, user }: Trail): void {
  for (const [p, person] of PEOPLE.entries()) {
    for (const [d, date] of dates.entries()) {
      if (isWeekend(date)) continue
      const draw = seededRandom(seed * 7919 + p * 131 + d)
      const dayStart = zonedInstant(date, Math.floor(person.hours[0]), (person.hours[0] % 1) * 60, person.zone)
      const dayEnd = zonedInstant(date, Math.floor(person.hours[1]), (person.hours[1] % 1) * 60, person.zone)
      const start = dayStart + Math.round((draw() * 2 - 1) * 60) * MINUTE
      const stop = dayEnd + Math.round((draw() * 2.5 - 1) * 60) * MINUTE
      if (draw() < 0.4) call(start + Math.floor(draw() * (stop - start)), user(person.name), person.addresses[0] as string, 'secretsmanager.amazonaws.com', 'GetSecretValue', { requestParameters: { secretId: `${person.name}/dev` } })
      const address = (): string => person.addresses[Math.floor(draw() * person.addresses.length)] as string
      call(start + Math.floor(draw() * 10 * MINUTE), user(person.name), address(), 'signin.amazonaws.com', 'ConsoleLogin', {
        eventType: 'AwsConsoleSignIn',
        readOnly: false,
        userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)',
        responseElements: { ConsoleLogin: 'Success' },
        additionalEventData: { MFAUsed: 'Yes' },
      })
      for (let at = start + 15 * MINUTE; at < stop; at += 20 * MINUTE + Math.floor(draw() * 20 * MINUTE)) {
        const [source, name] = WORK[Math.floor(draw() * WORK.length)] as (typeof WORK)[number]
        call(at, user(person.name), address(), source, name)
      }
    }
  }
}

/** The on-call rota: marcus, in Chicago, is paged at night on two nights of every third week. */
function onCallRota({ dates, call, user }: Trail): void {
  const marcus = PEOPLE[3] as Person
  for (const [d, date] of dates.entries()) {
    const week = Math.floor(d / 7)
    if (week % 3 !== 2 || ![1, 3].includes(d % 7)) continue
    const paged = zonedInstant(date, 2, 10, marcus.zone)
    call(paged, user(marcus.name), marcus.addresses[0] as string, 'secretsmanager.amazonaws.com', 'GetSecretValue', { requestParameters: { secretId: 'prod/db-admin' } })
    for (let m = 1; m < 40; m += 8) call(paged + m * MINUTE, user(marcus.name), marcus.addresses[0] as string, 'ecs.amazonaws.com', 'UpdateService', { readOnly: false })
  }
}

/** CI on GitHub OIDC: six deploys a working day, from a new runner address each, each refused a dozen times on what it only probes. */
function githubDeploys({ dates, random, call, role }: Trail): void {
  const deployer = (run: number) => role('github-deploy', `GitHubActions-${String(run)}`, { sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/github-deploy`, accountId: ACCOUNT, userName: 'github-deploy' }, webIdFederationData: { federatedProvider: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` }, attributes: { mfaAuthenticated: 'false' } } })
  let run = 0
  for (const date of dates) {
    if (isWeekend(date)) continue
    for (const hour of [9, 11, 13, 15, 17, 19]) {
      run++
      const at = Date.parse(`${date}T${String(hour).padStart(2, '0')}:00:00Z`) + Math.floor(random() * 30 * MINUTE)
      const runner = `${RUNNERS[run % RUNNERS.length] ?? ''}${String(1 + Math.floor(random() * 250))}.${String(1 + Math.floor(random() * 250))}`
      const agent = { userAgent: 'aws-sdk-js/3.658.1 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.17.0 api/cloudformation#3.658.1 exec-env/GitHubActions' }
      call(at, { type: 'WebIdentityUser', principalId: `token.actions.githubusercontent.com:repo:harbour/platform:ref:refs/heads/main`, userName: 'repo:harbour/platform:ref:refs/heads/main', identityProvider: 'token.actions.githubusercontent.com' }, runner, 'sts.amazonaws.com', 'AssumeRoleWithWebIdentity', {
        ...agent,
        readOnly: true,
        requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/github-deploy`, roleSessionName: `GitHubActions-${String(run)}` },
      })
      for (let i = 0; i < 8; i++) call(at + (i + 1) * 20_000, deployer(run), runner, 'cloudformation.amazonaws.com', i % 2 ? 'DescribeStacks' : 'UpdateStack', { ...agent, readOnly: i % 2 === 1 })
      for (let i = 0; i < 12; i++) call(at + 10_000 + i * 15_000, deployer(run), runner, i % 3 ? 'iam.amazonaws.com' : 'ssm.amazonaws.com', i % 3 ? 'GetRole' : 'GetParameters', { ...agent, errorCode: 'AccessDenied', errorMessage: 'not authorized' })
    }
  }
}

/** The weekly scan: Mondays at 10:00 UTC, a security vendor's role reads the configuration, and is refused where it may not look. */
function weeklyScan({ dates, call, role }: Trail): void {
  for (const date of dates) {
    if (new Date(`${date}T00:00:00Z`).getUTCDay() !== 1) continue
    const at = Date.parse(`${date}T10:00:00Z`)
    const scanner = role('security-audit', 'vendor-scan', { sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/security-audit`, accountId: ACCOUNT, userName: 'security-audit' }, attributes: { mfaAuthenticated: 'false' } } })
    const reads = [['iam.amazonaws.com', 'ListRoles'], ['iam.amazonaws.com', 'GetAccountAuthorizationDetails'], ['s3.amazonaws.com', 'GetBucketPolicy'], ['ec2.amazonaws.com', 'DescribeSecurityGroups'], ['kms.amazonaws.com', 'ListKeys'], ['cloudtrail.amazonaws.com', 'DescribeTrails']] as const
    for (let i = 0; i < 240; i++) {
      const [source, name] = reads[i % reads.length] as (typeof reads)[number]
      call(at + i * 5_000, scanner, '3.8.1.1', source, name, { userAgent: 'Boto3/1.35.20 md/Botocore#1.35.20 ua/2.0 os/linux#5.10 lang/python#3.12.6', ...(i % 12 === 5 ? { errorCode: 'AccessDenied', errorMessage: 'not authorized' } : {}) })
    }
  }
}

/** The application's instance role, day and night, from AWS. */
function instanceRole({ random, end, days, call, role }: Trail): void {
  for (let h = 1; h <= days * 24; h++) {
    for (let c = 0; c < 4; c++) call(end - h * HOUR + Math.floor(random() * HOUR), role('app-runtime', 'i-0c1d2e3f4a5b60718', { sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/app-runtime`, accountId: ACCOUNT, userName: 'app-runtime' }, attributes: { mfaAuthenticated: 'false' }, ec2RoleDelivery: '2.0' } }), '13.40.8.8', 's3.amazonaws.com', 'GetObject', { userAgent: 'aws-sdk-java/2.28.11 Linux/6.1.109' })
  }
}

/** The last day's ordinary things that weaker detection emails. */
function ordinaryLastDay(end: number, call: Call, user: User): Trap[] {
  const traps: Trap[] = []
  const at = (hour: number, minute: number, zone: string): number => {
    const local = localTime(end - 30 * MINUTE, zone).date
    const when = zonedInstant(local, hour, minute, zone)
    return when < end ? when : zonedInstant(addDays(local, -1), hour, minute, zone)
  }
  const trap = (kind: string, principal: string, when: number): void => {
    traps.push({ kind, principal, at: new Date(when).toISOString() })
  }
  // ellie's VPN exit moved to another address of the same provider in the same country.
  const vpn = at(11, 0, 'Europe/London')
  call(vpn, user('ellie'), '13.40.77.21', 'ec2.amazonaws.com', 'DescribeInstances')
  call(vpn + 20 * MINUTE, user('ellie'), '13.40.77.21', 's3.amazonaws.com', 'ListBuckets')
  trap('VPN exit moved within its provider', arnOf('ellie'), vpn)
  // The helpdesk creates a new hire with a password to change at first sign-in, and puts them in their team's group.
  const hire = at(10, 5, 'Europe/London')
  call(hire, user('sarah'), '82.0.40.2', 'iam.amazonaws.com', 'CreateUser', { readOnly: false, requestParameters: { userName: 'new-hire-priti' } })
  call(hire + MINUTE, user('sarah'), '82.0.40.2', 'iam.amazonaws.com', 'CreateLoginProfile', { readOnly: false, requestParameters: { userName: 'new-hire-priti', passwordResetRequired: true } })
  call(hire + 2 * MINUTE, user('sarah'), '82.0.40.2', 'iam.amazonaws.com', 'AddUserToGroup', { readOnly: false, requestParameters: { userName: 'new-hire-priti', groupName: 'developers' } })
  trap('helpdesk onboarding a new hire', arnOf('sarah'), hire)
  // ... and resets sneha's password, to be changed at her next sign-in.
  const reset = at(12, 30, 'Europe/London')
  call(reset, user('sarah'), '82.0.40.2', 'iam.amazonaws.com', 'UpdateLoginProfile', { readOnly: false, requestParameters: { userName: 'sneha', passwordResetRequired: true } })
  trap('helpdesk password reset', arnOf('sarah'), reset)
  // marcus is paged at night in his on-call week, as on the rota's nights before, and reads the database password.
  const paged = at(2, 10, 'America/Chicago')
  call(paged, user('marcus'), '98.226.77.3', 'secretsmanager.amazonaws.com', 'GetSecretValue', { requestParameters: { secretId: 'prod/db-admin' } })
  call(paged + 5 * MINUTE, user('marcus'), '98.226.77.3', 'ecs.amazonaws.com', 'UpdateService', { readOnly: false })
  trap('on-call night', arnOf('marcus'), paged)
  // liam, in Adelaide, finishes a release at 18:20 his time, past his usual day.
  const late = at(18, 20, 'Australia/Adelaide')
  call(late, user('liam'), '1.120.5.9', 'ecs.amazonaws.com', 'UpdateService', { readOnly: false })
  trap('working late by an hour', arnOf('liam'), late)
  return traps
}

/** Five incidents on the last day, each with the detectors that must email it. */
function plantIncidents(end: number, call: Call, user: User): Incident[] {
  const incidents: Incident[] = []
  const plant = (kind: string, principal: string, at: number, detectors: string[]): void => {
    incidents.push({ kind, principal, at: new Date(at).toISOString(), detectors })
  }
  // liam's key, from a hosting provider abroad at 03:00 Adelaide, reading secrets.
  const night = zonedInstant(localTime(end - 12 * HOUR, 'Australia/Adelaide').date, 3, 0, 'Australia/Adelaide')
  call(night, user('liam'), '185.156.46.1', 'secretsmanager.amazonaws.com', 'ListSecrets')
  call(night + MINUTE, user('liam'), '185.156.46.1', 'secretsmanager.amazonaws.com', 'GetSecretValue', { requestParameters: { secretId: 'prod/payments' } })
  plant('stolen key used abroad at night', arnOf('liam'), night, ['unusual-source-ip', 'off-hours-activity'])
  // Root signs in without MFA from an address it never used.
  const root = end - 6 * HOUR
  call(root, { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: '' }, '45.95.147.10', 'signin.amazonaws.com', 'ConsoleLogin', {
    eventType: 'AwsConsoleSignIn',
    readOnly: false,
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
    responseElements: { ConsoleLogin: 'Success' },
    additionalEventData: { MFAUsed: 'No' },
  })
  plant('root sign-in without MFA', `arn:aws:iam::${ACCOUNT}:root`, root, ['root-account-usage'])
  // rohit makes himself administrator.
  const escalate = end - 9 * HOUR
  call(escalate, user('rohit'), '122.161.4.8', 'iam.amazonaws.com', 'AttachUserPolicy', { readOnly: false, requestParameters: { userName: 'rohit', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' } })
  plant('a user attaches AdministratorAccess to himself', arnOf('rohit'), escalate, ['iam-privilege-escalation'])
  // Someone guesses tom's console password from one address.
  const guesses = end - 4 * HOUR
  for (let i = 0; i < 8; i++) {
    call(guesses + i * 20_000, { type: 'IAMUser', principalId: 'AIDATOM', accountId: ACCOUNT, accessKeyId: '', userName: 'tom' }, '91.92.109.4', 'signin.amazonaws.com', 'ConsoleLogin', {
      eventType: 'AwsConsoleSignIn',
      readOnly: false,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      responseElements: { ConsoleLogin: 'Failure' },
      additionalEventData: { MFAUsed: 'No' },
      errorMessage: 'Failed authentication',
    })
  }
  plant('console password guessed', arnOf('tom'), guesses, ['console-brute-force'])
  // dana's key stops the trail.
  const stop = end - 7 * HOUR
  call(stop, user('dana'), '98.226.1.20', 'cloudtrail.amazonaws.com', 'StopLogging', { readOnly: false, requestParameters: { name: `arn:aws:cloudtrail:eu-west-2:${ACCOUNT}:trail/org-trail` } })
  plant('the trail stopped', arnOf('dana'), stop, ['cloudtrail-tampering'])
  return incidents
}
