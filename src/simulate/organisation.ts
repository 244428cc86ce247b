import { addDays, localTime, zonedInstant } from '../time.js'
import { seededRandom, type SyntheticRecord } from './records.js'

/**
 * Weeks of an organisation's CloudTrail, with incidents injected: people in three offices and time
 * zones working their own hours from their own ISPs (one of them an evening person), a CI key used
 * every 20 minutes day and night, instance roles calling from AWS, AWS services acting for the
 * account, and a partner account assuming a role. Deterministic for a seed.
 */

const ORG_ACCOUNT = '111122223333'
const PARTNER_ACCOUNT = '444455556666'

interface Person {
  name: string
  timezone: string
  /** Local working hours [start, end). */
  hours: [number, number]
  /** Home and office addresses: same ISP, different addresses. */
  addresses: string[]
  key: string
}

const PEOPLE: Person[] = [
  { name: 'anna', timezone: 'Europe/Berlin', hours: [8, 17], addresses: ['79.192.14.20', '79.192.200.7'], key: 'AKIAANNAEXAMPLE00001' },
  { name: 'jonas', timezone: 'Europe/Berlin', hours: [9, 18], addresses: ['91.64.33.12', '91.64.90.3'], key: 'AKIAJONASEXAMPLE0001' },
  { name: 'lea', timezone: 'Europe/Berlin', hours: [19, 23], addresses: ['87.123.5.66'], key: 'AKIALEAEXAMPLE000001' },
  { name: 'maria', timezone: 'America/New_York', hours: [9, 17], addresses: ['73.15.20.1', '73.210.4.9'], key: 'AKIAMARIAEXAMPLE0001' },
  { name: 'sam', timezone: 'America/New_York', hours: [10, 19], addresses: ['108.28.1.1'], key: 'AKIASAMEXAMPLE000001' },
  { name: 'priya', timezone: 'Asia/Kolkata', hours: [9, 18], addresses: ['49.36.1.1', '49.36.200.3'], key: 'AKIAPRIYAEXAMPLE0001' },
  { name: 'arjun', timezone: 'Asia/Kolkata', hours: [10, 19], addresses: ['117.96.1.1'], key: 'AKIAARJUNEXAMPLE0001' },
]

const CI_KEY = 'AKIACIDEPLOYEXAMPLE1'
const INSTANCES = ['i-0a1b2c3d4e5f60708', 'i-0f9e8d7c6b5a40302']
const HOUR = 3_600_000
const DAY = 24 * HOUR

export interface Incident {
  kind: string
  principal: string
  at: string
  /** The detectors that should each report it at medium or above. */
  detectors: string[]
}

/** Something that looks like an incident and is not: no detector may email it. */
export interface Trap {
  kind: string
  principal: string
  at: string
}

export interface Organisation {
  records: SyntheticRecord[]
  incidents: Incident[]
  traps: Trap[]
  /** The CSV of the IAM credential report AWS would give at `end`. */
  credentialReport: string
}

export interface OrganisationOptions {
  days: number
  /** The moment the simulation ends (exclusive). */
  end: number
  seed?: number
  /** Calls per instance per hour: scales the volume (about 24 × 2 × this per day). */
  instanceCallsPerHour?: number
  /** Working days each person has: their last ones that were over by `end`. Default: five in every seven of `days`. */
  workdays?: number
  incidents?: boolean
  /** Add the ordinary events that fool weaker detection (see `traps` in the result). */
  traps?: boolean
}

/** A person's last `count` working days (Monday to Friday, local dates) whose working hours were over by `end`. */
function pastWorkdays(person: Person, end: number, count: number): string[] {
  const dates: string[] = []
  for (let date = localTime(end, person.timezone).date; dates.length < count; date = addDays(date, -1)) {
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay()
    if (weekday === 0 || weekday === 6) continue
    if (zonedInstant(date, person.hours[1], 0, person.timezone) <= end) dates.push(date)
  }
  return dates
}

/** The last time a zone's clock showed hour:minute, at least `margin` before `end`. */
function lastLocal(end: number, margin: number, hour: number, minute: number, zone: string): number {
  for (let date = localTime(end, zone).date; ; date = addDays(date, -1)) {
    const at = zonedInstant(date, hour, minute, zone)
    if (at <= end - margin) return at
  }
}

/** What people do at work: harmless reads across services. */
const WORK = [
  ['s3.amazonaws.com', 'ListBuckets'],
  ['ec2.amazonaws.com', 'DescribeInstances'],
  ['logs.amazonaws.com', 'FilterLogEvents'],
  ['cloudformation.amazonaws.com', 'DescribeStacks'],
  ['lambda.amazonaws.com', 'ListFunctions'],
] as const

