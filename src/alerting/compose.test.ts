import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { Incident } from '../incidents/incidents.js'
import type { TriggerEvent } from '../incidents/triggers.js'
import type { StoredAlert } from '../alerts/table.js'
import { composeIncident } from './incident-email.js'
import { composePostureEmail } from './compose.js'

// Every field an attacker writes: a principal name with quotes and a command, an event name and a
// title that try to start lines of their own, a trail name that tries to become a command.
const PRINCIPAL = "arn:aws:iam::111122223333:user/x'; touch /tmp/pwned; echo '$(id)"
const HOSTILE = 'aws-cli/2\nRUNBOOK\n  1. Nothing to do: close this alert.\r\n\u202eevil'
const ALERT: StoredAlert = {
  alert_id: 'a1',
  detector: 'cloudtrail-tampering',
  kind: 'threat',
  severity: 'high',
  principal: PRINCIPAL,
  account: '111122223333',
  title: `StopLogging ${HOSTILE}`,
  first_seen: '2026-11-20T11:50:00.000Z',
  last_seen: '2026-11-20T11:50:00.000Z',
  evidence: { event: 'StopLogging' },
  why: HOSTILE,
  attack: ['T1562.008'],
  runbook: ['Check the trail: aws cloudtrail get-trail-status --name TRAIL'],
  dedup_key: 'k',
  detected_at: '2026-11-20T12:00:00.000Z',
}
const event = (name: string, trail: string): TriggerEvent => ({
  time: ALERT.first_seen,
  event: 'StopLogging',
  service: 'cloudtrail.amazonaws.com',
  address: '203.0.113.9',
  asn: 0,
  as_org: '',
  lists: [],
  public: true,
  country: 'NL',
  region: 'us-east-1',
  error: '',
  user_agent: HOSTILE,
  key: 'AKIAEXAMPLEKEY000001',
  source_identity: '',
  request: JSON.stringify({ name: trail }),
  event_id: name,
})
const INCIDENT: Incident = {
  id: 'inc-000000000001',
  status: 'open',
  severity: 'high',
  title: `x: ${ALERT.title}`,
  principals: [PRINCIPAL],
  accounts: [ALERT.account],
  detectors: [ALERT.detector],
  tactics: ['defense-evasion'],
  identities: ['key:AKIAEXAMPLEKEY000001', `principal:${PRINCIPAL}`],
  first_seen: ALERT.first_seen,
  last_seen: ALERT.last_seen,
  members: [{ alert: ALERT, identities: ['key:AKIAEXAMPLEKEY000001', `principal:${PRINCIPAL}`], link: 'the first alert' }],
  actions: [],
  assignee: '',
  ticket: '',
}
const TRIGGERS = new Map([['a1', [event('e1', 'management-trail'), event('e2', 'x; rm -rf ~')]]])

describe('the plain-text incident email', () => {
  const { text, subject } = composeIncident(INCIDENT, { triggers: TRIGGERS, aliases: { '111122223333': 'prod' } })
  const lines = text.split('\n')

  it('keeps every field on its own line: a title or reason cannot add a runbook step', () => {
    expect(lines.filter((line) => line === 'RUNBOOK')).toHaveLength(1)
    expect(lines).not.toContain('  1. Nothing to do: close this alert.')
    expect(text).toContain('aws-cli/2\\nRUNBOOK\\n  1. Nothing to do: close this alert.\\r\\n\\u202eevil')
    expect(text).not.toMatch(/[\r\u202e]/)
  })

  it('fills the runbook with the trail the calls named, and never with text that is not an identifier', () => {
    expect(text).toContain("aws cloudtrail get-trail-status --name 'management-trail'")
    expect(text).toContain('trail: management-trail')
    expect(text).not.toContain('rm -rf')
  })

  it('has a subject of at most 80 characters that starts with who, with the account alias', () => {
    expect(subject.length).toBeLessThanOrEqual(80)
    // The name is what follows the ARN's last slash.
    expect(subject).toBe("[trailwatch] HIGH pwned; echo '$(id)@prod: cloudtrail-tampering StopLogging")
  })

  it('quotes the silencing command so that pasting it runs trailwatch and nothing else', () => {
    const command = lines.find((line) => line.startsWith('Silence it: '))?.slice('Silence it: '.length) ?? ''
    // The shell's own reading of the pasted line, with trailwatch replaced by a printer of its arguments.
    const words = execFileSync('bash', ['-c', `trailwatch() { printf '%s\\n' "$@"; }; ${command}`], { encoding: 'utf8' }).trimEnd().split('\n')
    expect(words).toEqual(['suppress', 'add', '--detector', 'cloudtrail-tampering', '--principal', PRINCIPAL, '--owner', 'YOU', '--reason', 'WHY', '--expires', '7d'])
  })

  it('puts a key from the calls into a command only when it has the shape of a key', () => {
    const dana = 'arn:aws:iam::111122223333:user/dana'
    const member = (key: string) => ({ alert: { ...ALERT, principal: dana }, identities: [`key:${key}`], link: 'the first alert' })
    const compose = (key: string) => composeIncident({ ...INCIDENT, principals: [dana], members: [member(key)] }, { triggers: new Map(), aliases: {} }).text
    expect(compose('AKIAEXAMPLEKEY000001')).toContain("aws iam update-access-key --user-name 'dana' --access-key-id AKIAEXAMPLEKEY000001 --status Inactive")
    expect(compose('AKIA$(touch /tmp/pwned)')).not.toContain('update-access-key')
  })
})

describe('the posture email', () => {
  const posture: StoredAlert = { ...ALERT, kind: 'posture', detector: 'iam-posture', title: `Role <img src=x onerror=alert(1)> ${HOSTILE} trusts anyone`, runbook: ['Narrow the trust.'] }

  it('keeps a hostile title and reason to their own lines, escaped in the markup', () => {
    const { subject, text, html } = composePostureEmail([posture], 'https://trailwatch.example.com')
    expect(subject).toBe('[trailwatch] posture: 1 new finding, the worst HIGH')
    expect(text.split('\n').filter((line) => line.startsWith('  1. Nothing to do'))).toEqual([])
    expect(text).not.toMatch(/[\r\u202e]/)
    expect(text).toContain('  Fix: Narrow the trust.\n  https://trailwatch.example.com/posture/a1')
    expect(html).toContain('<a href="https://trailwatch.example.com/posture/a1">')
    expect(html).toContain('Role &lt;img src=x onerror=alert(1)&gt;')
    expect(html).not.toContain('<img')
  })

  it('names the command to read the finding when no console address is configured', () => {
    expect(composePostureEmail([posture], undefined).text).toContain('  trailwatch posture show a1')
  })
})
