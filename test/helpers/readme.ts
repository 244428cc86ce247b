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
  for (const entry of ['aws', 'datasets', 'examples', 'test']) symlinkSync(path.join(ROOT, entry), path.join(clone, entry))
  // None of trailwatch's settings, and a free port for the endpoints.
  const own = /^(TRAILWATCH_|KAFKA_|CLICKHOUSE_|SMTP_)/
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !own.test(name))), TSX, CLI_ENTRY, TRAILWATCH_HTTP_PORT: '0' }
  return { clone, env }
}

/** `npx trailwatch` as it would resolve in the clone, on this checkout's sources. */
export const NPX = `npx() { if [ "$1" = trailwatch ]; then shift; node --import "$TSX" "$CLI_ENTRY" "$@"; else command npx "$@"; fi; }`

/** A command's printed lines; nothing printed is no lines. */
export const linesOf = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'))

/** A block's output as shown, without the blank lines that separate it from the next command. */
export function trimEnd(lines: string[]): string[] {
  const end = lines.findLastIndex((line) => line !== '')
  return lines.slice(0, end + 1)
}

/** What changes from run to run and place to place: times, rates, ids, process ids, ports, temporary paths. */
export function shape(lines: string[]): string[] {
  return lines.map((line) =>
    line
      .replace(/\(\d+(\.\d+)? s, \d+\/s\)/g, '(T s, R/s)')
      .replace(/"seconds":[\d.e-]+/g, '"seconds":T')
      .replace(/\d{8}T\d{6}-(alert|digest)-[0-9a-f]{12}/g, 'STAMP-$1-ID')
      .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2}\b/g, 'DAY DATE')
      // The demo's night is outside working hours, or on a day off when it falls on a weekend.
      .replace(/, (outside \d+:00–\d+:00|on a day off),/g, ', OFF HOURS,')
      .replace(/demo-organisation-\d{4}-\d{2}-\d{2}/g, 'demo-organisation-DATE')
      .replace(/\(pid \d+\)/g, '(pid N)')
      .replace(/\(\/\S+\/trailwatch\//g, '(CLONE/')
      .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
      .replace(/^(added |removed |)[0-9a-f]{8} {2}/, '$1RULE  ')
      .replace(/(expires|removed) \d{4}-\d{2}-\d{2}T[\d:.]+Z/, '$1 TIME')
      .replace(/until \d{4}-\d{2}-\d{2} [\d:]+ UTC/, 'until TIME')
      .replace(/ctn-[0-9a-f]{12}/g, 'ctn-ID')
      .replace(/^ctn-ID {2}\d{4}-\d{2}-\d{2} [\d:]+ UTC/, 'ctn-ID  TIME'),
  )
}
