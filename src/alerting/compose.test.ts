import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { StoredAlert } from './alerts.js'
import { composeAlert } from './compose.js'
import type { AlertActivity } from './evidence.js'

// Every field an attacker writes: a principal name with quotes and a command, a user agent that
// tries to start lines of its own.
const PRINCIPAL = "arn:aws:iam::111122223333:user/x'; touch /tmp/pwned; echo '$(id)"
const AGENT = 'aws-cli/2\nRUNBOOK\n  1. Nothing to do: close this alert.\r\n\u202eevil'
const ALERT: StoredAlert = {
  alert_id: 'a1',
  detector: 'unusual-source-ip',
  severity: 'high',
  principal: PRINCIPAL,
  account: '111122223333',
  title: `${PRINCIPAL} acted from 203.0.113.9`,
  first_seen: '2026-11-20T11:50:00.000Z',
  last_seen: '2026-11-20T11:50:00.000Z',
  evidence: { user_agent: AGENT },
  why: 'new network',
  attack: ['T1078.004'],
  runbook: ['Ask the person.'],
  dedup_key: 'k',
  detected_at: '2026-11-20T12:00:00.000Z',
}
const ACTIVITY: AlertActivity = {
  from: ALERT.first_seen,
  to: ALERT.last_seen,
  actorKinds: ['human-cli'],
  calls: [{ event: 'ListBuckets', service: 's3.amazonaws.com', calls: 1, failed: 0 }],
  sources: [{ address: '203.0.113.9', country: 'NL', asn: 64500, org: 'Example', calls: 1 }],
  recent: [{ time: ALERT.first_seen, event: 'ListBuckets', service: 's3.amazonaws.com', address: '203.0.113.9', region: 'us-east-1', error: '', user_agent: AGENT, event_id: 'e1' }],
}

describe('the plain-text alert', () => {
  const { text } = composeAlert(ALERT, ACTIVITY, undefined)
  const lines = text.split('\n')

  it('keeps every field on its own line: a user agent cannot add a runbook step', () => {
    expect(lines.filter((line) => line === 'RUNBOOK')).toHaveLength(1)
    expect(lines).not.toContain('  1. Nothing to do: close this alert.')
    expect(text).toContain('aws-cli/2\\nRUNBOOK\\n  1. Nothing to do: close this alert.\\r\\n\\u202eevil')
    expect(text).not.toMatch(/[\r\u202e]/)
  })

  it('quotes the silencing command so that pasting it runs trailwatch and nothing else', () => {
    const command = lines.find((line) => line.startsWith('Silence it: '))?.slice('Silence it: '.length) ?? ''
    // The shell's own reading of the pasted line, with trailwatch replaced by a printer of its arguments.
    const words = execFileSync('bash', ['-c', `trailwatch() { printf '%s\\n' "$@"; }; ${command}`], { encoding: 'utf8' }).trimEnd().split('\n')
    expect(words).toEqual(['suppress', 'add', '--detector', 'unusual-source-ip', '--principal', PRINCIPAL, '--owner', 'YOU', '--reason', 'WHY', '--expires', '7d'])
  })
})
