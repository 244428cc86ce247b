import type { TriggerEvent } from './triggers.js'

/** What a responder acts on, by kind: "trail" → the trail names the incident's calls touched. */
export type Identifiers = Map<string, string[]>

const FIELD_KINDS: Record<string, string> = {
  instanceId: 'instance',
  instanceIds: 'instance',
  trailName: 'trail',
  secretId: 'secret',
  bucketName: 'bucket',
  userName: 'user',
  roleName: 'role',
  functionName: 'function',
  snapshotId: 'snapshot',
  dBSnapshotIdentifier: 'snapshot',
  imageId: 'image',
  groupId: 'security group',
  keyId: 'KMS key',
  accessKeyId: 'access key',
  policyArn: 'policy',
  detectorId: 'GuardDuty detector',
  flowLogIds: 'flow log',
  trustAnchorId: 'trust anchor',
}

/** `name` means a different thing in each service. */
const NAME_KINDS: Record<string, string> = {
  'cloudtrail.amazonaws.com': 'trail',
  'secretsmanager.amazonaws.com': 'secret',
  'ssm.amazonaws.com': 'parameter',
  'rolesanywhere.amazonaws.com': 'trust anchor',
}

const MAX_PER_KIND = 8
// Only values that look like identifiers become commands or lines: free text from a request stays out.
const IDENTIFIER = /^[\w.:/+=,@-]{1,256}$/

function add(found: Identifiers, kind: string, value: string): void {
  if (!IDENTIFIER.test(value)) return
  const values = found.get(kind) ?? []
  if (values.length < MAX_PER_KIND && !values.includes(value)) values.push(value)
  found.set(kind, values)
}

function walk(value: unknown, service: string, found: Identifiers, depth = 0): void {
  if (depth > 6 || value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    for (const item of value) walk(item, service, found, depth + 1)
    return
  }
  for (const [field, inner] of Object.entries(value)) {
    const kind = field === 'name' || field === 'names' ? NAME_KINDS[service] : FIELD_KINDS[field]
    if (kind) for (const item of Array.isArray(inner) ? inner : [inner]) if (typeof item === 'string') add(found, kind, item)
    if (typeof inner === 'object') walk(inner, service, found, depth + 1)
  }
}

/** The resources an incident's calls named (instances, trails, secrets, buckets, users, roles …), from their request parameters. */
export function identifiersOf(events: TriggerEvent[]): Identifiers {
  const found: Identifiers = new Map()
  for (const event of events) {
    if (!event.request) continue
    let request: unknown
    try {
      request = JSON.parse(event.request)
    } catch {
      continue
    }
    walk(request, event.service, found)
  }
  return found
}

/** A value safe to paste into a runbook command: an identifier, never a word of free text. */
export function isIdentifier(value: string): boolean {
  return IDENTIFIER.test(value)
}
