import { z } from 'zod'
import { networkClass } from '../../src/cloudtrail/network-class.js'
import { defineDetector, raise, type Severity } from '../define.js'
import { baselineFrom, fewest, keys, latestBaselineFrom, windowed, windowFrom, windowNow, windowQueries } from '../windows.js'
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
  /** Every call from the address was a console session signed in with MFA. */
  console_with_mfa: z.coerce.number(),
  /** Every call from the address was a GitHub Actions workflow's OIDC session. */
  github_runner: z.coerce.number(),
  since: z.string(),
  known_asn: z.coerce.number(),
  known_country: z.coerce.number(),
  known_addresses: z.coerce.number(),
  known_countries: z.array(z.string()),
  known_asns: z.array(z.coerce.number()),
})

/** The identity provider of GitHub Actions' OIDC tokens, as CloudTrail names it in the identity (never in fields a caller writes). */
const GITHUB_ACTIONS = 'token.actions.githubusercontent.com'
const GITHUB_SESSION = `(JSONExtractString(raw, 'userIdentity', 'identityProvider') = '${GITHUB_ACTIONS}'
  OR endsWith(JSONExtractString(raw, 'userIdentity', 'sessionContext', 'webIdFederationData', 'federatedProvider'), ':oidc-provider/${GITHUB_ACTIONS}'))`
/** Where GitHub's hosted runners run: Microsoft's network, a new address for every job. */
const GITHUB_RUNNER_ASNS = [8075]

/** What is read of each call, and until when an allowed range covers its address (the epoch if none does). */
const RECENT_CALL = `account_id, principal_arn, assumeNotNull(source_ip) AS ip, source_asn, source_country, source_as_org, event_time, event_id,
  (event_time, event_id) AS at, event_name, access_key_kind = 'long-term' AS long_term, match(session_name, '^i-[0-9a-f]{8,17}$') AS instance,
  actor_kind, user_agent, mfa_authenticated, ${GITHUB_SESSION} AS github_actions,
  arrayMax(arrayConcat([toDateTime64(0, 3, 'UTC')],
    arrayMap((c, until) -> if(isIPAddressInRange(ip, c), until, toDateTime64(0, 3, 'UTC')), {allowCidrs:Array(String)}, {allowedUntil:Array(DateTime64(3))}))) AS allowed_until`

/**
 * Not an address its principal used after the latest window's baseline began and before the
 * earliest window began: every window's history holds such an address, so none finds it new. Most
 * calls are from known addresses; they are left out before anything is counted.
 */
const NOT_KNOWN_TO_EVERY_WINDOW = (replay: boolean): string => `(account_id, principal_arn, ip) NOT IN (
    SELECT account_id, principal_arn, source_ip FROM baseline_principal_source_days
    WHERE first_seen < {from:DateTime64(3)} AND first_seen >= ${latestBaselineFrom(replay)})`

