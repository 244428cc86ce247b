/**
 * Realistic synthetic CloudTrail records, for benchmarks and demos: the mix of identities, services,
 * errors and payload sizes of a real account (people at the console and the CLI, roles on instances
 * and in Lambda, AWS services, a partner account), deterministic for a given seed.
 */

export type SyntheticRecord = Record<string, unknown>

/** mulberry32: small, fast, and good enough to make varied data repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ACCOUNT = '111122223333'
const PARTNER_ACCOUNT = '444455556666'
const REGIONS = ['us-east-1', 'us-east-1', 'us-east-1', 'eu-west-1', 'eu-central-1', 'ap-south-1', 'us-west-2']
const PEOPLE = ['alice', 'bob', 'carol', 'dinesh', 'erin', 'farah', 'gustavo', 'hiro', 'ines', 'jamal']
const CLI_AGENTS = [
  'aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#s3.ls',
  'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0-1016-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69',
  'APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.152.0',
]
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36'

interface Call {
  source: string
  name: string
  readOnly: boolean
  request: (r: () => number) => unknown
  response?: (r: () => number) => unknown
}

const hex = (r: () => number, length: number) => Array.from({ length }, () => Math.floor(r() * 16).toString(16)).join('')
const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T
const uuid = (r: () => number) => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`

const CALLS: Call[] = [
  { source: 's3.amazonaws.com', name: 'GetObject', readOnly: true, request: (r) => ({ bucketName: `data-lake-${pick(r, ['raw', 'curated', 'exports'])}`, Host: 'data-lake.s3.us-east-1.amazonaws.com', key: `year=2026/month=11/part-${hex(r, 20)}.parquet` }) },
  { source: 's3.amazonaws.com', name: 'PutObject', readOnly: false, request: (r) => ({ bucketName: 'app-uploads', Host: 'app-uploads.s3.us-east-1.amazonaws.com', key: `uploads/${uuid(r)}.json`, 'x-amz-server-side-encryption': 'aws:kms' }) },
  { source: 'ec2.amazonaws.com', name: 'DescribeInstances', readOnly: true, request: (r) => ({ instancesSet: {}, filterSet: { items: [{ name: 'tag:team', valueSet: { items: [{ value: pick(r, ['payments', 'search', 'platform']) }] } }] } }) },
  { source: 'ec2.amazonaws.com', name: 'RunInstances', readOnly: false, request: (r) => ({ instancesSet: { items: [{ imageId: `ami-${hex(r, 17)}`, minCount: 1, maxCount: 1 }] }, instanceType: pick(r, ['t3.medium', 'm7g.large', 'c7i.xlarge']), blockDeviceMapping: {}, monitoring: { enabled: false }, disableApiTermination: false, subnetId: `subnet-${hex(r, 17)}` }), response: (r) => ({ requestId: uuid(r), reservationId: `r-${hex(r, 17)}`, ownerId: ACCOUNT, instancesSet: { items: [{ instanceId: `i-${hex(r, 17)}`, instanceState: { code: 0, name: 'pending' }, privateIpAddress: `10.0.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}` }] } }) },
  { source: 'iam.amazonaws.com', name: 'ListRoles', readOnly: true, request: () => ({ maxItems: 100 }) },
  { source: 'iam.amazonaws.com', name: 'GetRole', readOnly: true, request: (r) => ({ roleName: pick(r, ['app-runtime', 'ci-deploy', 'analytics-reader']) }) },
  { source: 'sts.amazonaws.com', name: 'GetCallerIdentity', readOnly: true, request: () => null },
  { source: 'sts.amazonaws.com', name: 'AssumeRole', readOnly: true, request: (r) => ({ roleArn: `arn:aws:iam::${ACCOUNT}:role/${pick(r, ['app-runtime', 'ci-deploy'])}`, roleSessionName: `session-${hex(r, 8)}`, durationSeconds: 3600 }), response: (r) => ({ credentials: { accessKeyId: `ASIA${hex(r, 16).toUpperCase()}`, sessionToken: hex(r, 200), expiration: 'Nov 27, 2026, 9:00:00 PM' }, assumedRoleUser: { assumedRoleId: `AROA${hex(r, 17).toUpperCase()}:session`, arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-runtime/session` } }) },
  { source: 'kms.amazonaws.com', name: 'Decrypt', readOnly: true, request: (r) => ({ encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::app-uploads/uploads/${uuid(r)}.json` } }) },
  { source: 'lambda.amazonaws.com', name: 'Invoke', readOnly: false, request: (r) => ({ functionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${pick(r, ['resize-images', 'send-receipts', 'nightly-export'])}` }) },
  { source: 'dynamodb.amazonaws.com', name: 'DescribeTable', readOnly: true, request: (r) => ({ tableName: pick(r, ['orders', 'sessions', 'inventory']) }) },
  { source: 'secretsmanager.amazonaws.com', name: 'GetSecretValue', readOnly: true, request: (r) => ({ secretId: `prod/${pick(r, ['db', 'stripe', 'sendgrid'])}/credentials` }) },
  { source: 'cloudtrail.amazonaws.com', name: 'LookupEvents', readOnly: true, request: () => ({ maxResults: 50 }) },
  { source: 'logs.amazonaws.com', name: 'CreateLogStream', readOnly: false, request: (r) => ({ logGroupName: `/aws/lambda/${pick(r, ['resize-images', 'send-receipts'])}`, logStreamName: `2026/11/27/[$LATEST]${hex(r, 32)}` }) },
]

type Actor = (r: () => number) => { userIdentity: unknown; sourceIPAddress: string; userAgent: string; extra?: Record<string, unknown> }

const personKey = (name: string) => `AKIA${name.toUpperCase().padEnd(16, 'X').slice(0, 16)}`
const officeAddress = (r: () => number) => `${pick(r, ['198.51.100', '203.0.113', '192.0.2'])}.${1 + Math.floor(r() * 250)}`

const ACTORS: { weight: number; actor: Actor }[] = [
  {
    weight: 30,
    actor: (r) => {
      const name = pick(r, PEOPLE)
      return {
        userIdentity: { type: 'IAMUser', principalId: `AIDA${name.toUpperCase().padEnd(17, 'Q')}`, arn: `arn:aws:iam::${ACCOUNT}:user/${name}`, accountId: ACCOUNT, accessKeyId: personKey(name), userName: name },
        sourceIPAddress: officeAddress(r),
        userAgent: pick(r, CLI_AGENTS),
      }
    },
  },
  {
    weight: 15,
    actor: (r) => {
      const name = pick(r, PEOPLE)
      return {
        userIdentity: {
          type: 'AssumedRole',
          principalId: `AROA${hex(r, 17).toUpperCase()}:${name}@example.com`,
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_PowerUser_${hex(r, 16)}/${name}@example.com`,
          accountId: ACCOUNT,
          accessKeyId: `ASIA${hex(r, 16).toUpperCase()}`,
          sessionContext: {
            sessionIssuer: { type: 'Role', principalId: `AROA${hex(r, 17).toUpperCase()}`, arn: `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PowerUser_3f1c2e9a8b7d6c5e`, accountId: ACCOUNT, userName: 'AWSReservedSSO_PowerUser_3f1c2e9a8b7d6c5e' },
            webIdFederationData: {},
            attributes: { creationDate: '2026-11-27T08:00:00Z', mfaAuthenticated: 'false' },
          },
        },
        sourceIPAddress: officeAddress(r),
        userAgent: BROWSER,
        extra: { sessionCredentialFromConsole: 'true' },
      }
    },
  },
  {
    weight: 35,
    actor: (r) => {
      const instance = `i-${hex(r, 17)}`
      return {
        userIdentity: {
          type: 'AssumedRole',
          principalId: `AROA${hex(r, 17).toUpperCase()}:${instance}`,
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-runtime/${instance}`,
          accountId: ACCOUNT,
          accessKeyId: `ASIA${hex(r, 16).toUpperCase()}`,
          sessionContext: {
            sessionIssuer: { type: 'Role', principalId: 'AROAAPPRUNTIME0000001', arn: `arn:aws:iam::${ACCOUNT}:role/app-runtime`, accountId: ACCOUNT, userName: 'app-runtime' },
            webIdFederationData: {},
            attributes: { creationDate: '2026-11-27T06:12:44Z', mfaAuthenticated: 'false' },
            ec2RoleDelivery: '2.0',
          },
        },
        sourceIPAddress: `54.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`,
        userAgent: 'aws-sdk-java/2.25.16 Linux/6.1.79-99.167.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.2+13-LTS Java/21.0.2 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy',
      }
    },
  },
  {
    weight: 15,
    actor: (r) => {
      const service = pick(r, ['lambda.amazonaws.com', 'cloudformation.amazonaws.com', 'autoscaling.amazonaws.com', 'elasticloadbalancing.amazonaws.com'])
      return { userIdentity: { type: 'AWSService', invokedBy: service }, sourceIPAddress: service, userAgent: service }
    },
  },
  {
    weight: 5,
    actor: (r) => ({
      userIdentity: {
        type: 'AssumedRole',
        principalId: `AROA${hex(r, 17).toUpperCase()}:partner-sync`,
        arn: `arn:aws:sts::${PARTNER_ACCOUNT}:assumed-role/partner-sync/partner-sync`,
        accountId: PARTNER_ACCOUNT,
        accessKeyId: `ASIA${hex(r, 16).toUpperCase()}`,
        sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${PARTNER_ACCOUNT}:role/partner-sync`, accountId: PARTNER_ACCOUNT, userName: 'partner-sync' }, webIdFederationData: {}, attributes: { creationDate: '2026-11-27T00:00:00Z', mfaAuthenticated: 'false' } },
      },
      sourceIPAddress: `35.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`,
      userAgent: 'aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0',
    }),
  },
]
const TOTAL_WEIGHT = ACTORS.reduce((sum, a) => sum + a.weight, 0)

function pickActor(r: () => number): Actor {
  let roll = r() * TOTAL_WEIGHT
  for (const { weight, actor } of ACTORS) {
    roll -= weight
    if (roll < 0) return actor
  }
  return (ACTORS[0] as { actor: Actor }).actor
}

/** `count` records spread evenly from `startMs`, one every `stepMs`. */
export function* syntheticRecords(options: { count: number; seed: number; startMs: number; stepMs: number }): Generator<SyntheticRecord> {
  const r = seededRandom(options.seed)
  for (let i = 0; i < options.count; i++) {
    const call = pick(r, CALLS)
    const actor = pickActor(r)(r)
    const region = pick(r, REGIONS)
    const denied = r() < 0.03
    const record: SyntheticRecord = {
      eventVersion: '1.09',
      userIdentity: actor.userIdentity,
      eventTime: new Date(options.startMs + i * options.stepMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: call.source,
      eventName: call.name,
      awsRegion: region,
      sourceIPAddress: actor.sourceIPAddress,
      userAgent: actor.userAgent,
      ...(denied ? { errorCode: 'AccessDenied', errorMessage: `User is not authorized to perform: ${call.source.split('.')[0] ?? ''}:${call.name} because no identity-based policy allows the action` } : {}),
      requestParameters: call.request(r),
      responseElements: denied ? null : (call.response?.(r) ?? null),
      requestID: uuid(r),
      eventID: uuid(r),
      readOnly: call.readOnly,
      eventType: 'AwsApiCall',
      managementEvent: call.source !== 's3.amazonaws.com' && call.name !== 'Decrypt',
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
      tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: `${call.source.split('.')[0] ?? ''}.${region}.amazonaws.com` },
      ...actor.extra,
    }
    yield record
  }
}
