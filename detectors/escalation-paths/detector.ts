import { z } from 'zod'
import { cutText, identityLabel, pathText } from '../../src/iam/paths.js'
import { conditionsOf, ESCALATION_DETECTOR, REACHING_SQL, ReachingRow, reachFromRow, reachVerdict } from '../../src/iam/reach.js'
import { plural } from '../../src/text.js'
import { defineDetector, type FindingDraft } from '../define.js'

/**
 * Who can become administrator without being one, from the paths `trailwatch import iam` computes
 * over the organisation's latest snapshots (trailwatch paths shows them): each such identity, and
 * a path that appeared since the computation before. A path that depends on conditions a snapshot
 * cannot judge (MFA, a source address, a tag) is one level lower and names them.
 */
export default defineDetector({
  id: ESCALATION_DETECTOR,
  kind: 'posture',
  title: 'An identity can become administrator',
  severity: 'high',
  schedule: '25 * * * *',
  window: '1d',
  lookback: '1d',
  attack: ['T1098', 'T1078.004', 'T1548'],
  runbook: [
    'Read the path (trailwatch paths ARN): is every step something this identity needs?',
    'Take away the smallest cut the finding names: remove or narrow the statements it lists (a PassRole to named roles, a resource limited to its own user).',
    'Import the next snapshot: the finding is fixed when no path is left.',
  ],
  config: z.object({}),
  sql: REACHING_SQL,
  row: ReachingRow,
  toFinding: (row) => {
    const reach = reachFromRow(row)
    const { path, cut } = reach
    const verdict = reachVerdict(reach)
    const who = identityLabel(row.principal)
    const steps = plural(path.steps.length, 'step')
    const conditions = conditionsOf(path)
    const because = `${pathText(path)}.${conditions.length ? ` It depends on: ${conditions.join('; ')}.` : ''} ${cut ? `The smallest change that cuts every path: take away ${cutText(cut)}.` : 'There are too many separate paths to name one change that cuts them all: start with the first step above.'}`
    const evidence = { check: 'escalation-path', steps: path.steps.length, path: path.steps, cut: cut ?? null, conditions, computed: row.as_of }
    const standing: FindingDraft = {
      severity: verdict.severity,
      principal: row.principal,
      account: row.account_id,
      title: verdict.title,
      firstSeen: row.since,
      lastSeen: row.since,
      evidence,
      why: because,
      dedupKey: `escalation-path|${row.principal}`,
    }
    if (!row.appeared) return standing
    return [
      standing,
      { ...standing, severity: 'high', title: `A new path to administrator: ${who} can become administrator in ${steps}`, firstSeen: row.as_of, lastSeen: row.as_of, evidence: { ...evidence, check: 'new-escalation-path' }, why: `It could not in the paths computed before. ${because}`, dedupKey: `new-escalation-path|${row.principal}|${row.as_of}` },
    ]
  },
})
