import { existsSync } from 'node:fs'
import path from 'node:path'
import { validate as validateCron } from 'node-cron'
import { z } from 'zod'
import { AddressLists, TOR_EXITS } from './cloudtrail/address-lists.js'
import { ConfigError, errorMessage } from './errors.js'
import { SEVERITIES } from './severity.js'

const positiveInt = (what: string) =>
  z.coerce.number({ error: `expected ${what}, a whole number` }).int(`expected ${what}, a whole number`).positive(`expected ${what} above 0`)

const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
)
const flag = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'], { error: 'expected true or false' })
    .default(fallback)
    .transform((value) => value === 'true')
const existingFile = z.string().refine((file) => existsSync(file), 'no such file')
export const timezone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}, 'expected an IANA time zone such as Europe/Berlin')

const Env = z.object({
  TRAILWATCH_DATA_DIR: z.string().min(1).default('./data'),
  /** Absent: the embedded engine in the data directory. */
  CLICKHOUSE_URL: z.url({ error: 'expected a URL such as http://localhost:8123' }).optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  /** People's read-only queries on a server run as this user (deploy/clickhouse/users.xml: trailwatch_reader). Absent: CLICKHOUSE_USER. */
  CLICKHOUSE_QUERY_USER: z.string().min(1).optional(),
  CLICKHOUSE_QUERY_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a database name of letters, digits and underscores')
    .default('trailwatch'),
  /** A cluster defined on the servers: migrations run ON CLUSTER with replicated tables. Absent: one server. */
  CLICKHOUSE_CLUSTER: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a cluster name of letters, digits and underscores').optional(),
  /** Days an event is kept after it was ingested. */
  TRAILWATCH_RETENTION_DAYS: positiveInt('a number of days').default(400),
  /** Absent: `warn` for one-off commands, `info` for long-running services. */
  TRAILWATCH_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  /** Absent: readable lines when stderr is a terminal, JSON lines otherwise. */
  TRAILWATCH_LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'expected json or pretty' }).optional(),
  /** Assumed in every active account of the organisation by `aws sync`; unset, only the credentials' own account. */
  TRAILWATCH_AWS_ORGANIZATION_ROLE: z.string().regex(/^[\w+=,.@/-]{1,512}$/, 'expected a role name (and path), such as trailwatch-reader').optional(),
  TRAILWATCH_AWS_EXTERNAL_ID: z.string().min(2).max(1224).optional(),
  /** Assumed in the target's account to contain it (`trailwatch contain`): a responder role, apart from the read-only one. Unset: the credentials in use. */
  TRAILWATCH_CONTAIN_ROLE: z.string().regex(/^[\w+=,.@/-]{1,512}$/, 'expected a role name (and path), such as trailwatch-responder').optional(),
  /** Principals containment never touches, as ARN patterns (`*` any run): break-glass users, trailwatch's own roles. */
  TRAILWATCH_CONTAIN_PROTECTED: list.pipe(z.array(z.string().regex(/^arn:aws[\w-]*:(iam|sts)::[\d*]*:[\w+=,.@/*:-]+$/, 'expected principal ARN patterns, comma-separated, such as arn:aws:iam::*:role/break-glass'))).default([]),
  /** Console users who may approve another's containment; unset: the console contains without a second person. */
  TRAILWATCH_CONTAIN_APPROVERS: list.default([]),
  /**
   * Detectors and rules whose alerts contain their identity at once, without a person: `DETECTOR=ACTION`
   * pairs, comma-separated; the operator's standing approval.
   */
  TRAILWATCH_CONTAIN_AUTO: list
    .pipe(
      z.array(
        z
          .string()
          .regex(/^[\w:.-]+=(deactivate-key|revoke-sessions|quarantine)$/, 'expected DETECTOR=ACTION pairs, comma-separated, ACTION one of deactivate-key, revoke-sessions, quarantine')
          .transform((pair) => {
            const [detector = '', action = ''] = pair.split('=')
            return { detector, action: action as 'deactivate-key' | 'revoke-sessions' | 'quarantine' }
          }),
      ),
    )
    .default([]),
  TRAILWATCH_CONTAIN_AUTO_MIN_SEVERITY: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }).default('high'),
  /** At most this many automatic containments an hour; past it, alerts are told and nothing is contained. */
  TRAILWATCH_CONTAIN_AUTO_PER_HOUR: positiveInt('a number of containments').default(3),
  /** When `run` pulls IAM state from AWS; `off` never. Unset: daily once trailwatch is pointed at AWS. */
  TRAILWATCH_AWS_SYNC_SCHEDULE: z.string().refine((expression) => expression === 'off' || validateCron(expression), 'expected a cron expression such as "15 4 * * *", or off').optional(),
  /** SQS queues of a trail bucket's notifications that `run` follows. */
  TRAILWATCH_SQS_QUEUE_URLS: list.pipe(z.array(z.url({ error: 'expected queue URLs, comma-separated' }))).default([]),
  /** How long a received SQS message stays hidden while its objects are read (extended as it goes). */
  TRAILWATCH_SQS_VISIBILITY_SECONDS: positiveInt('seconds').max(43_200, 'expected at most 43200 (12 hours, the SQS limit)').default(120),
  INGEST_MAX_BATCH: positiveInt('a number of events').max(50_000, 'expected at most 50000 (larger bodies approach V8 string limits)').default(10_000),
  /** CloudTrail events are at most a few hundred KB; anything far larger is not a record. */
  TRAILWATCH_MAX_RECORD_BYTES: positiveInt('a size in bytes').default(1024 * 1024),
  /** Values one document (a Kafka message, an NDJSON line, a file's top-level value) may hold. */
  TRAILWATCH_MAX_DOCUMENT_VALUES: positiveInt('a number of values').default(200_000),
  /** Rejections of one document before the rest of it is skipped. */
  TRAILWATCH_MAX_DOCUMENT_REJECTS: positiveInt('a number of values').default(100),
  /** How long one Kafka message may take to decode before the rest of it is skipped. */
  TRAILWATCH_MAX_MESSAGE_DECODE_MS: positiveInt('a number of milliseconds').default(5_000),
  /** A batch smaller than INGEST_MAX_BATCH is written after this long. */
  INGEST_FLUSH_MS: positiveInt('a number of milliseconds').default(1000),

  /** JSON file: settings per detector id, e.g. {"unusual-source-ip": {"minHistoryDays": 14}}. */
  TRAILWATCH_DETECTORS_FILE: existingFile.optional(),
  /** JSON file: principals' time zones and working hours, defaults and overrides by ARN pattern (see README). */
  TRAILWATCH_PRINCIPALS_FILE: existingFile.optional(),
  /** A directory of Sigma rules for CloudTrail (.yml), run beside the detectors. */
  TRAILWATCH_RULES_DIR: existingFile.optional(),

  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps:// (TLS). Absent: .eml files in DATA_DIR/outbox. */
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'expected smtp://user:pass@host:port or smtps://…' })
    .optional(),
  /** PEM file of the CA that signed the SMTP server's certificate (default: the system's CAs). */
  SMTP_CA_FILE: existingFile.optional(),
  /** The default route: every alert at TRAILWATCH_ALERT_MIN_SEVERITY or above goes here. */
  TRAILWATCH_ALERT_TO: list.pipe(z.array(z.email({ error: 'expected e-mail addresses, comma-separated' }))).default([]),
  TRAILWATCH_ALERT_FROM: z.string().refine((from) => !/[\r\n]/.test(from), 'expected one line').default('trailwatch <trailwatch@localhost>'),
  TRAILWATCH_ALERT_MIN_SEVERITY: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }).default('medium'),
  /** JSON file: routes, dedup windows, rate limit (see README). */
  TRAILWATCH_ALERTING_FILE: existingFile.optional(),
  /** How often the running alerter looks for new alerts and due retries. */
  TRAILWATCH_ALERT_POLL_MS: positiveInt('a number of milliseconds').default(10_000),
  /** First retry after a temporary SMTP failure; each further retry waits twice as long, up to an hour. */
  TRAILWATCH_SMTP_RETRY_MS: positiveInt('a number of milliseconds').default(30_000),
  /** Attempts before a temporarily failing message is recorded as failed. */
  TRAILWATCH_SMTP_MAX_ATTEMPTS: positiveInt('a number of attempts').default(12),
  /** node-cron expression for the credential-age report; default Mondays 07:00. */
  TRAILWATCH_REPORT_SCHEDULE: z.string().refine((expression) => validateCron(expression), 'expected a cron expression such as "0 7 * * 1"').default('0 7 * * 1'),
  TRAILWATCH_REPORT_TIMEZONE: timezone.default('UTC'),
  /** Account names the team uses, in subjects and bodies: 111122223333=prod,444455556666=staging. */
  TRAILWATCH_ACCOUNT_ALIASES: list.pipe(
    z.array(z.string().regex(/^\d{12}=[^=,\s][^=,]*$/, 'expected ACCOUNT=NAME pairs, comma-separated, such as 111122223333=prod')).transform((pairs) => Object.fromEntries(pairs.map((pair) => pair.split('=') as [string, string]))),
  ).default({}),
  /** The operator's address lists, NAME=FILE pairs: each file one address or CIDR range per line; events from them carry NAME. */
  TRAILWATCH_ADDRESS_LISTS: list
    .pipe(
      z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}=.+$/, 'expected NAME=FILE pairs, comma-separated, the name in lower-case letters, digits and dashes, such as partner-vpn=/etc/trailwatch/partner.txt')).transform((pairs) =>
        pairs.map((pair) => ({ name: pair.slice(0, pair.indexOf('=')), path: path.resolve(pair.slice(pair.indexOf('=') + 1)) })),
      ),
    )
    .superRefine((files, context) => {
      if (files.some((f) => f.name === TOR_EXITS.name)) context.addIssue({ code: 'custom', message: `${TOR_EXITS.name} is the bundled list of Tor exits: name yours otherwise` })
      try {
        AddressLists.load(files)
      } catch (err) {
        context.addIssue({ code: 'custom', message: errorMessage(err) })
      }
    })
    .default([]),
  /** Where the console shows incidents; emails link to ${TRAILWATCH_CONSOLE_URL}/incidents/ID. */
  TRAILWATCH_CONSOLE_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://trailwatch.example.com' }).optional(),
  /** The console (served by `trailwatch run` beside /metrics): `NAME:HASH` lines from `trailwatch console-user NAME`; set, a sign-in is required. */
  TRAILWATCH_CONSOLE_USERS_FILE: existingFile.optional(),
  /** Behind a reverse proxy that signs people in: the header naming the user (e.g. X-Forwarded-User), honoured only from TRAILWATCH_CONSOLE_TRUSTED_PROXIES. */
  TRAILWATCH_CONSOLE_TRUSTED_HEADER: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a header name such as X-Forwarded-User').optional(),
  TRAILWATCH_CONSOLE_TRUSTED_PROXIES: list.pipe(z.array(z.ipv4().or(z.ipv6()), { error: 'expected IP addresses, comma-separated' })).default(['127.0.0.1', '::1']),
  TRAILWATCH_CONSOLE_SESSION_HOURS: positiveInt('a number of hours').default(8),
  /** Every incident update, signed: JSON POSTed here with X-Trailwatch-Signature (HMAC-SHA256 of "timestamp.body" with TRAILWATCH_WEBHOOK_SECRET). */
  TRAILWATCH_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  TRAILWATCH_WEBHOOK_SECRET: z.string().min(16, 'expected a secret of at least 16 characters').optional(),
  /** What the webhook receives: trailwatch's incident JSON, or the incident as an OCSF 1.8.0 Detection Finding (class 2004). */
  TRAILWATCH_WEBHOOK_FORMAT: z.enum(['trailwatch', 'ocsf'], { error: 'expected trailwatch or ocsf' }).default('trailwatch'),
  /** A Slack incoming webhook: every incident update as a Block Kit message. */
  TRAILWATCH_SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  /** A PagerDuty Events v2 integration key: high and critical incidents page, one alert per incident. */
  TRAILWATCH_PAGERDUTY_ROUTING_KEY: z.string().regex(/^[A-Za-z0-9]{32}$/, 'expected a 32-character integration key').optional(),
  TRAILWATCH_PAGERDUTY_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('https://events.pagerduty.com/v2/enqueue'),
  /** Absent: TRAILWATCH_ALERT_TO. */
  TRAILWATCH_REPORT_TO: list.pipe(z.array(z.email({ error: 'expected e-mail addresses, comma-separated' }))).optional(),

  /** Where long-running commands serve /healthz, /readyz, /metrics and /status; 0 picks a free port. */
  TRAILWATCH_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  TRAILWATCH_HTTP_PORT: z.coerce.number({ error: 'expected a port number' }).int('expected a port number').min(0, 'expected a port number').max(65_535, 'expected a port number').default(9464),
  /** Below this much free space on the data directory's disk, services say they are not ready. */
  TRAILWATCH_MIN_FREE_DISK_BYTES: positiveInt('a size in bytes').default(256 * 1024 ** 2),
  /** Limits of `trailwatch query` (and of the queries `run` answers for it). */
  TRAILWATCH_QUERY_MAX_SECONDS: positiveInt('a number of seconds').default(60),
  TRAILWATCH_QUERY_MAX_MEMORY_BYTES: positiveInt('a size in bytes').default(2 * 1024 ** 3),
  TRAILWATCH_QUERY_MAX_RESULT_BYTES: positiveInt('a size in bytes').default(64 * 1024 ** 2),
  TRAILWATCH_QUERY_CONCURRENCY: positiveInt('a number of queries').default(2),
  /** Absent: DATA_DIR/inbox. `trailwatch run` ingests CloudTrail files dropped here, once each. */
  TRAILWATCH_INBOX_DIR: z.string().min(1).optional(),
  /** `trailwatch run` on an empty store first loads the demo organisation; false starts empty. */
  TRAILWATCH_DEMO: flag('true'),

  KAFKA_BROKERS: list.pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port, comma-separated')).min(1, 'expected at least one host:port')).optional(),
  TRAILWATCH_KAFKA_TOPICS: list.pipe(z.array(z.string().min(1)).min(1, 'expected at least one topic')).default(['cloudtrail']),
  TRAILWATCH_KAFKA_GROUP: z.string().min(1).default('trailwatch-ingest'),
  TRAILWATCH_KAFKA_DEAD_LETTER_TOPIC: z.string().min(1).default('cloudtrail.dead-letter'),
  KAFKA_CLIENT_ID: z.string().min(1).default('trailwatch'),
  KAFKA_SSL: flag('false'),
  KAFKA_SSL_CA_FILE: existingFile.optional(),
  KAFKA_SSL_CERT_FILE: existingFile.optional(),
  KAFKA_SSL_KEY_FILE: existingFile.optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: flag('true'),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512'], { error: 'expected plain, scram-sha-256 or scram-sha-512' }).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
}).superRefine((env, ctx) => {
  if (env.KAFKA_SASL_MECHANISM && (!env.KAFKA_SASL_USERNAME || !env.KAFKA_SASL_PASSWORD)) {
    ctx.addIssue({ code: 'custom', path: ['KAFKA_SASL_USERNAME'], message: `KAFKA_SASL_MECHANISM=${env.KAFKA_SASL_MECHANISM} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD` })
  }
  if (env.TRAILWATCH_WEBHOOK_URL && !env.TRAILWATCH_WEBHOOK_SECRET) {
    ctx.addIssue({ code: 'custom', path: ['TRAILWATCH_WEBHOOK_SECRET'], message: 'TRAILWATCH_WEBHOOK_URL needs TRAILWATCH_WEBHOOK_SECRET, so the receiver can tell our requests from forgeries' })
  }
  if (Boolean(env.KAFKA_SSL_CERT_FILE) !== Boolean(env.KAFKA_SSL_KEY_FILE)) {
    ctx.addIssue({ code: 'custom', path: ['KAFKA_SSL_CERT_FILE'], message: 'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE' })
  }
})

