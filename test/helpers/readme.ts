import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_ENTRY, TSX } from './cli.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

export interface Step {
  command: string
  /** Output before a `^C` line, and after it: what the command printed once interrupted. */
  output: string[]
  afterInterrupt: string[]
}

/** The `$ command` lines of the named sections' code blocks, each with the output shown under it. */
export function readmeSteps(sections: string[]): Step[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const steps: Step[] = []
  for (const section of readme.split(/^###? /m).filter((s) => sections.some((name) => s.startsWith(`${name}\n`)))) {
    // Every fenced block in turn, so that the closing fence of a json or yaml block opens nothing.
    for (const [, language, block = ''] of section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
      if (language !== '') continue
      let step: Step | undefined
      for (const line of block.replace(/\n$/, '').split('\n')) {
        if (line.startsWith('$ ')) {
          step = { command: line.slice(2), output: [], afterInterrupt: [] }
          steps.push(step)
        } else if (line === '^C' && step) {
          step.afterInterrupt = []
          step.output.push(line)
        } else {
          step?.[step.output.includes('^C') ? 'afterInterrupt' : 'output'].push(line)
        }
      }
    }
  }
  return steps
}

/** A fresh clone, alone in its folder: the files the README names, and no data yet; a newcomer's environment. */
export function freshClone(): { clone: string; env: NodeJS.ProcessEnv } {
  const workspace = mkdtempSync(path.join(tmpdir(), 'trailwatch-readme-'))
  const clone = path.join(workspace, 'trailwatch')
  mkdirSync(clone)
  for (const entry of ['datasets', 'examples', 'test']) symlinkSync(path.join(ROOT, entry), path.join(clone, entry))
  // None of trailwatch's settings, and a free port for the endpoints.
  const own = /^(TRAILWATCH_|KAFKA_|CLICKHOUSE_|SMTP_)/
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !own.test(name))), TSX, CLI_ENTRY, TRAILWATCH_HTTP_PORT: '0' }
  return { clone, env }
}

/** `npx trailwatch` as it would resolve in the clone, on this checkout's sources. */
export const NPX = `npx() { if [ "$1" = trailwatch ]; then shift; node --import "$TSX" "$CLI_ENTRY" "$@"; else command npx "$@"; fi; }`

