import { describe, expect, it } from 'vitest'
import type { StoredAlert } from '../alerts/table.js'
import type { Incident } from '../incidents/incidents.js'
import type { TriggerEvent } from '../incidents/triggers.js'
import { containOffers, policiesAttached } from './contain-page.js'

const ACCOUNT = '111122223333'
const DANA = `arn:aws:iam::${ACCOUNT}:user/dana`
const alert: StoredAlert = {
  alert_id: 'a1', detector: 'iam-privilege-escalation', kind: 'threat', severity: 'high', principal: DANA, account: ACCOUNT, title: 't',
  first_seen: '2026-11-20T11:50:00.000Z', last_seen: '2026-11-20T11:55:00.000Z', evidence: {}, why: '', attack: [], runbook: [], dedup_key: 'k', detected_at: '2026-11-20T12:00:00.000Z',
}
const incident: Incident = {
  id: 'inc-000000000001', status: 'open', severity: 'high', title: 't', principals: [DANA, '444455556666', `arn:aws:iam::${ACCOUNT}:root`], accounts: [ACCOUNT], detectors: [alert.detector], tactics: [],
  identities: ['key:AKIAEXAMPLEKEY000001', 'key:ASIAEXAMPLESESSION01', `principal:${DANA}`], first_seen: alert.first_seen, last_seen: alert.last_seen,
  members: [{ alert, identities: [], link: '' }], actions: [], assignee: '', ticket: '',
}
const call = (event: string, request: object | string, error = ''): TriggerEvent => ({
  time: alert.first_seen, event, service: 'iam.amazonaws.com', address: '203.0.113.9', public: true, country: 'NL', asn: 0, as_org: '', lists: [], region: 'us-east-1', error,
  user_agent: '', key: 'AKIAEXAMPLEKEY000001', source_identity: '', request: typeof request === 'string' ? request : JSON.stringify(request), event_id: event,
})

describe('what containment an incident offers', () => {
  it('detaches the managed policies its calls attached, once each, and nothing an attacker wrote into a request', () => {
    const calls = new Map([
      [
        'a1',
        [
          call('AttachRolePolicy', { roleName: 'app-runtime', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }),
          call('AttachRolePolicy', { roleName: 'app-runtime', policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }),
          call('AttachUserPolicy', { userName: 'dana', policyArn: `arn:aws:iam::${ACCOUNT}:policy/escalate` }, 'AccessDenied'),
          call('AttachUserPolicy', { userName: 'dana/../root', policyArn: `arn:aws:iam::${ACCOUNT}:policy/escalate` }),
          call('AttachUserPolicy', { userName: 'dana', policyArn: '*' }),
          call('AttachUserPolicy', '{not json'),
        ],
      ],
    ])
    expect(policiesAttached(incident, calls)).toEqual([{ principal: `arn:aws:iam::${ACCOUNT}:role/app-runtime`, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }])
  })

  it('offers the long-term keys and the users and roles, never a temporary key, an account or root', () => {
    expect(containOffers(incident, []).map((o) => o.label)).toEqual([
      'Deactivate key AKIAEXAMPLEKEY000001',
      'Revoke the sessions of dana issued before now',
      'Quarantine dana: deny every action',
      'Remove the console password of dana',
    ])
  })
})