export default defineDetector({
  id: 'unusual-source-ip',
  title: 'Principal used a network it has never used before',
  severity: 'medium',
  schedule: '* * * * *',
  window: '1h',
  lookback: '30d',
  attack: ['T1078.004', 'T1552.005'],
  runbook: [
    '[user-key,user,sso,root] Is the address a VPN, a new office egress, or travel? Ask the person, not the ticket.',
    '[role] Which person or workload assumes this role from there? The role’s owner says whether the address is theirs.',
    '[service] An AWS service calls from its own addresses: look at what it acted on, and for whom.',
    'List every call from this address in the window: trailwatch query "SELECT event_time, event_name, error_code FROM events WHERE source_ip = \'ADDRESS\' ORDER BY event_time"',
    '[user-key] If it was not the person: deactivate the key, then rotate it.',
    '[instance-role] An instance role’s keys used outside AWS were taken off the instance: revoke the role’s sessions issued before now, then find how they left it (a request forged through the instance, a compromised workload) and rotate what the instance holds.',
  ],
  config: Config,
  params: (config) => ({
    minHistoryDays: config.minHistoryDays,
    allowCidrs: config.allowCidrs.map((c) => c.cidr),
    allowedUntil: config.allowCidrs.map((c) => clickHouseTime(Date.parse(c.expires))),
  }),
  ...windowQueries(
    (replay) => `
    WITH
      recent AS (
        SELECT ${keys(replay, 'account_id, principal_arn, ip')}, argMin(source_asn, at) AS asn, argMin(source_country, at) AS country, argMin(source_as_org, at) AS as_org,
               toString(min(event_time)) AS first_seen, toString(max(event_time)) AS last_seen,
               uniqExact(event_id) AS calls, ${fewest('groupUniqArray(event_name)')} AS sample_events,
               max(long_term) AS long_term_key, max(instance) AS instance_session, argMin(actor_kind, at) AS kind, argMin(user_agent, at) AS agent,
               min(actor_kind = 'human-console' AND mfa_authenticated) AS console_with_mfa, min(github_actions) AS github_runner
        FROM (${windowed({ columns: RECENT_CALL, pre: "source_network = 'public' AND actor_kind != 'aws-service' AND principal_arn != ''", sql: `NOT (event_name = 'ConsoleLogin' AND JSONExtractString(raw, 'responseElements', 'ConsoleLogin') = 'Failure') AND ${NOT_KNOWN_TO_EVERY_WINDOW(replay)}` }, replay)})
        -- An allowance counts until it expires, as of the window's end.
        WHERE allowed_until <= ${windowNow(replay)}
        GROUP BY ${keys(replay, 'account_id, principal_arn, ip')}
      ),
      sightings AS (
        -- Only use before the window counts: on the window's own day, a day's first use stands in for its last.
        SELECT ${replay ? 'g.run AS run, ' : ''}s.account_id AS account_id, s.principal_arn AS principal_arn, s.source_ip AS source_ip,
               argMin(s.source_asn, s.first_seen) AS asn, argMin(s.source_country, s.first_seen) AS country,
               min(s.first_seen) AS ip_first_seen, max(if(s.last_seen < ${windowFrom(replay, 'g.run')}, s.last_seen, s.first_seen)) AS ip_last_seen
        FROM (SELECT DISTINCT ${keys(replay, 'account_id, principal_arn')} FROM recent) AS g
        INNER JOIN (
          SELECT * FROM baseline_principal_source_days
          WHERE (account_id, principal_arn) IN (SELECT account_id, principal_arn FROM recent) AND first_seen < {now:DateTime64(3)}
        ) AS s ON g.account_id = s.account_id AND g.principal_arn = s.principal_arn
        WHERE s.day <= toDate(${windowFrom(replay, 'g.run')}) AND s.first_seen < ${windowFrom(replay, 'g.run')}
        GROUP BY ${keys(replay, 'account_id, principal_arn, source_ip')}
        HAVING ip_last_seen >= ${baselineFrom(replay)}
      ),
      history AS (
        SELECT ${keys(replay, 'account_id, principal_arn')}, groupUniqArray(source_ip) AS ips, groupUniqArray(asn) AS asns,
               arraySort(groupUniqArray(country)) AS countries, min(ip_first_seen) AS since
        FROM sightings
        GROUP BY ${keys(replay, 'account_id, principal_arn')}
      )
    SELECT r.*, toString(h.since) AS since, has(h.asns, r.asn) AS known_asn, has(h.countries, r.country) AS known_country,
           length(h.ips) AS known_addresses, h.countries AS known_countries, arraySort(h.asns) AS known_asns
    FROM recent AS r
    INNER JOIN history AS h ON ${replay ? 'r.run = h.run AND ' : ''}r.account_id = h.account_id AND r.principal_arn = h.principal_arn
    WHERE NOT has(h.ips, r.ip) AND h.since <= ${windowFrom(replay, 'r.run')} - toIntervalDay({minHistoryDays:UInt32})
    ORDER BY ${keys(replay, 'account_id, principal_arn, ip')}`,
  ),
  row: Row,
  toFinding: (r, config) => {
    // A workflow on GitHub's hosted runners draws a new address from Microsoft's network for every job: that is its ordinary day.
    if (r.github_runner && GITHUB_RUNNER_ASNS.includes(r.asn)) return null
    let severity: Severity = r.known_asn ? 'low' : r.known_country ? 'medium' : 'high'
    const reasons = [
      r.known_asn ? `a new address on a network it uses (AS${r.asn} ${r.as_org})` : r.known_country ? `a network it has not used (AS${r.asn} ${r.as_org})` : `a country it has not acted from (${r.country || 'unknown'})`,
    ]
    if (r.console_with_mfa && r.known_country && !r.known_asn) {
      // A person past MFA at the console, in a country they work from: a hotel or a phone, not a stolen key.
      severity = 'low'
      reasons.push('at the console, signed in with MFA')
    }
    const kind = networkClass(r.asn)
    const outsideAws = r.instance_session && !config.awsAsns.includes(r.asn)
    if (!r.known_asn && !outsideAws && kind !== 'access' && !r.known_asns.some((asn) => networkClass(asn) === kind)) {
      // Stolen credentials are used from rented machines and tunnels; a person on their ISP is not. A corporate VPN it always used is known.
      severity = raise(severity)
      reasons.push(`through a ${kind === 'vpn' ? 'VPN' : 'hosting'} provider, a kind of network it has not used`)
    }
    if (r.long_term_key) {
      // A long-term key on a new network may be a leaked one; a new address from the usual ISP is a person's router.
      if (!r.known_asn) severity = raise(severity)
      reasons.push('with a long-term access key')
    }
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
        network_class: kind,
        long_term_key: Boolean(r.long_term_key),
        instance_role_outside_aws: Boolean(outsideAws),
      },
      why: `Since ${isoTime(r.since).slice(0, 10)} this principal used ${String(r.known_addresses)} addresses in ${r.known_countries.join(', ') || 'no known country'}; ${reasons.join(', ')}.`,
      dedupKey: `${r.account_id}|${r.principal_arn}|${r.ip}`,
    }
  },
})
