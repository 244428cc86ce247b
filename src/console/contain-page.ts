import type { ContainAction } from '../contain/changes.js'
import type { Containment, ContainmentPlan, ContainTarget } from '../contain/contain.js'
import { html, type Html } from '../html.js'
import type { Incident } from '../incidents/incidents.js'
import type { TriggerEvent } from '../incidents/triggers.js'
import { shortPrincipal } from '../principals.js'
import { csrfField, dataTable, ident, page, principalLink, queryString, time, type PageContext } from './layout.js'

/** One containment a person may ask for from an incident. */
export interface ContainOffer {
  target: ContainTarget
  action: ContainAction
  /** For detach-policy: the managed policy. */
  policyArn?: string | undefined
  label: string
}

const PRINCIPAL = /^arn:aws[\w-]*:iam::\d{12}:(user|role)\//
const NAME = /^[\w+=,.@-]{1,128}$/
const POLICY_ARN = /^arn:aws[\w-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]{1,512}$/

/** A managed policy the incident's calls attached to a user or role. */
export interface AttachedPolicy {
  principal: string
  policyArn: string
}

/** What the incident's successful AttachUserPolicy and AttachRolePolicy calls attached, each once: a detach undoes it. */
export function policiesAttached(incident: Incident, calls: Map<string, TriggerEvent[]>): AttachedPolicy[] {
  const found = new Map<string, AttachedPolicy>()
  for (const { alert } of incident.members) {
    for (const call of calls.get(alert.alert_id) ?? []) {
      if (call.error || (call.event !== 'AttachUserPolicy' && call.event !== 'AttachRolePolicy')) continue
      let request: { policyArn?: unknown; userName?: unknown; roleName?: unknown }
      try {
        request = JSON.parse(call.request) as typeof request
      } catch {
        continue
      }
      const [kind, name] = call.event === 'AttachUserPolicy' ? ['user', request.userName] : ['role', request.roleName]
      if (typeof name !== 'string' || !NAME.test(name) || typeof request.policyArn !== 'string' || !POLICY_ARN.test(request.policyArn)) continue
      const principal = `arn:aws:iam::${alert.account}:${kind}/${name}`
      found.set(`${principal} ${request.policyArn}`, { principal, policyArn: request.policyArn })
    }
  }
  return [...found.values()]
}

/** What fits an incident: its long-term keys deactivated, its users and roles cut off or quarantined, a user's password removed, the policies it attached detached. */
export function containOffers(incident: Incident, attached: AttachedPolicy[]): ContainOffer[] {
  const keys = incident.identities.filter((i) => i.startsWith('key:AKIA')).map((i) => i.slice('key:'.length))
  const principals = incident.principals.filter((p) => PRINCIPAL.test(p))
  return [
    ...keys.map((key): ContainOffer => ({ target: { type: 'key', key }, action: 'deactivate-key', label: `Deactivate key ${key}` })),
    ...principals.flatMap((arn): ContainOffer[] => [
      { target: { type: 'principal', arn }, action: 'revoke-sessions', label: `Revoke the sessions of ${shortPrincipal(arn)} issued before now` },
      { target: { type: 'principal', arn }, action: 'quarantine', label: `Quarantine ${shortPrincipal(arn)}: deny every action` },
      ...(arn.includes(':user/') ? [{ target: { type: 'principal', arn } as const, action: 'remove-password' as const, label: `Remove the console password of ${shortPrincipal(arn)}` }] : []),
    ]),
    ...attached.map((a): ContainOffer => ({ target: { type: 'principal', arn: a.principal }, action: 'detach-policy', policyArn: a.policyArn, label: `Detach ${a.policyArn} from ${shortPrincipal(a.principal)}` })),
  ]
}

function targetText(target: ContainTarget): string {
  return target.type === 'key' ? target.key : target.arn
}

/** The review link of an offer: a dry run, nothing changed until confirmed. */
export function offerLink(incidentId: string, offer: ContainOffer): string {
  return `/incidents/${encodeURIComponent(incidentId)}/contain${queryString({ type: offer.target.type, target: targetText(offer.target), action: offer.action, policy: offer.policyArn })}`
}

/** The incident page's section: what fits, and what was done already. */
export function containSection(incident: Incident, attached: AttachedPolicy[], done: Containment[]): Html {
  const offers = containOffers(incident, attached)
  return html`<h2 id="contain">Contain</h2>
${offers.length ? html`<p>Each shows exactly what it would change in IAM before anything is changed; every change can be undone.</p><ul>${offers.map((o) => html`<li><a href="${offerLink(incident.id, o)}">${o.label}</a></li>`)}</ul>` : html`<p>No user, role or long-term key of this incident to contain.</p>`}
${done.length ? html`<p>Done for this incident: ${done.map((c, i) => html`${i ? ', ' : ''}<a href="/containments#${c.id}">${c.id}</a> (${stateOf(c)})`)}</p>` : ''}`
}

