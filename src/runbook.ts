/**
 * Runbooks per kind of identity. A runbook line may begin with the kinds it is for, as
 * `[root] Delete the key now.` or `[user-key,user] Ask the person.`; a line without is for every
 * kind. Each finding keeps the lines for its own identity, so a user's key is never told what
 * only a root key needs.
 */

export const IDENTITY_KINDS = {
  root: 'the root user',
  'user-key': 'an IAM user’s long-term access key',
  user: 'an IAM user signed in or on temporary keys',
  'instance-role': 'an EC2 instance role',
  sso: 'a federated or IAM Identity Center session',
  role: 'another role session',
  service: 'an AWS service',
  other: 'an identity of another kind',
} as const
export type IdentityKind = keyof typeof IDENTITY_KINDS

const TAG = /^\[([a-z-]+(?:,[a-z-]+)*)\]\s*/
const INSTANCE_SESSION = /^i-[0-9a-f]{8,17}$/

function text(evidence: Record<string, unknown>, name: string): string {
  const value = evidence[name]
  return typeof value === 'string' ? value : ''
}

/** The kind of identity a finding is about, from its principal ARN and what its evidence says of the key and session. */
export function identityKind(principal: string, evidence: Record<string, unknown>): IdentityKind {
  if (principal.endsWith(':root')) return 'root'
  if (principal.endsWith('.amazonaws.com') || text(evidence, 'actor_kind') === 'aws-service') return 'service'
  if (/:role\/(aws-reserved\/sso\.amazonaws\.com\/|.*AWSReservedSSO_)/.test(principal) || principal.includes(':federated-user/') || principal.includes(':saml-provider/')) return 'sso'
  if (principal.includes(':role/')) {
    const session = text(evidence, 'session') || text(evidence, 'session_name')
    return evidence.instance_role_outside_aws === true || INSTANCE_SESSION.test(session) ? 'instance-role' : 'role'
  }
  if (principal.includes(':user/')) {
    const key = text(evidence, 'access_key_id') || text(evidence, 'key')
    return evidence.long_term_key === true || key.startsWith('AKIA') ? 'user-key' : 'user'
  }
  return 'other'
}

/** The kinds a line is for, and its text; none named: every kind. */
export function runbookLine(line: string): { kinds: IdentityKind[] | undefined; text: string } {
  const tag = TAG.exec(line)
  if (!tag) return { kinds: undefined, text: line }
  return { kinds: (tag[1] ?? '').split(',').filter((k): k is IdentityKind => k in IDENTITY_KINDS), text: line.slice(tag[0].length) }
}

/** The lines of a runbook for one kind of identity, without their tags. */
export function runbookFor(lines: readonly string[], kind: IdentityKind): string[] {
  return lines.map(runbookLine).flatMap(({ kinds, text }) => (kinds === undefined || kinds.includes(kind) ? [text] : []))
}

/** A runbook line for a person reading the detector: `For the root user: …`. */
export function runbookLineText(line: string): string {
  const { kinds, text } = runbookLine(line)
  return kinds ? `For ${kinds.map((k) => IDENTITY_KINDS[k]).join(' or ')}: ${text}` : text
}
