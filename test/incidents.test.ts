import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runDetector } from '../detectors/engine.js'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { backfill } from '../ingest/backfill.js'
import { correlateIncidents, incidentById, incidentJson, listIncidents, noteIncident, type Incident } from '../src/incidents/incidents.js'
import { buildTimeline } from '../src/incidents/timeline.js'
import { INVICTUS } from './helpers/datasets.js'
import { testSettings } from './helpers/detect.js'
import { openTestStore, recordAt, testLogger, type TestStore } from './helpers/store.js'

// What `trailwatch run` runs with nothing configured: the detectors and the built-in rules.
const RUNNING = [...DETECTORS, ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector)]
const NOW = new Date('2023-07-10T12:40:00Z')
const ACCOUNT = '123837392027'
const BERT_JAN = `arn:aws:iam::${ACCOUNT}:user/bert-jan`
const BERT_JANS_KEY = 'AKIATFQR7NSC8Q4X20BJ'

let store: TestStore
let incidents: Incident[]
beforeAll(async () => {
  store = await openTestStore()
  await backfill(store, [INVICTUS], { maxBatch: 10_000, maxRecordBytes: 1 << 20, logger: testLogger })
  const findings = await Promise.all(RUNNING.map((d) => runDetector(store, d, { from: new Date('2023-07-10T11:00:00Z'), now: NOW }, testSettings())))
  await recordAt(store, findings.flat(), NOW)
  incidents = await listIncidents(store, { from: new Date('2023-07-10T00:00:00Z'), to: NOW })
}, 120_000)
afterAll(async () => {
  await store.close()
})

describe('invictus-ir aws_dataset at 2023-07-10T12:40Z: bert-jan’s hour', () => {
  it('is one incident of every alert, critical, across the tactics he went through', () => {
    expect(incidents).toHaveLength(1)
    const [incident] = incidents as [Incident]
    // The 34 findings the threat-dataset test lists one by one.
    expect(incident.members).toHaveLength(34)
    expect(incident.severity).toBe('critical')
    expect(incident.tactics).toEqual(['credential-access', 'defense-evasion', 'discovery', 'execution', 'exfiltration', 'impact', 'initial-access', 'persistence'])
    expect(incident.id).toMatch(/^inc-[0-9a-f]{12}$/)
  })

  it('says why each member belongs: his key, the sessions his AssumeRole calls opened, the user he created', () => {
    const [incident] = incidents as [Incident]
    const why = new Map<string, Set<string>>()
    for (const member of incident.members) {
      const link = member.link.replace(/ at 2023-07-10 \d\d:\d\d:\d\d UTC$/, '').replace(/ASIA\w+/, 'ASIA…')
      why.set(member.alert.principal.split(':').pop() ?? '', (why.get(member.alert.principal.split(':').pop() ?? '') ?? new Set()).add(link))
    }
    expect(Object.fromEntries([...why].map(([principal, links]) => [principal, [...links].sort()]))).toEqual({
      // His own calls, all with his long-term key; the earliest alert opened the incident.
      'user/bert-jan': ['same access key AKIATFQR7NSC8Q4X20BJ', 'the first alert'],
      // Roles Stratus created with his key and then assumed with it: each session's key is the one his AssumeRole returned.
      'role/stratus-red-team-ec2-get-password-data-role': ['access key ASIA…, from AssumeRole by bert-jan', 'same access key ASIA…'],
      'role/stratus-red-team-get-usr-data-role': ['access key ASIA…, from AssumeRole by bert-jan', 'same access key ASIA…'],
      'role/stratus-red-team-leave-org-role': ['access key ASIA…, from AssumeRole by bert-jan'],
      'role/stratus-red-team-ec2lui-role-pcccexdthk': ['access key ASIA…, from AssumeRole by bert-jan'],
      // The user he created, then signed in as without MFA.
      'user/stratus-red-team-nmfalu-gfjyeaypjt': ['user stratus-red-team-nmfalu-gfjyeaypjt in account 123837392027, from CreateUser by bert-jan'],
    })
    expect(incident.members.find((m) => m.link === 'the first alert')?.alert.principal).toBe(BERT_JAN)
  })

  it('is stable: a second pass joins nothing and opens nothing', async () => {
    expect(await correlateIncidents(store, NOW)).toEqual({ joined: 0, opened: [], merged: [] })
    expect((await listIncidents(store, { from: new Date('2023-07-10T00:00:00Z'), to: NOW })).map((i) => i.id)).toEqual(incidents.map((i) => i.id))
  })

  it('has a timeline of his key that follows the sessions it opened, marks what was new, and places the alerts', async () => {
    const timeline = await buildTimeline(store, { principals: [], keys: [BERT_JANS_KEY], addresses: [] }, { from: new Date('2023-07-10T11:00:00Z'), to: NOW })
    const calls = timeline.entries.filter((e) => e.type === 'call')
    const principals = new Set(calls.map((c) => c.principal))
    expect(principals.has(BERT_JAN)).toBe(true)
    expect(principals.has(`arn:aws:iam::${ACCOUNT}:role/stratus-red-team-ec2-get-password-data-role`)).toBe(true)
    const issued = calls.filter((c) => c.event === 'AssumeRole' && c.hop).map((c) => c.hop.slice('issued '.length))
    expect(issued.length).toBeGreaterThanOrEqual(4)
    expect(issued.every((key) => key.startsWith('ASIA'))).toBe(true)
    // The sessions' own calls are in the timeline, under the keys his calls were issued.
    expect(calls.filter((c) => issued.includes(c.key)).length).toBeGreaterThan(0)
    // Nothing before the capture: his first DeleteTrail is a new API for him.
    expect(calls.find((c) => c.event === 'DeleteTrail' && c.principal === BERT_JAN)?.new).toContain('new API')
    expect(timeline.entries.filter((e) => e.type === 'alert').length).toBeGreaterThanOrEqual(20)
    const times = timeline.entries.map((e) => e.time)
    expect(times).toEqual([...times].sort())
  })
})