export type Config = ReturnType<typeof toConfig>

function toConfig(env: z.infer<typeof Env>) {
  return {
    dataDir: path.resolve(env.TRAILWATCH_DATA_DIR),
    clickhouse: {
      url: env.CLICKHOUSE_URL,
      user: env.CLICKHOUSE_USER,
      password: env.CLICKHOUSE_PASSWORD,
      queryUser: env.CLICKHOUSE_QUERY_USER ? { user: env.CLICKHOUSE_QUERY_USER, password: env.CLICKHOUSE_QUERY_PASSWORD } : undefined,
      database: env.CLICKHOUSE_DATABASE,
      cluster: env.CLICKHOUSE_CLUSTER,
    },
    retentionDays: env.TRAILWATCH_RETENTION_DAYS,
    minFreeDiskBytes: env.TRAILWATCH_MIN_FREE_DISK_BYTES,
    http: { host: env.TRAILWATCH_HTTP_HOST, port: env.TRAILWATCH_HTTP_PORT },
    console: {
      usersFile: env.TRAILWATCH_CONSOLE_USERS_FILE,
      trustedHeader: env.TRAILWATCH_CONSOLE_TRUSTED_HEADER?.toLowerCase(),
      trustedProxies: env.TRAILWATCH_CONSOLE_TRUSTED_PROXIES,
      sessionMs: env.TRAILWATCH_CONSOLE_SESSION_HOURS * 3_600_000,
      url: env.TRAILWATCH_CONSOLE_URL,
    },
    queries: {
      seconds: env.TRAILWATCH_QUERY_MAX_SECONDS,
      memoryBytes: env.TRAILWATCH_QUERY_MAX_MEMORY_BYTES,
      resultBytes: env.TRAILWATCH_QUERY_MAX_RESULT_BYTES,
      concurrent: env.TRAILWATCH_QUERY_CONCURRENCY,
      waiting: 32,
    },
    inboxDir: path.resolve(env.TRAILWATCH_INBOX_DIR ?? path.join(env.TRAILWATCH_DATA_DIR, 'inbox')),
    demo: env.TRAILWATCH_DEMO,
    logLevel: env.TRAILWATCH_LOG_LEVEL,
    logFormat: env.TRAILWATCH_LOG_FORMAT,
    ingest: {
      maxBatch: env.INGEST_MAX_BATCH,
      maxRecordBytes: env.TRAILWATCH_MAX_RECORD_BYTES,
      decode: {
        maxRecordBytes: env.TRAILWATCH_MAX_RECORD_BYTES,
        maxDocumentValues: env.TRAILWATCH_MAX_DOCUMENT_VALUES,
        maxDocumentRejects: env.TRAILWATCH_MAX_DOCUMENT_REJECTS,
        maxMessageMs: env.TRAILWATCH_MAX_MESSAGE_DECODE_MS,
        addressLists: env.TRAILWATCH_ADDRESS_LISTS,
      },
      flushMs: env.INGEST_FLUSH_MS,
      sqs: { queues: env.TRAILWATCH_SQS_QUEUE_URLS, visibilitySeconds: env.TRAILWATCH_SQS_VISIBILITY_SECONDS },
    },
    contain: {
      role: env.TRAILWATCH_CONTAIN_ROLE,
      protected: env.TRAILWATCH_CONTAIN_PROTECTED,
      approvers: env.TRAILWATCH_CONTAIN_APPROVERS,
      auto: env.TRAILWATCH_CONTAIN_AUTO,
      autoMinSeverity: env.TRAILWATCH_CONTAIN_AUTO_MIN_SEVERITY,
      autoPerHour: env.TRAILWATCH_CONTAIN_AUTO_PER_HOUR,
      externalId: env.TRAILWATCH_AWS_EXTERNAL_ID,
    },
    aws: {
      organizationRole: env.TRAILWATCH_AWS_ORGANIZATION_ROLE,
      externalId: env.TRAILWATCH_AWS_EXTERNAL_ID,
      // Pointed at AWS (an organisation role, a trail's queue): daily, early in the UTC morning.
      syncSchedule: env.TRAILWATCH_AWS_SYNC_SCHEDULE === 'off' ? undefined : (env.TRAILWATCH_AWS_SYNC_SCHEDULE ?? (env.TRAILWATCH_AWS_ORGANIZATION_ROLE || env.TRAILWATCH_SQS_QUEUE_URLS.length ? '15 4 * * *' : undefined)),
    },
    detectorsFile: env.TRAILWATCH_DETECTORS_FILE,
    principalsFile: env.TRAILWATCH_PRINCIPALS_FILE,
    rulesDir: env.TRAILWATCH_RULES_DIR,
    alerting: alertingConfig(env),
    report: {
      schedule: env.TRAILWATCH_REPORT_SCHEDULE,
      timezone: env.TRAILWATCH_REPORT_TIMEZONE,
      to: env.TRAILWATCH_REPORT_TO ?? env.TRAILWATCH_ALERT_TO,
    },
    kafka: kafkaConfig(env),
  }
}

