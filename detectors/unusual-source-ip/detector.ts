import { z } from 'zod'
import { defineDetector, raise, type Severity } from '../define.js'
import { clickHouseTime, isoTime } from '../../src/time.js'

const AllowedCidr = z.object({
  cidr: z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'expected an address range such as 203.0.113.0/24'),
  owner: z.string().min(1),
  reason: z.string().min(1),
  /** An allowance ends: offices move, VPNs change. */
  expires: z.iso.datetime({ offset: true }),
})

const Config = z.object({
  /** A principal is judged only once its baseline spans this many days. */
  minHistoryDays: z.number().int().nonnegative().default(7),
  allowCidrs: z.array(AllowedCidr).default([]),
  /** Amazon's own networks: an instance-role session outside them is credential theft's signature. */
  awsAsns: z.array(z.number().int()).default([16509, 14618, 8987]),
})

const Row = z.object({
  account_id: z.string(),
  principal_arn: z.string(),
  ip: z.string(),
  asn: z.coerce.number(),
  country: z.string(),
  as_org: z.string(),
  first_seen: z.string(),
  last_seen: z.string(),
  calls: z.coerce.number(),
  sample_events: z.array(z.string()),
  long_term_key: z.coerce.number(),
  instance_session: z.coerce.number(),
  kind: z.string(),
  agent: z.string(),
  since: z.string(),
  known_asn: z.coerce.number(),
  known_country: z.coerce.number(),
  known_addresses: z.coerce.number(),
  known_countries: z.array(z.string()),
})

export default defineDetector({
  id: 'unusual-source-ip',
  title: 'Principal used a network it has never used before',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  lookback: '30d',
  attack: ['T1078.004', 'T1552.005'],
  runbook: [
    'Is the address a VPN, a new office egress, or travel? Ask the person, not the ticket.',
    'List every call from this address in the window: trailwatch query "SELECT event_time, event_name, error_code FROM events WHERE source_ip = \'ADDRESS\' ORDER BY event_time"',
    'For a long-term key or an instance role used outside AWS: deactivate the key or revoke the role sessions, then rotate.',
  ],
  config: Config,
  params: (config, context) => ({
    historyBefore: clickHouseTime(context.from.getTime() - config.minHistoryDays * 86_400_000),
    allowCidrs: config.allowCidrs.filter((c) => Date.parse(c.expires) > context.now.getTime()).map((c) => c.cidr),
  }),
  sql: `
    WITH
      recent AS (
        SELECT account_id, principal_arn, assumeNotNull(source_ip) AS ip,
               any(source_asn) AS asn, any(source_country) AS country, any(source_as_org) AS as_org,
               toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen,
               uniqExact(event_id) AS calls, groupUniqArray(5)(event_name) AS sample_events,
               max(access_key_kind = 'long-term') AS long_term_key,
               max(match(session_name, '^i-[0-9a-f]{8,17}$')) AS instance_session,
               any(actor_kind) AS kind, any(user_agent) AS agent
        FROM events
        WHERE event_time >= {from:DateTime64(3)} AND event_time < {now:DateTime64(3)}
          AND source_network = 'public' AND actor_kind != 'aws-service' AND principal_arn != ''
          AND NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure')
          AND NOT arrayExists(c -> isIPAddressInRange(assumeNotNull(source_ip), c), {allowCidrs:Array(String)})
        GROUP BY account_id, principal_arn, ip
      ),
      history AS (
        SELECT account_id, principal_arn, groupUniqArray(source_ip) AS ips, groupUniqArray(asn) AS asns,
               groupUniqArray(country) AS countries, min(ip_first_seen) AS since
        FROM (
          -- Only use before the window counts: on the window's own day, a day's first use stands in for its last.
          SELECT account_id, principal_arn, source_ip, any(source_asn) AS asn, any(source_country) AS country,
                 min(first_seen) AS ip_first_seen, max(if(last_seen < {from:DateTime64(3)}, last_seen, first_seen)) AS ip_last_seen
          FROM baseline_principal_source_days
          WHERE (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM recent)
            AND day <= toDate({from:DateTime64(3)}) AND first_seen < {from:DateTime64(3)}
          GROUP BY account_id, principal_arn, source_ip
          HAVING ip_last_seen >= {baselineFrom:DateTime64(3)}
        )
        GROUP BY account_id, principal_arn
      )
    SELECT r.*, toString(h.since) AS since, has(h.asns, r.asn) AS known_asn, has(h.countries, r.country) AS known_country,
           length(h.ips) AS known_addresses, h.countries AS known_countries
    FROM recent AS r
    INNER JOIN history AS h ON r.account_id = h.account_id AND r.principal_arn = h.principal_arn
    WHERE NOT has(h.ips, r.ip) AND h.since <= {historyBefore:DateTime64(3)}
    ORDER BY r.account_id, r.principal_arn, r.ip`,
  row: Row,
  toFinding: (r, config) => {
    let severity: Severity = r.known_asn ? 'low' : r.known_country ? 'medium' : 'high'
    const reasons = [
      r.known_asn ? `a new address on a network it uses (AS${r.asn} ${r.as_org})` : r.known_country ? `a network it has not used (AS${r.asn} ${r.as_org})` : `a country it has not acted from (${r.country || 'unknown'})`,
    ]
    if (r.long_term_key) {
      // A long-term key on a new network may be a leaked one; a new address from the usual ISP is a person's router.
      if (!r.known_asn) severity = raise(severity)
      reasons.push('with a long-term access key')
    }
    const outsideAws = r.instance_session && !config.awsAsns.includes(r.asn)
    if (outsideAws) {
      severity = severity === 'high' ? 'critical' : 'high'
      reasons.push('an EC2 instance-role session used outside AWS')
    }
    return {
      severity,
      principal: r.principal_arn,
      account: r.account_id,
      title: `${r.principal_arn} acted from ${r.ip} (${r.country || '??'}, AS${r.asn} ${r.as_org}): ${reasons.join(', ')}`,
      firstSeen: isoTime(r.first_seen),
      lastSeen: isoTime(r.last_seen),
      evidence: {
        address: r.ip,
        country: r.country,
        asn: r.asn,
        as_org: r.as_org,
        calls: r.calls,
        events: r.sample_events,
        user_agent: r.agent,
        actor_kind: r.kind,
        baseline: { since: isoTime(r.since), addresses: r.known_addresses, countries: r.known_countries, same_network: Boolean(r.known_asn), same_country: Boolean(r.known_country) },
        long_term_key: Boolean(r.long_term_key),
        instance_role_outside_aws: Boolean(outsideAws),
      },
      why: `Since ${isoTime(r.since).slice(0, 10)} this principal used ${String(r.known_addresses)} addresses in ${r.known_countries.join(', ') || 'no known country'}; ${reasons.join(', ')}.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.ip}`,
    }
  },
})
