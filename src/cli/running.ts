import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { StoreLockedError } from '../errors.js'

/** Where a running `trailwatch run` says it can be reached: other commands ask it instead of the locked store. */
export function runFile(dataDir: string): string {
  return path.join(dataDir, 'run.json')
}

/** The running process's endpoint, or the lock error itself when no `run` left its address. */
export async function runningProcessUrl(dataDir: string, locked: StoreLockedError): Promise<string> {
  try {
    return (JSON.parse(await readFile(runFile(dataDir), 'utf8')) as { url: string }).url
  } catch {
    throw locked
  }
}

/** The pid of the `trailwatch run` that holds the data directory, if one left its address there. */
export function runningProcessPid(dataDir: string): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(runFile(dataDir), 'utf8')) as { pid?: unknown }
    return typeof pid === 'number' ? pid : undefined
  } catch {
    return undefined
  }
}
