import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { loadConfig } from '../src/config.js'

const BROKER_SCRIPT = path.resolve(import.meta.dirname, '../kafka/broker.sh')

/**
 * Tests run against a real Kafka broker. Unless KAFKA_BROKERS names one, start the project's own
 * (or reuse the one already running), and stop it afterwards only if this run started it.
 */
export default function setup(): (() => void) | undefined {
  if (loadConfig().kafka.brokers) return undefined
  const running = (() => {
    try {
      execFileSync('bash', [BROKER_SCRIPT, 'status'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })()
  if (running) return undefined
  execFileSync('bash', [BROKER_SCRIPT, 'start'], { stdio: 'inherit' })
  return () => {
    execFileSync('bash', [BROKER_SCRIPT, 'stop'], { stdio: 'inherit' })
  }
}