function alertingConfig(env: z.infer<typeof Env>) {
  return {
    smtpUrl: env.SMTP_URL,
    smtpCaFile: env.SMTP_CA_FILE,
    to: env.TRAILWATCH_ALERT_TO,
    from: env.TRAILWATCH_ALERT_FROM,
    minSeverity: env.TRAILWATCH_ALERT_MIN_SEVERITY,
    file: env.TRAILWATCH_ALERTING_FILE,
    pollMs: env.TRAILWATCH_ALERT_POLL_MS,
    retryMs: env.TRAILWATCH_SMTP_RETRY_MS,
    maxAttempts: env.TRAILWATCH_SMTP_MAX_ATTEMPTS,
    accountAliases: env.TRAILWATCH_ACCOUNT_ALIASES,
    consoleUrl: env.TRAILWATCH_CONSOLE_URL,
    webhook: env.TRAILWATCH_WEBHOOK_URL ? { url: env.TRAILWATCH_WEBHOOK_URL, secret: env.TRAILWATCH_WEBHOOK_SECRET ?? '', format: env.TRAILWATCH_WEBHOOK_FORMAT } : undefined,
    slack: env.TRAILWATCH_SLACK_WEBHOOK_URL ? { url: env.TRAILWATCH_SLACK_WEBHOOK_URL } : undefined,
    pagerDuty: env.TRAILWATCH_PAGERDUTY_ROUTING_KEY ? { url: env.TRAILWATCH_PAGERDUTY_URL, routingKey: env.TRAILWATCH_PAGERDUTY_ROUTING_KEY } : undefined,
  }
}

