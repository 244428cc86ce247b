import { isIP } from 'node:net'
import type { CloudTrailRecord, UserIdentity } from './schema.js'

export const ACTOR_KINDS = ['human-console', 'human-cli', 'automation', 'aws-service'] as const
export type ActorKind = (typeof ACTOR_KINDS)[number]

export type AccessKeyKind = 'long-term' | 'temporary' | ''

/** Who really made a call, normalised once at ingest so every detector can trust it. */
export interface Identity {
  /** IAM user ARN, role ARN for sessions, root ARN, service principal, or a foreign account's id. */
  principalArn: string
  principalType: string
  principalAccountId: string
  userName: string
  /** Role session name, or the federated user's name; kept apart from the principal. */
  sessionName: string
  actorKind: ActorKind
  invokedBy: string
  accessKeyId: string
  accessKeyKind: AccessKeyKind
  mfaAuthenticated: boolean
  consoleSession: boolean
  /** Set only when the source is an IP address. */
  sourceIp: string | null
  /** A service hostname or `AWS Internal` when the source is not an address. */
  sourceHost: string
}

const AWS_INTERNAL = 'AWS Internal'
const HIDDEN_USER = 'HIDDEN_DUE_TO_SECURITY_REASONS'
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
const CONSOLE_AGENT = /^Mozilla\/|^console\.|console\.amazonaws\.com|\[?S3Console\/|^signin\.amazonaws\.com|Console, aws-internal/
// Runtimes of AWS compute services announce themselves in the SDK user agent.
const AUTOMATION_AGENT = /exec-env\/(AWS_Lambda|AWS_ECS|CodeBuild|AWS_Batch)|GitHubActions/
const AUTOMATION_IDP = /token\.actions\.githubusercontent\.com|oidc\.eks\./

export function normaliseIdentity(record: CloudTrailRecord): Identity {
  const who = record.userIdentity ?? undefined
  const type = who?.type ?? ''
  const invokedBy = who?.invokedBy ?? ''
  const issuer = who?.sessionContext?.sessionIssuer ?? undefined
  const { sourceIp, sourceHost } = splitSource(record.sourceIPAddress ?? '')
  const accessKeyId = who?.accessKeyId ?? ''

  const principal = principalOf(who, record)
  const mfaAuthenticated =
    who?.sessionContext?.attributes?.mfaAuthenticated === 'true' || readString(record.additionalEventData, 'MFAUsed') === 'Yes'
  const human = isHumanIdentity(type, issuer?.arn ?? '', who)
  const viaAwsInternal = invokedBy === AWS_INTERNAL || sourceHost === AWS_INTERNAL
  const consoleSession =
    record.sessionCredentialFromConsole === 'true' ||
    record.eventSource === 'signin.amazonaws.com' ||
    invokedBy === 'signin.amazonaws.com' ||
    CONSOLE_AGENT.test(record.userAgent ?? '') ||
    (human && viaAwsInternal)

  // Field by field, for the same reason as in principalOf.
  return {
    principalArn: principal.principalArn,
    principalType: principal.principalType,
    principalAccountId: principal.principalAccountId,
    userName: principal.userName,
    sessionName: principal.sessionName,
    actorKind: actorKindOf({ type, invokedBy, issuerArn: issuer?.arn ?? '', sessionName: principal.sessionName, human, consoleSession, viaAwsInternal, sourceIp, sourceHost, record }),
    invokedBy,
    accessKeyId,
    accessKeyKind: accessKeyId.startsWith('AKIA') ? 'long-term' : accessKeyId.startsWith('ASIA') ? 'temporary' : '',
    mfaAuthenticated,
    consoleSession,
    sourceIp,
    sourceHost,
  }
}

interface Principal {
  principalArn: string
  principalType: string
  principalAccountId: string
  userName: string
  sessionName: string
}

function principalOf(who: UserIdentity | undefined, record: CloudTrailRecord): Principal {
  const type = who?.type ?? ''
  const arn = who?.arn ?? ''
  const accountId = who?.accountId ?? accountOfArn(arn)
  const partition = partitionOfArn(arn || (who?.sessionContext?.sessionIssuer?.arn ?? ''))
  const userName = who?.userName ?? ''
  // Every principal built with its fields in one order: spreading objects of several shapes into
  // one another took over half of this step's time (npm run bench:backfill).
  const principal = (principalArn: string, overrides: Partial<Omit<Principal, 'principalArn'>> = {}): Principal => ({
    principalArn,
    principalType: overrides.principalType ?? type,
    principalAccountId: overrides.principalAccountId ?? accountId,
    userName: overrides.userName ?? userName,
    sessionName: overrides.sessionName ?? '',
  })

  switch (type) {
    case 'Root':
      return principal(arn || `arn:${partition}:iam::${accountId}:root`)
    case 'IAMUser': {
      // A failed console sign-in carries the user name but no ARN; AWS hides names that do not exist.
      const derived = userName && userName !== HIDDEN_USER && accountId ? `arn:${partition}:iam::${accountId}:user/${userName}` : ''
      return principal(arn || derived)
    }
    case 'AssumedRole': {
      const issuerArn = who?.sessionContext?.sessionIssuer?.arn ?? ''
      const [, roleName = '', sessionName = ''] = /assumed-role\/([^/]+)\/(.+)$/.exec(arn) ?? []
      const roleArn = issuerArn || (roleName ? `arn:${partition}:iam::${accountId}:role/${roleName}` : arn)
      return principal(roleArn, { userName: who?.sessionContext?.sessionIssuer?.userName ?? roleName, sessionName })
    }
    case 'FederatedUser': {
      // GetFederationToken sessions act with the permissions of the IAM user that asked for them.
      const issuerArn = who?.sessionContext?.sessionIssuer?.arn ?? ''
      const federatedName = /federated-user\/(.+)$/.exec(arn)?.[1] ?? ''
      return principal(issuerArn || arn, { userName: who?.sessionContext?.sessionIssuer?.userName ?? '', sessionName: federatedName })
    }
    case 'AWSAccount':
      return principal(accountId)
    case 'AWSService':
      return principal(who?.invokedBy ?? record.eventSource, { principalAccountId: '' })
    case '':
      // Service events name no identity, or only the service that acted.
      return principal(who?.invokedBy ?? record.eventSource, { principalType: 'AWSService', principalAccountId: '' })
    default: {
      // SAMLUser, WebIdentityUser, IdentityCenterUser and types yet to come.
      const provider = who?.identityProvider ?? ''
      const fallback = provider && userName ? `${provider}:${userName}` : (who?.principalId ?? '')
      return principal(arn || fallback)
    }
  }
}

function isHumanIdentity(type: string, issuerArn: string, who: UserIdentity | undefined): boolean {
  switch (type) {
    case 'Root':
    case 'IAMUser':
    case 'FederatedUser':
    case 'SAMLUser':
    case 'IdentityCenterUser':
      return true
    case 'AssumedRole':
      return (
        /:role\/(aws-reserved\/sso\.amazonaws\.com\/)?(.*\/)?AWSReservedSSO_/.test(issuerArn) ||
        (who?.arn ?? '').includes('assumed-role/AWSReservedSSO') ||
        who?.sessionContext?.attributes?.mfaAuthenticated === 'true' ||
        Boolean(who?.sessionContext?.sourceIdentity)
      )
    default:
      return false
  }
}

function actorKindOf(facts: {
  type: string
  invokedBy: string
  issuerArn: string
  sessionName: string
  human: boolean
  consoleSession: boolean
  viaAwsInternal: boolean
  sourceIp: string | null
  sourceHost: string
  record: CloudTrailRecord
}): ActorKind {
  const { type, invokedBy, issuerArn, sessionName, human, consoleSession, viaAwsInternal, sourceIp, sourceHost, record } = facts
  if (type === 'AWSService' || type === '') return 'aws-service'
  // Service-linked roles are only ever used by the service itself.
  if (issuerArn.includes(':role/aws-service-role/')) return 'aws-service'
  if (consoleSession) return 'human-console'
  if (viaAwsInternal) return 'aws-service'
  // A service acting for the principal (CloudFormation, Athena, …) calls from its own hostname or from
  // nowhere; an invokedBy beside a real address is the person's own call, relayed.
  if ((invokedBy && sourceIp === null) || sourceHost.endsWith('.amazonaws.com')) return 'aws-service'

  const who = record.userIdentity ?? undefined
  const instanceSession = INSTANCE_ID.test(sessionName) || Boolean(who?.sessionContext?.ec2RoleDelivery)
  const automationAgent = AUTOMATION_AGENT.test(record.userAgent ?? '')
  const automationIdp = AUTOMATION_IDP.test(who?.sessionContext?.webIdFederationData?.federatedProvider ?? '')
  if (instanceSession || automationAgent || automationIdp) return 'automation'
  if (human) return 'human-cli'
  return type === 'AssumedRole' || type === 'WebIdentityUser' ? 'automation' : 'human-cli'
}

/** Splits `sourceIPAddress` into an address, or a hostname such as `ec2.amazonaws.com` / `AWS Internal`. */
export function splitSource(value: string): { sourceIp: string | null; sourceHost: string } {
  if (isIP(value) !== 0) return { sourceIp: value, sourceHost: '' }
  // Anonymised datasets write octets with leading zeros ("10.090.1.5"); read them as decimal.
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value)
  if (octets?.slice(1).every((o) => Number(o) <= 255)) {
    return { sourceIp: octets.slice(1).map(Number).join('.'), sourceHost: '' }
  }
  return { sourceIp: null, sourceHost: value }
}

function accountOfArn(arn: string): string {
  return arn.split(':')[4] ?? ''
}

function partitionOfArn(arn: string): string {
  const end = arn.indexOf(':', 4)
  return arn.startsWith('arn:') && end > 4 ? arn.slice(4, end) : 'aws'
}

function readString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const field = (value as Record<string, unknown>)[key]
  return typeof field === 'string' ? field : undefined
}
