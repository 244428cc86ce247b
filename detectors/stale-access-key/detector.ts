import { z } from 'zod'
import { ACCESS_KEY_INVENTORY, InventoryRow, keyAge } from '../../src/reports/access-keys.js'
import { defineDetector, type Severity } from '../define.js'

const Config = z.object({
  /** CIS AWS 1.14 / Security Hub IAM.3. */
  rotationDays: z.number().int().positive().default(90),
  /** Security Hub IAM.22. */
  unusedDays: z.number().int().positive().default(45),
  /** A key never used is worth a look once it is this old. */
  neverUsedGraceDays: z.number().int().nonnegative().default(7),
})

export default defineDetector({
  id: 'stale-access-key',
  title: 'Active access key past its rotation or unused limits',
  severity: 'medium',
  schedule: '0 6 * * *',
  window: '1d',
  lookback: '400d',
  attack: ['T1078.004', 'T1098.001'],
  runbook: [
    'Ask the owner whether the key is still needed; a key nobody claims is deactivated first, deleted a week later.',
    'Rotate: create the new key, move every user of the old one, watch the old key unused in trailwatch, then delete it.',
    'A root access key: delete it now; root needs none.',
  ],
  config: Config,
  sql: `SELECT * FROM (${ACCESS_KEY_INVENTORY}) WHERE active ORDER BY account_id, user, slot, key`,
  row: InventoryRow,
  toFinding: (r, config, { now }) => {
    const { createdMs, lastUsedMs, ageDays, idleDays, root } = keyAge(r, now)
    const problems: string[] = []
    let severity: Severity = 'info'
    if (root) {
      problems.push('a root access key exists')
      severity = 'critical'
    }
    if (ageDays !== undefined && ageDays > config.rotationDays) {
      problems.push(`${ageDays} days old (rotation limit ${config.rotationDays})`)
      if (severity !== 'critical') severity = 'medium'
    }
    if (idleDays !== undefined && idleDays >= config.unusedDays) {
      problems.push(`unused for ${idleDays} days (limit ${config.unusedDays})`)
      if (severity !== 'critical') severity = 'medium'
    }
    if (idleDays === undefined && ageDays !== undefined && ageDays >= config.neverUsedGraceDays) {
      problems.push(`never used in its ${ageDays} days`)
      if (severity === 'info') severity = 'low'
    }
    if (problems.length === 0) return null
    const keyName = r.key || `in slot ${String(r.slot)}`
    const principal = r.arn || `arn:aws:iam::${r.account_id}:user/${r.user}`
    return {
      severity,
      principal,
      account: r.account_id,
      title: `Access key ${keyName} of ${root ? 'the root user' : r.user}: ${problems.join('; ')}`,
      firstSeen: new Date(createdMs ?? lastUsedMs ?? now.getTime()).toISOString(),
      // The key's own last sign of life, not the run's time: finding it again each day is not new activity.
      lastSeen: new Date(lastUsedMs ?? createdMs ?? now.getTime()).toISOString(),
      evidence: {
        user: r.user,
        access_key_id: r.key || null,
        slot: r.slot || null,
        created: createdMs === undefined ? null : new Date(createdMs).toISOString(),
        age_days: ageDays ?? null,
        last_used: lastUsedMs === undefined ? null : new Date(lastUsedMs).toISOString(),
        days_unused: idleDays ?? null,
        last_address: r.last_source || null,
        last_region: r.last_region || null,
        last_service: r.last_service || null,
        known_from: r.source,
      },
      why: `Keys are rotated within ${String(config.rotationDays)} days and removed after ${String(config.unusedDays)} unused (CIS 1.14, Security Hub IAM.3 and IAM.22): ${problems.join('; ')}.`,
      dedupKey: `${r.account_id}|${r.user}|${r.key || `key ${String(r.slot)}`}`,
    }
  },
})