describe('the case of bert-jan’s incident', () => {
  it('keeps who has it, the ticket and the comments in its log, each with who and when, and refuses what is not one', async () => {
    const [incident] = incidents as [Incident]
    const at = (minute: number) => new Date(Date.UTC(2023, 6, 10, 13, minute))
    await noteIncident(store, incident.id, 'assigned', 'carol', 'dave', at(0))
    await noteIncident(store, incident.id, 'ticket', 'dave', ' https://tracker.example.com/SEC-42 ', at(1))
    await noteIncident(store, incident.id, 'commented', 'dave', 'The trails are back; the key is deactivated.', at(2))
    const noted = await incidentById(store, incident.id)
    expect([noted.assignee, noted.ticket, noted.status]).toEqual(['dave', 'https://tracker.example.com/SEC-42', 'open'])
    expect(noted.actions.slice(-3).map((a) => [a.action, a.actor, a.reason, a.at])).toEqual([
      ['assigned', 'carol', 'dave', at(0).toISOString()],
      ['ticket', 'dave', 'https://tracker.example.com/SEC-42', at(1).toISOString()],
      ['commented', 'dave', 'The trails are back; the key is deactivated.', at(2).toISOString()],
    ])
    expect(incidentJson(noted)).toMatchObject({ assignee: 'dave', ticket: 'https://tracker.example.com/SEC-42' })

    await expect(noteIncident(store, incident.id, 'ticket', 'dave', 'javascript:alert(1)', at(3))).rejects.toThrow('a ticket is an http(s) address')
    await expect(noteIncident(store, incident.id, 'commented', 'dave', '   ', at(3))).rejects.toThrow('a comment must say something')
    await expect(noteIncident(store, incident.id, 'assigned', 'dave', 'x'.repeat(129), at(3))).rejects.toThrow('at most 128 characters')
    await expect(noteIncident(store, 'inc-000000000000', 'assigned', 'dave', 'erin', at(3))).rejects.toThrow('no incident inc-000000000000')
    // An empty name unassigns; nothing refused was kept.
    await noteIncident(store, incident.id, 'assigned', 'dave', '', at(4))
    const after = await incidentById(store, incident.id)
    expect([after.assignee, after.actions.length]).toEqual(['', noted.actions.length + 1])
  })
})
