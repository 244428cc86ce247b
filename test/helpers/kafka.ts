import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { CompressionTypes, Kafka, KafkaJSError, Partitioners, logLevel, type Message } from 'kafkajs'
import { loadConfig } from '../../src/config.js'

/** The broker `kafka/broker.sh` starts, unless KAFKA_BROKERS points elsewhere. */
export const TEST_BROKERS = loadConfig().kafka.brokers ?? ['127.0.0.1:19092']

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'trailwatch-test', brokers: TEST_BROKERS, logLevel: logLevel.NOTHING })
}

export async function createTopic(kafka: Kafka, partitions: number): Promise<string> {
  const topic = `test-${randomBytes(5).toString('hex')}`
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
  return topic
}

export async function produce(kafka: Kafka, topic: string, messages: Message[], compression = CompressionTypes.None): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, messages: messages.slice(i, i + 2000), acks: -1, compression })
  } finally {
    await producer.disconnect()
  }
}

/** Committed offsets of the group, summed over the topic's partitions, and the topic's end. */
export async function progress(kafka: Kafka, group: string, topic: string): Promise<{ committed: number; end: number }> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    // A broker that just started may not have elected the group's coordinator yet: that is "not yet".
    const [offsets] = await retryWhileRetriable(() => admin.fetchOffsets({ groupId: group, topics: [topic] }))
    const ends = await admin.fetchTopicOffsets(topic)
    const committed = (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
    return { committed, end: ends.reduce((sum, p) => sum + Number(p.high), 0) }
  } finally {
    await admin.disconnect()
  }
}

async function retryWhileRetriable<T>(attempt: () => Promise<T>, tries = 40): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt()
    } catch (err) {
      if (i >= tries || !(err instanceof KafkaJSError) || !err.retriable) throw err
      await sleep(250)
    }
  }
}

export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(250)
  }
}

/** Every message of a topic, read from the beginning by a throwaway group. */
export async function readAll(kafka: Kafka, topic: string, expected: number, timeoutMs = 60_000) {
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}`, maxBytesPerPartition: 32 * 1024 * 1024 })
  const messages: { value: Buffer | null; headers: Record<string, string> }[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]))
      messages.push({ value: message.value, headers })
      return Promise.resolve()
    },
  })
  try {
    await waitUntil(`${expected} messages on ${topic}`, () => Promise.resolve(messages.length >= expected), timeoutMs)
  } finally {
    await consumer.disconnect()
  }
  return messages
}
