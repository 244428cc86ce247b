// Waits until a Kafka broker answers an admin request: `node kafka/wait-ready.mjs host:port [seconds]`.
import { Kafka, logLevel } from 'kafkajs'

const [broker = '127.0.0.1:19092', seconds = '60'] = process.argv.slice(2)
const deadline = Date.now() + Number(seconds) * 1000
const admin = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin()
for (;;) {
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    await admin.disconnect()
    console.log(`kafka ready at ${broker} (cluster ${cluster.clusterId})`)
    process.exit(0)
  } catch (err) {
    if (Date.now() > deadline) {
      console.error(`kafka at ${broker} not ready after ${seconds} s: ${err.message}`)
      process.exit(1)
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}