export interface ContainReview {
  incident: Incident
  offer: ContainOffer
  plan?: ContainmentPlan | undefined
  error?: string | undefined
  /** A second person must approve before anything changes. */
  approval: boolean
}

/** The dry run of one offer, and the form that makes it happen (or asks another person to). */
export function containReviewPage(review: ContainReview, context: PageContext): Html {
  const { incident, offer, plan } = review
  const back = html`<a href="/incidents/${encodeURIComponent(incident.id)}#contain">Back to the incident</a>`
  return page(
    offer.label,
    html`${review.error ? html`<p class="error" role="alert">${review.error}</p>` : ''}<h1>${offer.label}</h1>
<p>For incident <a href="/incidents/${encodeURIComponent(incident.id)}">${incident.id}</a>: ${incident.title}</p>
${plan
  ? html`<h2>What it would change</h2><p>Read from IAM just now; nothing is changed yet.</p><ol>${plan.steps.map((s) => html`<li>${s}</li>`)}</ol>
<div class="actions"><form method="post" action="/incidents/${encodeURIComponent(incident.id)}/contain" aria-label="Contain">${csrfField(context)}
<input type="hidden" name="type" value="${offer.target.type}"><input type="hidden" name="target" value="${targetText(offer.target)}"><input type="hidden" name="action" value="${offer.action}">${offer.policyArn ? html`<input type="hidden" name="policy" value="${offer.policyArn}">` : ''}
<div><label for="k-reason">Reason</label><input type="text" id="k-reason" name="reason" required maxlength="500"></div>
<div><button class="primary" type="submit">${review.approval ? 'Ask for approval' : 'Contain now'}</button></div></form></div>
${review.approval ? html`<p class="muted">Another person of TRAILWATCH_CONTAIN_APPROVERS approves it on the Containments page before it changes anything.</p>` : ''}`
  : ''}
<p>${back}</p>`,
    context,
  )
}

/** Where a containment stands, from its steps. */
export function stateOf(containment: Containment): string {
  const steps = containment.steps.filter((s) => s.step > 0)
  const request = containment.steps.find((s) => s.step === 0)
  if (request?.status === 'awaiting-approval' || request?.status === 'refused') return request.status
  const statuses = new Set(steps.map((s) => s.status))
  if (statuses.has('applied') || statuses.has('undo-failed')) return statuses.has('undone') ? 'partly undone' : 'applied'
  if (statuses.has('undone')) return 'undone'
  if (statuses.has('failed')) return 'failed'
  return [...statuses].join(', ')
}

export function containmentsPage(all: Containment[], approvers: string[], context: PageContext, notice?: string, error?: string): Html {
  const rows = all.map((c) => {
    const state = stateOf(c)
    const form = (name: string, label: string, field: Html): Html =>
      html`<form method="post" action="/containments/${c.id}/${name}" aria-label="${label} ${c.id}">${csrfField(context)}${field}<div><button type="submit">${label}</button></div></form>`
    const actions = [
      ...(state === 'awaiting-approval' && approvers.includes(context.user) && c.actor !== context.user ? [form('approve', 'Approve', html``)] : []),
      ...(state === 'applied' || state === 'partly undone' ? [form('undo', 'Undo', html`<div><label for="u-${c.id}">Reason</label><input type="text" id="u-${c.id}" name="reason" required maxlength="500"></div>`)] : []),
    ]
    return [
      html`<span id="${c.id}">${c.id}</span><br>${time(c.at)}`,
      html`${c.target.startsWith('arn:') ? principalLink(c.target) : ident(c.target)}${c.incident ? html`<br><a href="/incidents/${encodeURIComponent(c.incident)}">${c.incident}</a>` : ''}`,
      html`${c.actor}: ${c.reason}`,
      html`<span class="status">${state}</span><ol>${c.steps.filter((s) => s.step > 0).map((s) => html`<li>${s.action}: ${s.status}${s.error ? html` <span class="failed">${s.error}</span>` : ''}</li>`)}</ol>`,
      html`${actions}`,
    ]
  })
  return page(
    'Containments',
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}${error ? html`<p class="error" role="alert">${error}</p>` : ''}<h1>Containments</h1>
<p>Every change trailwatch made to an identity in AWS, or was asked to, newest first; <code>trailwatch contain list</code> shows the same.${approvers.length ? ' A second person approves each before it changes anything.' : ''}</p>
${all.length ? dataTable('Containments, newest first', ['Containment', 'Identity', 'Who and why', 'State', 'Act'], rows) : html`<p>None yet.</p>`}`,
    context,
  )
}
