import { ACCESS_KEY_INVENTORY, InventoryRow } from '../../src/credentials/inventory.js'
import { CredentialLimits, keyStanding } from '../../src/credentials/standing.js'
import { defineDetector } from '../define.js'

export default defineDetector({
  id: 'stale-access-key',
  kind: 'posture',
  title: 'Active access key past its rotation or unused limits',
  severity: 'medium',
  schedule: '0 6 * * *',
  window: '1d',
  lookback: '400d',
  attack: ['T1078.004', 'T1098.001'],
  runbook: [
    '[user-key,user] Ask the owner whether the key is still needed; a key nobody claims is deactivated first, deleted a week later.',
    '[user-key,user] Rotate: create the new key, move every user of the old one, watch the old key unused in trailwatch, then delete it.',
    '[root] Delete the root access key now: root needs none, and no policy can limit what it does.',
  ],
  config: CredentialLimits,
  sql: `SELECT * FROM (${ACCESS_KEY_INVENTORY}) WHERE active ORDER BY account_id, user, slot, key`,
  row: InventoryRow,
  toFinding: (r, config, { now }) => {
    const { createdMs, lastUsedMs, ageDays, idleDays, root, problems, severity } = keyStanding(r, now, config)
    if (!severity) return null
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
