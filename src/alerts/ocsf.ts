/**
 * Findings as OCSF 1.8.0 Detection Findings (class 2004), the form Security Hub, Security Lake and
 * most SIEMs read. The mapping is the README's "OCSF"; every field is checked against the vendored
 * schema (catalogue/ocsf-schema) in the tests.
 */
import { tacticOf } from './tactics.js'
import { packageVersion } from '../package.js'
import { shortPrincipal } from '../principals.js'
import type { Severity } from '../severity.js'
import type { StoredAlert } from './table.js'

export const OCSF_VERSION = '1.8.0'

const CLASS = { category_uid: 2, category_name: 'Findings', class_uid: 2004, class_name: 'Detection Finding' } as const

/** How a finding changed: OCSF's activity of a finding. */
export type FindingActivity = 'create' | 'update' | 'close'
const ACTIVITY: Record<FindingActivity, { id: number; name: string }> = { create: { id: 1, name: 'Create' }, update: { id: 2, name: 'Update' }, close: { id: 3, name: 'Close' } }

/** Where the finding stands: OCSF's status of a finding. */
export type FindingStatus = 'new' | 'in-progress' | 'resolved'
const STATUS: Record<FindingStatus, { id: number; name: string }> = { new: { id: 1, name: 'New' }, 'in-progress': { id: 2, name: 'In Progress' }, resolved: { id: 4, name: 'Resolved' } }

/** OCSF's severity of a trailwatch severity: its id and its name. */
export const OCSF_SEVERITY: Record<Severity, { id: number; name: string }> = {
  info: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
}

/** ATT&CK's enterprise tactics by the names tactics.ts gives them. */
const TACTICS: Record<string, { uid: string; name: string }> = {
  reconnaissance: { uid: 'TA0043', name: 'Reconnaissance' },
  'resource-development': { uid: 'TA0042', name: 'Resource Development' },
  'initial-access': { uid: 'TA0001', name: 'Initial Access' },
  execution: { uid: 'TA0002', name: 'Execution' },
  persistence: { uid: 'TA0003', name: 'Persistence' },
  'privilege-escalation': { uid: 'TA0004', name: 'Privilege Escalation' },
  'defense-evasion': { uid: 'TA0005', name: 'Defense Evasion' },
  'credential-access': { uid: 'TA0006', name: 'Credential Access' },
  discovery: { uid: 'TA0007', name: 'Discovery' },
  'lateral-movement': { uid: 'TA0008', name: 'Lateral Movement' },
  collection: { uid: 'TA0009', name: 'Collection' },
  'command-and-control': { uid: 'TA0011', name: 'Command and Control' },
  exfiltration: { uid: 'TA0010', name: 'Exfiltration' },
  impact: { uid: 'TA0040', name: 'Impact' },
}

type Json = Record<string, unknown>

const MAX_RELATED = 100

/** One ATT&CK object per technique id: `T1098.001` as technique T1098 and that sub-technique, with the tactic it serves first. */
export function ocsfAttacks(techniques: readonly string[]): Json[] {
  return [...new Set(techniques)].sort().map((id) => {
    const [technique = id, sub] = id.split('.')
    const tactic = TACTICS[tacticOf(id)]
    return { technique: { uid: technique }, ...(sub ? { sub_technique: { uid: id } } : {}), ...(tactic ? { tactic } : {}), version: '18' }
  })
}

const ARN = /^arn:aws[a-z-]*:([a-z0-9-]+):[^:]*:(\d{12})?:(.+)$/

/** The identity a finding is about, as OCSF's actor: a user with its ARN, kind and account. */
export function ocsfActor(principal: string, account: string): Json {
  const accountOf = { uid: account || (/^\d{12}$/.test(principal) ? principal : 'unknown'), type: 'AWS Account', type_id: 10 }
  const match = ARN.exec(principal)
  if (!match) return { user: { uid: principal, name: principal, type: 'Other', type_id: 99, account: accountOf } }
  const resource = match[3] ?? ''
  const kind = resource === 'root' ? { type: 'Admin', type_id: 2 } : resource.startsWith('user/') ? { type: 'User', type_id: 1 } : { type: 'Other', type_id: 99 }
  return { user: { uid: principal, name: shortPrincipal(principal), ...kind, account: { ...accountOf, uid: match[2] ?? accountOf.uid } } }
}

