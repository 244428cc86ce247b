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
