import { createHash } from 'node:crypto'

/**
 * Identities are strings `kind:value`:
 * - `principal:ARN`: a user, root, or a foreign account (never a role: many people share one);
 * - `user:ACCOUNT:NAME`, `role:ACCOUNT:NAME`: what IAM calls create by name;
 * - `key:ID`: a long-term or temporary access key (a role session is its key);
 * - `source-identity:VALUE`: the sourceIdentity a session carries from its first hop;
 * - `ip:ADDRESS`: a public source address.
 */
export type Identity = string

/** Two identities tied by one call: a key issued, a user or role created. */
export interface ChainEdge {
  from: Identity
  to: Identity
  /** The call, as a person reads it: "AssumeRole by user/bert-jan at 2023-07-10 11:50:02 UTC". */
  reason: string
}

export interface AlertIdentities {
  alertId: string
  identities: Identity[]
  firstSeen: number
  lastSeen: number
}

export interface OpenIncident {
  id: string
  members: AlertIdentities[]
}

export interface Grouping {
  /** New alerts and the incident each joined, with why. */
  joined: { alertId: string; incidentId: string; link: string }[]
  /** Incidents made new by this pass. */
  opened: string[]
  /** Incidents one new alert tied to an older one, and the incident that absorbs them. */
  merged: { from: string; into: string; members: AlertIdentities[] }[]
}

export interface GroupingInput {
  open: OpenIncident[]
  /** Alerts in no incident yet. */
  fresh: AlertIdentities[]
  edges: ChainEdge[]
  /** Public addresses several people use: an office or a VPN, never a tie. */
  sharedAddresses: ReadonlySet<string>
  windowMs: number
}

export function incidentId(firstAlertId: string): string {
  return `inc-${createHash('sha256').update(firstAlertId).digest('hex').slice(0, 12)}`
}

class UnionFind {
  private readonly parent = new Map<string, string>()

  find(node: string): string {
    let root = node
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root) as string
    // Path compression: later finds are one step.
    let walk = node
    while (walk !== root) {
      const next = this.parent.get(walk) as string
      this.parent.set(walk, root)
      walk = next
    }
    return root
  }

  union(a: string, b: string): void {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra !== rb) this.parent.set(rb, ra)
  }
}

/** How a person reads an identity. */
export function describeIdentity(identity: Identity): string {
  const [kind = '', ...rest] = identity.split(':')
  const value = rest.join(':')
  switch (kind) {
    case 'principal':
      return value
    case 'user':
    case 'role':
      return `${kind} ${rest.slice(1).join(':')} in account ${rest[0] ?? ''}`
    case 'key':
      return `access key ${value}`
    case 'source-identity':
      return `source identity ${value}`
    case 'ip':
      return `address ${value}`
    default:
      return identity
  }
}

interface Group {
  id?: string
  members: AlertIdentities[]
  roots: Set<string>
  firstSeen: number
  lastSeen: number
}

/**
 * Joins alerts into incidents by the identities behind them. Keys an STS call issued, and users and
 * roles a principal created, belong to that principal's chain. A fresh alert joins every open
 * incident sharing a chain with it whose last alert is within the window before it; when it ties
 * two, the older absorbs the younger. Fresh alerts are taken oldest first, so the result does not
 * depend on the order they were stored in.
 */
export function groupAlerts(input: GroupingInput): Grouping {
  const chains = new UnionFind()
  const reasons = new Map<Identity, string>()
  const created = new Set<Identity>()
  for (const edge of input.edges) {
    chains.union(edge.from, edge.to)
    if (!reasons.has(edge.to)) reasons.set(edge.to, edge.reason)
    created.add(edge.to)
  }
  const ties = (identity: Identity): boolean => {
    if (identity.startsWith('ip:')) return !input.sharedAddresses.has(identity.slice(3))
    // A role ties only through the call that created it: otherwise everyone who assumes it would be one.
    if (identity.startsWith('role:')) return created.has(identity)
    return true
  }
  const rootsOf = (alert: AlertIdentities): Set<string> => new Set(alert.identities.filter(ties).map((i) => chains.find(i)))

  const groups: Group[] = input.open.map((incident) => ({
    id: incident.id,
    members: incident.members,
    roots: new Set(incident.members.flatMap((m) => [...rootsOf(m)])),
    firstSeen: Math.min(...incident.members.map((m) => m.firstSeen)),
    lastSeen: Math.max(...incident.members.map((m) => m.lastSeen)),
  }))
  const links = new Map<string, string>()
  const merged: { from: string; into: Group; members: AlertIdentities[] }[] = []
  for (const alert of [...input.fresh].sort((a, b) => a.firstSeen - b.firstSeen || a.alertId.localeCompare(b.alertId))) {
    const roots = rootsOf(alert)
    const matching = groups.filter((g) => g.lastSeen >= alert.firstSeen - input.windowMs && [...roots].some((r) => g.roots.has(r)))
    if (matching.length === 0) {
      groups.push({ members: [alert], roots, firstSeen: alert.firstSeen, lastSeen: alert.lastSeen })
      links.set(alert.alertId, 'the first alert')
      continue
    }
    // The incident opened first absorbs the rest: stored incidents before new groups, then by age.
    matching.sort((a, b) => Number(b.id !== undefined) - Number(a.id !== undefined) || a.firstSeen - b.firstSeen)
    const [into, ...absorbed] = matching as [Group, ...Group[]]
    links.set(alert.alertId, linkText(alert, into, chains, ties, reasons))
    for (const group of absorbed) {
      into.members.push(...group.members)
      for (const root of group.roots) into.roots.add(root)
      into.firstSeen = Math.min(into.firstSeen, group.firstSeen)
      into.lastSeen = Math.max(into.lastSeen, group.lastSeen)
      groups.splice(groups.indexOf(group), 1)
      if (group.id) merged.push({ from: group.id, into, members: group.members })
    }
    into.members.push(alert)
    for (const root of roots) into.roots.add(root)
    into.lastSeen = Math.max(into.lastSeen, alert.lastSeen)
  }

  const opened: string[] = []
  for (const group of groups) {
    if (group.id) continue
    const first = [...group.members].sort((a, b) => a.firstSeen - b.firstSeen || a.alertId.localeCompare(b.alertId))[0] as AlertIdentities
    group.id = incidentId(first.alertId)
    opened.push(group.id)
  }
  const fresh = new Set(input.fresh.map((a) => a.alertId))
  const joined = groups.flatMap((group) =>
    group.members.filter((m) => fresh.has(m.alertId)).map((m) => ({ alertId: m.alertId, incidentId: group.id as string, link: links.get(m.alertId) ?? '' })),
  )
  return { joined, opened, merged: merged.map((m) => ({ from: m.from, into: m.into.id as string, members: m.members })) }
}

/** Why an alert belongs: the identity it shares with the incident, and the call that tied it when not its own. */
function linkText(alert: AlertIdentities, group: Group, chains: UnionFind, ties: (i: Identity) => boolean, reasons: Map<Identity, string>): string {
  const shared = alert.identities.filter((i) => ties(i) && group.roots.has(chains.find(i)))
  const direct = shared.find((i) => group.members.some((m) => m.identities.includes(i)))
  if (direct) return `same ${describeIdentity(direct)}`
  const tied = shared.find((i) => reasons.has(i)) ?? shared[0] ?? ''
  const reason = reasons.get(tied)
  return `${describeIdentity(tied)}${reason ? `, from ${reason}` : ''}`
}