/** Every ARN the text holds (the principal first), as OCSF resources: what the finding is about. */
export function ocsfResources(principal: string, evidence: unknown): Json[] {
  const arns = new Set<string>()
  if (ARN.test(principal)) arns.add(principal)
  for (const found of JSON.stringify(evidence).matchAll(/arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[^"\s,\\]+/g)) {
    if (arns.size >= 20) break
    arns.add(found[0])
  }
  return [...arns].map((arn) => {
    const [, service = '', account = '', resource = ''] = ARN.exec(arn) ?? []
    const type = resource.includes('/') ? resource.slice(0, resource.indexOf('/')) : resource.includes(':') ? resource.slice(0, resource.indexOf(':')) : service
    return { uid: arn, name: resource.split(/[/:]/).pop() ?? arn, type: `${service}:${type}`, ...(account ? { owner: { account: { uid: account, type: 'AWS Account', type_id: 10 } } } : {}) }
  })
}

export interface OcsfParts {
  uid: string
  title: string
  desc: string
  severity: Severity
  activity: FindingActivity
  status: FindingStatus
  /** When the finding was made or changed (ms): OCSF's time. */
  time: number
  firstSeen: number
  lastSeen: number
  principal: string
  account: string
  attack: readonly string[]
  analytic: { uid: string; name: string; type: string; type_id: number }
  resources: Json[]
  remediation: string[]
  types: string[]
  unmapped: Json
  related?: Json[] | undefined
}

/** A Detection Finding of its parts; what is empty is left out, as OCSF asks. */
export function detectionFinding(p: OcsfParts): Json {
  const activity = ACTIVITY[p.activity]
  const severity = OCSF_SEVERITY[p.severity]
  const status = STATUS[p.status]
  return {
    ...CLASS,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: CLASS.class_uid * 100 + activity.id,
    type_name: `${CLASS.class_name}: ${activity.name}`,
    time: p.time,
    start_time: p.firstSeen,
    end_time: p.lastSeen,
    severity_id: severity.id,
    severity: severity.name,
    status_id: status.id,
    status: status.name,
    message: p.title,
    is_alert: true,
    metadata: { version: OCSF_VERSION, uid: p.uid, product: { name: 'trailwatch', vendor_name: 'trailwatch', version: packageVersion() }, profiles: ['cloud'] },
    cloud: { provider: 'AWS', account: { uid: p.account || 'unknown', type: 'AWS Account', type_id: 10 } },
    finding_info: {
      uid: p.uid,
      title: p.title,
      ...(p.desc ? { desc: p.desc } : {}),
      analytic: p.analytic,
      ...(p.attack.length ? { attacks: ocsfAttacks(p.attack) } : {}),
      types: p.types,
      created_time: p.time,
      first_seen_time: p.firstSeen,
      last_seen_time: p.lastSeen,
      // An incident of hundreds of alerts names the first hundred, and says how many there are.
      ...(p.related?.length ? { related_events: p.related.slice(0, MAX_RELATED), related_events_count: p.related.length } : {}),
    },
    actor: ocsfActor(p.principal, p.account),
    ...(p.resources.length ? { resources: p.resources } : {}),
    ...(p.remediation.length ? { remediation: { desc: p.remediation.join(' ') } } : {}),
    unmapped: p.unmapped,
  }
}

/** A rule (`rule:…`) matched what it names; a detector judged against a baseline or a state. */
export function analyticOf(detector: string): OcsfParts['analytic'] {
  return detector.startsWith('rule:') ? { uid: detector, name: detector, type: 'Rule', type_id: 1 } : { uid: detector, name: detector, type: 'Behavioral', type_id: 2 }
}

/** An alert as a Detection Finding: created when it was first detected, new until an incident settles it. */
export function alertFinding(alert: StoredAlert): Json {
  return detectionFinding({
    uid: alert.alert_id,
    title: alert.title,
    desc: alert.why,
    severity: alert.severity,
    activity: 'create',
    status: 'new',
    time: Date.parse(alert.detected_at),
    firstSeen: Date.parse(alert.first_seen),
    lastSeen: Date.parse(alert.last_seen),
    principal: alert.principal,
    account: alert.account,
    attack: alert.attack,
    analytic: analyticOf(alert.detector),
    resources: ocsfResources(alert.principal, alert.evidence),
    remediation: alert.runbook,
    types: [alert.kind],
    unmapped: { trailwatch: { detector: alert.detector, kind: alert.kind, evidence: alert.evidence } },
  })
}
