import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'

/** Where a running `trailwatch run` says it can be reached: other commands use the store it holds through it. */
export function runFile(dataDir: string): string {
  return path.join(dataDir, 'run.json')
}

const RunFile = z.object({ pid: z.number().int(), url: z.string(), token: z.string().min(32) })
type RunningProcess = z.infer<typeof RunFile>

/** A new secret for this run's endpoints. */
export function newToken(): string {
  return randomBytes(32).toString('hex')
}

/** Says where this run answers, with its secret, in a file only the directory's owner can read. */
export async function announceRunningProcess(dataDir: string, url: string, token: string): Promise<void> {
  const running: RunningProcess = { pid: process.pid, url, token }
  // Written whole and then renamed, so that no command reads half of it; a new file, so that one left
  // by a run that was killed does not lend it its mode.
  const file = runFile(dataDir)
  const partial = `${file}.${String(process.pid)}.tmp`
  await rm(partial, { force: true })
  await writeFile(partial, JSON.stringify(running), { mode: 0o600 })
  await rename(partial, file)
}

/**
 * The `trailwatch run` that holds the data directory, if one left its address there and still runs
 * (a run killed outright leaves its file behind).
 */
export function runningProcess(dataDir: string): RunningProcess | undefined {
  try {
    const running = RunFile.parse(JSON.parse(readFileSync(runFile(dataDir), 'utf8')))
    // Signal 0 only asks whether the process exists.
    process.kill(running.pid, 0)
    return running
  } catch {
    return undefined
  }
}
