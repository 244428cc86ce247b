import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '../..')
const SERVER = path.join(ROOT, '.moto/venv/bin/moto_server')

export interface Moto {
  url: string
  /** What a trailwatch process needs to reach it: the endpoint override and throwaway credentials. */
  env: Record<string, string>
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/** A moto server of this test's own on a free loopback port, installed by aws/moto.sh if it is not yet; `account` is its own account (default 123456789012). */
export async function startMoto({ account }: { account?: string } = {}): Promise<Moto> {
  if (!existsSync(SERVER)) execFileSync('bash', [path.join(ROOT, 'aws/moto.sh'), 'install'], { stdio: 'inherit' })
  const port = await freePort()
  const child = spawn(SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', env: { ...process.env, ...(account ? { MOTO_ACCOUNT_ID: account } : {}) } })
  const url = `http://127.0.0.1:${String(port)}`
  for (let waited = 0; ; waited += 100) {
    if (await fetch(`${url}/moto-api/`).then((r) => r.ok).catch(() => false)) break
    if (waited > 30_000 || child.exitCode !== null) throw new Error(`moto did not start on ${url}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    env: { AWS_ENDPOINT_URL: url, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}
