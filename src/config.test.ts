import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from './errors.js'
import { loadConfig } from './config.js'

describe('loadConfig', () => {
  it('applies defaults for an empty environment', () => {
    const config = loadConfig({})
    expect(config.clickhouse.url).toBeUndefined()
    expect(config.dataDir.endsWith('/data')).toBe(true)
    expect(config.ingest.maxBatch).toBe(10_000)
    expect(config.retentionDays).toBe(400)
  })

  it('prefers the --data-dir override to the environment', () => {
    expect(loadConfig({ TRAILWATCH_DATA_DIR: '/a' }, { dataDir: '/b' }).dataDir).toBe('/b')
  })

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ INGEST_MAX_BATCH: 'lots' })).toThrow(/INGEST_MAX_BATCH: expected a number of events/)
    expect(() => loadConfig({ TRAILWATCH_RETENTION_DAYS: '-3' })).toThrow(/TRAILWATCH_RETENTION_DAYS: expected a number of days above 0/)
    expect(() => loadConfig({ CLICKHOUSE_URL: 'not a url' })).toThrow(ConfigError)
  })

  it('reads Kafka settings, and names what a security setting lacks', () => {
    const config = loadConfig({ KAFKA_BROKERS: 'k1:9092, k2:9092', TRAILWATCH_KAFKA_TOPICS: 'a,b', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })
    expect(config.kafka).toMatchObject({ brokers: ['k1:9092', 'k2:9092'], topics: ['a', 'b'], group: 'trailwatch-ingest', sasl: { mechanism: 'scram-sha-512', username: 'u' }, tls: undefined })
    expect(() => loadConfig({ KAFKA_BROKERS: 'k1' })).toThrow(/KAFKA_BROKERS: expected host:port/)
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/KAFKA_SASL_USERNAME: KAFKA_SASL_MECHANISM=plain needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/)
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512/)
    expect(() => loadConfig({ KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' })).toThrow(/KAFKA_SSL_CA_FILE: no such file/)
    expect(() => loadConfig({ KAFKA_SSL_CERT_FILE: import.meta.filename })).toThrow(/needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/)
    expect(() => loadConfig({ KAFKA_SSL: 'yes' })).toThrow(/KAFKA_SSL: expected true or false/)
    expect(() => loadConfig({ TRAILWATCH_CONTAIN_PROTECTED: 'break-glass' })).toThrow(/TRAILWATCH_CONTAIN_PROTECTED: expected principal ARN patterns/)
    expect(() => loadConfig({ TRAILWATCH_CONTAIN_AUTO: 'unusual-source-ip=delete-user' })).toThrow(/TRAILWATCH_CONTAIN_AUTO: expected DETECTOR=ACTION pairs/)
    expect(loadConfig({ TRAILWATCH_CONTAIN_AUTO: 'unusual-source-ip=deactivate-key, guardduty-findings=revoke-sessions' }).contain.auto).toEqual([
      { detector: 'unusual-source-ip', action: 'deactivate-key' },
      { detector: 'guardduty-findings', action: 'revoke-sessions' },
    ])
    expect(loadConfig({ TRAILWATCH_CONTAIN_PROTECTED: 'arn:aws:iam::*:user/break-glass, arn:aws:iam::111122223333:role/trailwatch*', TRAILWATCH_CONTAIN_ROLE: 'ops/trailwatch-responder' }).contain).toEqual({
      role: 'ops/trailwatch-responder',
      protected: ['arn:aws:iam::*:user/break-glass', 'arn:aws:iam::111122223333:role/trailwatch*'],
      approvers: [],
      auto: [],
      autoMinSeverity: 'high',
      autoPerHour: 3,
      externalId: undefined,
    })
    expect(loadConfig({ KAFKA_SSL_CA_FILE: import.meta.filename }).kafka.tls).toMatchObject({ caFile: import.meta.filename, rejectUnauthorized: true })
  })

  it('reads the operator’s address lists, and names what is wrong with them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-lists-'))
    const partner = path.join(dir, 'partner.txt')
    writeFileSync(partner, '203.0.113.0/24\n')
    expect(loadConfig({ TRAILWATCH_ADDRESS_LISTS: `partner-vpn=${partner}` }).ingest.decode.addressLists).toEqual([{ name: 'partner-vpn', path: partner }])
    expect(() => loadConfig({ TRAILWATCH_ADDRESS_LISTS: partner })).toThrow(/TRAILWATCH_ADDRESS_LISTS: expected NAME=FILE pairs/)
    expect(() => loadConfig({ TRAILWATCH_ADDRESS_LISTS: `tor-exit=${partner}` })).toThrow(/TRAILWATCH_ADDRESS_LISTS: tor-exit is the bundled list of Tor exits/)
    expect(() => loadConfig({ TRAILWATCH_ADDRESS_LISTS: `gone=${path.join(dir, 'gone.txt')}` })).toThrow(/TRAILWATCH_ADDRESS_LISTS: address list gone: no such file/)
    writeFileSync(partner, 'not an address\n')
    expect(() => loadConfig({ TRAILWATCH_ADDRESS_LISTS: `partner-vpn=${partner}` })).toThrow(/TRAILWATCH_ADDRESS_LISTS: address list partner-vpn \(.*\), line 1: "not an address" is not an address/)
  })

  it('reads mail settings, and names what is wrong with them', () => {
    const config = loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465', TRAILWATCH_ALERT_TO: 'a@example.com, b@example.com', TRAILWATCH_REPORT_TIMEZONE: 'Europe/Berlin' })
    expect(config.alerting).toMatchObject({ smtpUrl: 'smtps://u:p@mail.example.com:465', to: ['a@example.com', 'b@example.com'], minSeverity: 'medium' })
    expect(config.report).toMatchObject({ schedule: '0 7 * * 1', timezone: 'Europe/Berlin', to: ['a@example.com', 'b@example.com'] })
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL: expected smtp:\/\/user:pass@host:port/)
    expect(() => loadConfig({ TRAILWATCH_ALERT_TO: 'secops' })).toThrow(/TRAILWATCH_ALERT_TO: expected e-mail addresses/)
    expect(() => loadConfig({ TRAILWATCH_ALERT_MIN_SEVERITY: 'urgent' })).toThrow(/TRAILWATCH_ALERT_MIN_SEVERITY: expected one of info, low, medium, high, critical/)
    expect(() => loadConfig({ TRAILWATCH_REPORT_SCHEDULE: 'weekly' })).toThrow(/TRAILWATCH_REPORT_SCHEDULE: expected a cron expression/)
    expect(() => loadConfig({ TRAILWATCH_REPORT_TIMEZONE: 'Mars/Olympus' })).toThrow(/TRAILWATCH_REPORT_TIMEZONE: expected an IANA time zone/)
    expect(() => loadConfig({ TRAILWATCH_ALERT_FROM: 'a@example.com\r\nBcc: b@example.com' })).toThrow(/TRAILWATCH_ALERT_FROM: expected one line/)
  })

  it('syncs IAM state from AWS daily once pointed at AWS, on a schedule of its own, or never', () => {
    expect(loadConfig({}).aws.syncSchedule).toBeUndefined()
    expect(loadConfig({ TRAILWATCH_AWS_ORGANIZATION_ROLE: 'trailwatch-reader' }).aws.syncSchedule).toBe('15 4 * * *')
    expect(loadConfig({ TRAILWATCH_SQS_QUEUE_URLS: 'https://sqs.us-east-1.amazonaws.com/111122223333/trail' }).aws.syncSchedule).toBe('15 4 * * *')
    expect(loadConfig({ TRAILWATCH_AWS_SYNC_SCHEDULE: '0 */6 * * *' }).aws.syncSchedule).toBe('0 */6 * * *')
    expect(loadConfig({ TRAILWATCH_AWS_ORGANIZATION_ROLE: 'trailwatch-reader', TRAILWATCH_AWS_SYNC_SCHEDULE: 'off' }).aws.syncSchedule).toBeUndefined()
    expect(() => loadConfig({ TRAILWATCH_AWS_SYNC_SCHEDULE: 'daily' })).toThrow(/TRAILWATCH_AWS_SYNC_SCHEDULE: expected a cron expression/)
    expect(() => loadConfig({ TRAILWATCH_SQS_QUEUE_URLS: 'trail-queue' })).toThrow(/TRAILWATCH_SQS_QUEUE_URLS: expected queue URLs/)
  })

  it('never echoes a value, which may be a secret', () => {
    const secret = 'hunter2-not-a-url'
    try {
      loadConfig({ CLICKHOUSE_URL: secret })
      expect.unreachable()
    } catch (err) {
      expect(String(err)).toContain('CLICKHOUSE_URL')
      expect(String(err)).not.toContain(secret)
    }
  })
})