function kafkaConfig(env: z.infer<typeof Env>) {
  const tls = env.KAFKA_SSL || Boolean(env.KAFKA_SSL_CA_FILE ?? env.KAFKA_SSL_CERT_FILE)
  return {
    brokers: env.KAFKA_BROKERS,
    topics: env.TRAILWATCH_KAFKA_TOPICS,
    group: env.TRAILWATCH_KAFKA_GROUP,
    deadLetterTopic: env.TRAILWATCH_KAFKA_DEAD_LETTER_TOPIC,
    clientId: env.KAFKA_CLIENT_ID,
    tls: tls
      ? { caFile: env.KAFKA_SSL_CA_FILE, certFile: env.KAFKA_SSL_CERT_FILE, keyFile: env.KAFKA_SSL_KEY_FILE, rejectUnauthorized: env.KAFKA_SSL_REJECT_UNAUTHORIZED }
      : undefined,
    sasl: env.KAFKA_SASL_MECHANISM
      ? { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' }
      : undefined,
  }
}

export interface ConfigOverrides {
  dataDir?: string | undefined
}

/**
 * Reads the environment once. Every error names the variable and what is wrong with it;
 * values are never echoed, since some of them are secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  // An empty variable means "not set", as in most tools' configuration.
  const input: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  if (overrides.dataDir !== undefined) input.TRAILWATCH_DATA_DIR = overrides.dataDir

  const parsed = Env.safeParse(input)
  if (!parsed.success) {
    // The variable, not the position inside a list value.
    const problems = parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`)
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  return toConfig(parsed.data)
}
