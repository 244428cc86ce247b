import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

const ENTRY = path.resolve(import.meta.dirname, 'trailwatch.ts')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `trailwatch ARGS…` in a child process, as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      resolve({ code, stdout, stderr })
    })
  })
}

/** Starts `trailwatch ARGS…` as a long-running child process. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] })
}
