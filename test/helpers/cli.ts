import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

/** The `trailwatch` command on this checkout's sources, and the loader that runs them. */
export const CLI_ENTRY = path.resolve(import.meta.dirname, 'trailwatch.ts')
/** Resolved here, so a command may run in any working directory. */
export const TSX = import.meta.resolve('tsx')
/** Tests run side by side: each long-running command serves its endpoints on a free port. */
const SERVICE_DEFAULTS = { TRAILWATCH_HTTP_PORT: '0' }

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `trailwatch ARGS…` in a child process, as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return runProgram(process.execPath, ['--import', TSX, CLI_ENTRY, ...args], options)
}

/** Runs a program to its end, with what it printed. */
export function runProgram(program: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { ...process.env, ...SERVICE_DEFAULTS, ...options.env },
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

const started = new Set<ChildProcess>()
// A test that fails half-way must not leave its services running after the test process ends.
process.once('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

export interface RunningCli extends ChildProcess {
  /** What it printed on stdout and stderr so far. */
  output(): { stdout: string; stderr: string }
}

/** Starts `trailwatch ARGS…` as a long-running child process, killed at the latest when the tests end. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, ['--import', TSX, CLI_ENTRY, ...args], { cwd: options.cwd, env: { ...process.env, ...SERVICE_DEFAULTS, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  started.add(child)
  const printed = { stdout: '', stderr: '' }
  child.stdout.on('data', (chunk: Buffer) => (printed.stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (printed.stderr += chunk.toString()))
  return Object.assign(child, { output: () => ({ ...printed }) })
}

/** Where the console `trailwatch run` or `trailwatch console` serves, once it says so; an error with what it printed if it stops or takes too long. */
export async function consoleAddress(cli: RunningCli, timeoutMs = 90_000): Promise<string> {
  for (let waited = 0; waited <= timeoutMs && cli.exitCode === null; waited += 250) {
    const url = /the console: (http:\S+)\//.exec(cli.output().stdout)?.[1]
    if (url) return url
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`no console was served:\n${cli.output().stderr}`)
}