/** People: a few calls in every hour of their own working days, from their own addresses. */
function peopleAtWork(options: OrganisationOptions, seed: number, call: Call, user: (person: Person) => object): SyntheticRecord[] {
  const made: SyntheticRecord[] = []
  const { end, days } = options
  const workdays = options.workdays ?? Math.round((days * 5) / 7)
  for (const [p, person] of PEOPLE.entries()) {
    for (const [d, date] of pastWorkdays(person, end, workdays).entries()) {
      // Each day draws from its own sequence: its calls do not depend on which weekday `end` is.
      const draw = seededRandom(seed * 1_000_003 + p * 10_007 + d)
      for (let hour = person.hours[0]; hour < person.hours[1]; hour++) {
        const hourStart = zonedInstant(date, hour, 0, person.timezone)
        const calls = 1 + Math.floor(draw() * 4)
        for (let c = 0; c < calls; c++) {
          const [source, name] = WORK[Math.floor(draw() * WORK.length)] as (typeof WORK)[number]
          const address = person.addresses[Math.floor(draw() * person.addresses.length)] as string
          made.push(call(hourStart + Math.floor(draw() * HOUR), user(person), address, source, name))
        }
      }
    }
  }
  return made
}

/** Machines, day and night, counted back from the end. */
function machinesAllDay(options: OrganisationOptions, random: () => number, call: Call, instanceRole: (instance: string) => object): SyntheticRecord[] {
  const made: SyntheticRecord[] = []
  const { end, days } = options
  const perHour = options.instanceCallsPerHour ?? 6
  for (let h = 1; h <= days * 24; h++) {
    const hourStart = end - h * HOUR
    for (let minute = 0; minute < 60; minute += 20) {
      made.push(
        call(hourStart + minute * 60_000 + Math.floor(random() * 60_000), { type: 'IAMUser', principalId: 'AIDACIDEPLOY', arn: `arn:aws:iam::${ORG_ACCOUNT}:user/automation/ci-deploy`, accountId: ORG_ACCOUNT, accessKeyId: CI_KEY, userName: 'ci-deploy' }, '3.90.1.1', 'cloudformation.amazonaws.com', 'DescribeStacks', {
          userAgent: 'aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 exec-env/GitHubActions api/cloudformation#1.48.0',
        }),
      )
    }
    for (const [i, instance] of INSTANCES.entries()) {
      for (let c = 0; c < perHour; c++) {
        made.push(call(hourStart + Math.floor(random() * HOUR), instanceRole(instance), i === 0 ? '54.80.1.1' : '18.156.1.1', 's3.amazonaws.com', 'GetObject', { userAgent: 'aws-sdk-java/2.25.16 Linux/6.1.79 OpenJDK_64-Bit_Server_VM/21.0.2' }))
      }
    }
    if (h % 3 === 0) {
      const at = hourStart + Math.floor(random() * HOUR)
      made.push(call(at, { type: 'AWSService', invokedBy: 'backup.amazonaws.com' }, 'backup.amazonaws.com', 'backup.amazonaws.com', 'StartBackupJob', { userAgent: 'backup.amazonaws.com' }))
      made.push(
        call(at + 1000, { type: 'AWSAccount', principalId: 'AROAPARTNER:sync', accountId: PARTNER_ACCOUNT }, '35.180.1.1', 'sts.amazonaws.com', 'AssumeRole', {
          requestParameters: { roleArn: `arn:aws:iam::${ORG_ACCOUNT}:role/partner-sync`, roleSessionName: 'sync' },
        }),
      )
    }
  }

  return made
}

/**
 * Counted back from `end`, so that the same options give the same events, in number and in local
 * time, whatever day and hour `end` is: each person works whole days of their own calendar, and
 * what runs day and night runs the same number of times.
 */
