import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createKafka } from '../ingest/kafka.js'
import { loadConfig } from '../src/config.js'
import { testLogger } from './helpers/store.js'

// kafka/broker.sh opens a SASL_PLAINTEXT listener two ports above the plain one, and an SSL
// listener requiring a client certificate three above, with its certificates in .kafka/tls.
const SASL_BROKER = '127.0.0.1:19094'
const SSL_BROKER = '127.0.0.1:19095'
const TLS = path.resolve(import.meta.dirname, '../.kafka/tls')

async function describeClusterAs(env: Record<string, string>, broker = SASL_BROKER) {
  const config = loadConfig({ KAFKA_BROKERS: broker, ...env })
  const admin = createKafka(config.kafka, testLogger).admin()
  await admin.connect()
  try {
    return await admin.describeCluster()
  } finally {
    await admin.disconnect()
  }
}

describe('Kafka client security settings against the real broker', () => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
    it(`authenticates with SASL ${mechanism}`, async () => {
      const cluster = await describeClusterAs({ KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'trailwatch', KAFKA_SASL_PASSWORD: 'trailwatch-secret', KAFKA_CLIENT_ID: 'trailwatch-sasl-test' })
      expect(cluster.brokers.map((b) => b.port)).toContain(19094)
    })
  }

  it('connects over TLS with the CA and a client certificate', async () => {
    const cluster = await describeClusterAs(
      { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(TLS, 'ca.pem'), KAFKA_SSL_CERT_FILE: path.join(TLS, 'client.pem'), KAFKA_SSL_KEY_FILE: path.join(TLS, 'client.key') },
      SSL_BROKER,
    )
    expect(cluster.brokers.map((b) => b.port)).toContain(19095)
  })

  it('is refused over TLS without a client certificate, and without trusting the CA', async () => {
    await expect(describeClusterAs({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(TLS, 'ca.pem') }, SSL_BROKER)).rejects.toThrow(/bad certificate/)
    await expect(describeClusterAs({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: path.join(TLS, 'client.pem'), KAFKA_SSL_KEY_FILE: path.join(TLS, 'client.key') }, SSL_BROKER)).rejects.toThrow(/self.signed certificate|unable to verify/i)
  })

  it('fails with an authentication error on a wrong password', async () => {
    await expect(describeClusterAs({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'trailwatch', KAFKA_SASL_PASSWORD: 'wrong' })).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/i)
  })
})
