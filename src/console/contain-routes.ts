import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import { CONTAIN_ACTIONS } from '../contain/changes.js'
import { applyContainment, approveContainment, listContainments, planContainment, requestContainment, undoContainment } from '../contain/contain.js'
import { AppError } from '../errors.js'
import { incidentById, type Incident } from '../incidents/incidents.js'
import { HttpError } from '../ops/server.js'
import { containmentsPage, containOffers, containReviewPage, policiesAttached, type ContainOffer } from './contain-page.js'
import { triggerEvents } from '../incidents/triggers.js'
import { formField, sendPage, type ConsoleScope } from './scope.js'
import { incidentId, pageContext, query, user } from './routes.js'

type Request = FastifyRequest<{ Params: { id: string } }>
const CONTAINMENT_ID = /^ctn-[0-9a-f]{12}$/
const DONE: Record<string, string> = {
  applied: 'Contained: undo it here once the incident is over.',
  asked: 'Asked: another approver approves it here before anything changes.',
  approved: 'Approved and applied.',
  undone: 'Undone: IAM is as it was before.',
}

/** The offer a request names, among those that fit the incident: nothing else may be contained from its page. */
async function chosenOffer(scope: ConsoleScope, incident: Incident, fields: (name: string) => string): Promise<ContainOffer> {
  const attached = policiesAttached(incident, await triggerEvents(scope.store, incident.members.map((m) => m.alert), 50))
  const offer = containOffers(incident, attached).find(
    (o) => o.target.type === fields('type') && o.action === fields('action') && (o.target.type === 'key' ? o.target.key : o.target.arn) === fields('target') && (o.policyArn ?? '') === fields('policy'),
  )
  if (!offer || !(CONTAIN_ACTIONS as readonly string[]).includes(fields('action'))) throw new HttpError(404, `That containment does not fit incident ${incident.id}.`)
  return offer
}

/** An AppError on the page as a message: a refusal (400) or AWS failing (502); anything else is the server's. */
function statusOf(err: unknown): number {
  if (!(err instanceof AppError)) throw err
  return err.code === 'AWS' ? 502 : 400
}

async function containmentsView(scope: ConsoleScope, request: FastifyRequest, reply: FastifyReply, status: number, notice?: string, error?: string): Promise<FastifyReply> {
  return sendPage(reply, status, containmentsPage(await listContainments(scope.store), scope.contain.approvers, pageContext(request, reply, scope), notice, error))
}

/** Containment from an incident: review (a dry run), then contain or ask for approval; approve and undo on the Containments page. */
export function containRoutes(app: FastifyInstance, scope: ConsoleScope, guards: preHandlerHookHandler[]): void {
  const approval = scope.contain.approvers.length > 0
  app.get('/incidents/:id/contain', async (request: Request, reply) => {
    const incident = await incidentById(scope.store, incidentId(request))
    const params = query(request)
    const offer = await chosenOffer(scope, incident, (name) => params.get(name) ?? '')
    try {
      const plan = await planContainment(scope.store, scope.contain, { target: offer.target, actions: [offer.action], policyArn: offer.policyArn, actor: user(request), reason: '' }, scope.clock())
      return await sendPage(reply, 200, containReviewPage({ incident, offer, plan, approval }, pageContext(request, reply, scope)))
    } catch (err) {
      return sendPage(reply, statusOf(err), containReviewPage({ incident, offer, approval, error: (err as Error).message }, pageContext(request, reply, scope)))
    }
  })
  app.post('/incidents/:id/contain', { preHandler: guards }, async (request: Request, reply) => {
    const incident = await incidentById(scope.store, incidentId(request))
    const offer = await chosenOffer(scope, incident, (name) => formField(request.body, name))
    const now = scope.clock()
    const asked = { target: offer.target, actions: [offer.action], policyArn: offer.policyArn, actor: user(request), reason: formField(request.body, 'reason'), incident: incident.id }
    try {
      const id = approval ? (await requestContainment(scope.store, scope.contain, asked, now)).id : (await applyContainment(scope.store, scope.contain, asked, now)).id
      const done = approval ? 'asked' : 'applied'
      await scope.audit(request, user(request), approval ? 'asked to contain' : 'contained', id, `${offer.label}: ${asked.reason.trim()}`)
      return await reply.redirect(`/containments?done=${done}#${id}`, 303)
    } catch (err) {
      const status = statusOf(err)
      await scope.audit(request, user(request), 'containment failed', incident.id, `${offer.label}: ${(err as Error).message}`)
      return sendPage(reply, status, containReviewPage({ incident, offer, approval, error: (err as Error).message }, pageContext(request, reply, scope)))
    }
  })
  app.get('/containments', (request, reply) => containmentsView(scope, request, reply, 200, DONE[query(request).get('done') ?? '']))
  app.post('/containments/:id/:action', { preHandler: guards }, async (request: FastifyRequest<{ Params: { id: string; action: string } }>, reply) => {
    const { id, action } = request.params
    if (!CONTAINMENT_ID.test(id) || (action !== 'approve' && action !== 'undo')) throw new HttpError(404, `There is no page ${request.url}.`)
    const now = scope.clock()
    try {
      if (action === 'approve') await approveContainment(scope.store, scope.contain, id, user(request), now)
      else await undoContainment(scope.store, scope.contain, id, user(request), formField(request.body, 'reason'), now)
      await scope.audit(request, user(request), action === 'approve' ? 'approved containment' : 'undid containment', id, formField(request.body, 'reason').trim())
      return await reply.redirect(`/containments?done=${action === 'approve' ? 'approved' : 'undone'}#${id}`, 303)
    } catch (err) {
      return containmentsView(scope, request, reply, statusOf(err), undefined, (err as Error).message)
    }
  })
}