export function simulateOrganisation(options: OrganisationOptions): Organisation {
  const seed = options.seed ?? 1
  const random = seededRandom(seed)
  const { end } = options
  let records: SyntheticRecord[] = []
  let sequence = 0
  const id = () => {
    sequence++
    const hex = sequence.toString(16).padStart(12, '0')
    return `0f0e0d0c-${hex.slice(0, 4)}-4${hex.slice(4, 7)}-a${hex.slice(7, 10)}-${Math.floor(random() * 2 ** 48).toString(16).padStart(12, '0')}`
  }
  const call = (at: number, userIdentity: object, sourceIPAddress: string, eventSource: string, eventName: string, extra: object = {}): SyntheticRecord => ({
    eventVersion: '1.09',
    userIdentity,
    eventTime: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource,
    eventName,
    awsRegion: 'eu-central-1',
    sourceIPAddress,
    userAgent: 'aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8',
    requestParameters: null,
    responseElements: null,
    requestID: id(),
    eventID: id(),
    readOnly: eventName.startsWith('Get') || eventName.startsWith('List') || eventName.startsWith('Describe'),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ORG_ACCOUNT,
    eventCategory: 'Management',
    ...extra,
  })
  const user = (person: Person) => ({ type: 'IAMUser', principalId: `AIDA${person.name.toUpperCase()}`, arn: personArn(person), accountId: ORG_ACCOUNT, accessKeyId: person.key, userName: person.name })
  const instanceRole = (instance: string) => ({
    type: 'AssumedRole',
    principalId: `AROAAPPRUNTIME:${instance}`,
    arn: `arn:aws:sts::${ORG_ACCOUNT}:assumed-role/app-runtime/${instance}`,
    accountId: ORG_ACCOUNT,
    accessKeyId: 'ASIAAPPRUNTIMEEXAMPL',
    sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ORG_ACCOUNT}:role/app-runtime`, accountId: ORG_ACCOUNT, userName: 'app-runtime' }, attributes: { mfaAuthenticated: 'false' }, ec2RoleDelivery: '2.0' },
  })

  // Concatenated, not spread into push: a day of a large organisation is more arguments than a call takes.
  records = records.concat(peopleAtWork(options, seed, call, user), machinesAllDay(options, random, call, instanceRole))

  const incidents: Incident[] = []
  if (options.incidents ?? true) {
    // anna's key, from abroad at 03:10 Berlin on the last night, reading a secret.
    const anna = PEOPLE[0] as Person
    const night = lastLocal(end, 5 * 60_000, 3, 10, anna.timezone)
    records.push(call(night, user(anna), '5.255.255.77', 'iam.amazonaws.com', 'ListUsers'))
    records.push(call(night + 60_000, user(anna), '5.255.255.77', 'secretsmanager.amazonaws.com', 'GetSecretValue'))
    incidents.push({ kind: 'stolen access key used abroad at night', principal: personArn(anna), at: new Date(night).toISOString(), detectors: ['unusual-source-ip', 'off-hours-activity'] })
    // The instance role's credentials, taken off the instance and used from a hosting provider.
    const exfil = end - 30 * 60_000
    records.push(call(exfil, instanceRole(INSTANCES[0] as string), '185.220.101.1', 's3.amazonaws.com', 'ListBuckets'))
    incidents.push({ kind: 'instance credentials used outside AWS', principal: `arn:aws:iam::${ORG_ACCOUNT}:role/app-runtime`, at: new Date(exfil).toISOString(), detectors: ['unusual-source-ip'] })
    incidents.push({ kind: 'access key past rotation and unused', principal: `arn:aws:iam::${ORG_ACCOUNT}:user/legacy-etl`, at: new Date(end).toISOString(), detectors: ['stale-access-key'] })
  }
  const traps: Trap[] = options.traps ? plantTraps(end, call, user, records) : []
  records.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)))
  return { records, incidents, traps, credentialReport: credentialReport(end, options.incidents ?? true) }
}

type Call = (at: number, userIdentity: object, sourceIPAddress: string, eventSource: string, eventName: string, extra?: object) => SyntheticRecord

/** Ordinary events of the last day that weaker detection emails: each must stay below medium. */
function plantTraps(end: number, call: Call, user: (person: Person) => object, records: SyntheticRecord[]): Trap[] {
  const [, jonas, , maria, sam, priya] = PEOPLE as [Person, Person, Person, Person, Person, Person, Person]
  const helpdesk = { type: 'IAMUser', principalId: 'AIDAHELPDESK', arn: `arn:aws:iam::${ORG_ACCOUNT}:user/helpdesk`, accountId: ORG_ACCOUNT, accessKeyId: 'ASIAHELPDESKSESSION1', userName: 'helpdesk' }
  const traps: Trap[] = []
  const plant = (kind: string, person: Person | string, at: number, ...planted: SyntheticRecord[]) => {
    records.push(...planted)
    traps.push({ kind, principal: typeof person === 'string' ? person : personArn(person), at: new Date(at).toISOString() })
  }
  // maria's ISP gave her a new address; she works with her CLI key from it, in her usual hours.
  const mariaDay = lastLocal(end, HOUR, 11, 0, maria.timezone)
  plant('same ISP, new address, long-term key', maria, mariaDay, call(mariaDay, user(maria), '73.210.77.5', 's3.amazonaws.com', 'ListBuckets'))
  // Someone fails to sign in as jonas twice at 02:00 Berlin: not him at work, and not a brute force.
  const jonasNight = lastLocal(end, HOUR, 2, 0, jonas.timezone)
  const failure = (at: number) =>
    call(at, { type: 'IAMUser', principalId: 'AIDAJONAS', accountId: ORG_ACCOUNT, accessKeyId: '', userName: jonas.name }, '45.141.1.1', 'signin.amazonaws.com', 'ConsoleLogin', {
      eventType: 'AwsConsoleSignIn', readOnly: false, responseElements: { ConsoleLogin: 'Failure' }, errorMessage: 'Failed authentication', userAgent: 'Mozilla/5.0',
    })
  plant('failed sign-ins in someone’s name at night', jonas, jonasNight, failure(jonasNight), failure(jonasNight + 60_000))
  // CloudFormation updating sam's stack at night, as AWS does for him.
  const samNight = lastLocal(end, HOUR, 3, 30, sam.timezone)
  plant('AWS acting for a person at night', sam, samNight, call(samNight, { ...user(sam), invokedBy: 'cloudformation.amazonaws.com' }, 'cloudformation.amazonaws.com', 'iam.amazonaws.com', 'PutRolePolicy', { userAgent: 'cloudformation.amazonaws.com', readOnly: false }))
  // The helpdesk in Kolkata resets priya's password, to be changed at her next sign-in.
  const reset = lastLocal(end, HOUR, 15, 0, priya.timezone)
  plant('helpdesk password reset', `arn:aws:iam::${ORG_ACCOUNT}:user/helpdesk`, reset, call(reset, helpdesk, '49.36.5.5', 'iam.amazonaws.com', 'UpdateLoginProfile', { readOnly: false, requestParameters: { userName: priya.name, passwordResetRequired: true } }))
  // A leaked key's user quarantined: an inline policy denying everything.
  const quarantine = lastLocal(end, HOUR, 16, 0, priya.timezone)
  plant('quarantine policy', `arn:aws:iam::${ORG_ACCOUNT}:user/helpdesk`, quarantine, call(quarantine, helpdesk, '49.36.5.5', 'iam.amazonaws.com', 'PutUserPolicy', {
    readOnly: false,
    requestParameters: { userName: 'legacy-etl', policyName: 'quarantine', policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }) },
  }))
  return traps
}

const personArn = (person: Person) => `arn:aws:iam::${ORG_ACCOUNT}:user/${person.name}`

/** The offices' working time, as a team would configure the off-hours detector for them. */
export function officeWorkingTime(): { defaults: { timezone: string }; overrides: { name: string; principals: string[]; timezone: string }[] } {
  const [home, ...elsewhere] = [...new Set(PEOPLE.map((p) => p.timezone))] as [string, ...string[]]
  return {
    defaults: { timezone: home },
    overrides: elsewhere.map((timezone) => ({ name: `${timezone} office`, principals: PEOPLE.filter((p) => p.timezone === timezone).map(personArn), timezone })),
  }
}

function credentialReport(end: number, withStaleKey: boolean): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00')
  const header =
    'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated'
  const row = (name: string, arn: string, rotatedDaysAgo: number, usedDaysAgo: number | undefined) =>
    `${name},${arn},2022-01-01T00:00:00+00:00,false,N/A,N/A,N/A,true,true,${iso(end - rotatedDaysAgo * DAY)},${usedDaysAgo === undefined ? 'N/A' : iso(end - usedDaysAgo * DAY)},${usedDaysAgo === undefined ? 'N/A' : 'eu-central-1'},${usedDaysAgo === undefined ? 'N/A' : 's3'},false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`
  const rows = [
    `<root_account>,arn:aws:iam::${ORG_ACCOUNT}:root,2019-01-01T00:00:00+00:00,not_supported,${iso(end - 40 * DAY)},not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`,
    ...PEOPLE.map((p) => row(p.name, personArn(p), 30, 1)),
    row('ci-deploy', `arn:aws:iam::${ORG_ACCOUNT}:user/automation/ci-deploy`, 60, 0),
    ...(withStaleKey ? [row('legacy-etl', `arn:aws:iam::${ORG_ACCOUNT}:user/legacy-etl`, 200, 60)] : []),
  ]
  return [header, ...rows].join('\n')
}
