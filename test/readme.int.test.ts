import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { expect, it, onTestFinished } from 'vitest'
import { startCli } from './helpers/cli.js'
import { freshClone, linesOf, NPX, readmeSteps, shape, trimEnd } from './helpers/readme.js'

/** The sections a newcomer follows first (how to run it, and what it shows), and the examples that need no server. */
const SECTIONS = ['Two commands', 'What it looks like', 'Detectors', 'Rules', 'Alerts and reports', 'Incidents', 'Noise control', 'IAM posture', 'Posture findings', 'Escalation paths', 'The credential-age report']

/** A suppression rule's id is new each time: `suppress remove` names the one this run made. */
function withRuleOfThisRun(command: string): string {
  return command.replace(/suppress remove [0-9a-f]{8}/, `suppress remove "$(npx trailwatch suppress list --json | tail -1 | sed -E 's/.*"rule_id":"([0-9a-f]+)".*/\\1/')"`)
}

it('runs the command blocks of its first sections and examples as written, on fresh data directories, with the output they show', async () => {
  const steps = readmeSteps(SECTIONS)
  expect(steps.map((s) => s.command)).toEqual(
    expect.arrayContaining(['npm start', 'npx trailwatch backfill datasets', 'npx trailwatch backfill examples/carol.jsonl', 'npx trailwatch report credentials --at 2026-11-23T07:00:00Z',
      'TRAILWATCH_ALERT_TO=secops@example.com npx trailwatch alert --once --at 2023-07-10T12:41:00Z', 'npx trailwatch incidents list --to 2023-07-10T12:41:00Z']),
  )

  const { clone, env } = freshClone()

  // `npm start` is `trailwatch run` (npm's own "> …" lines aside): it runs until Ctrl-C, and the rest
  // is typed in a second terminal meanwhile.
  const [start, ...rest] = steps
  expect(start?.command).toBe('npm start')
  const shown = (start?.output ?? []).filter((line) => !line.startsWith('> '))
  const beforeInterrupt = shown.slice(shown.findIndex((line) => line !== ''), shown.indexOf('^C'))
  const run = startCli(['run'], { env, cwd: clone })
  // A failed expectation must not leave it running.
  onTestFinished(() => {
    if (run.exitCode === null) run.kill('SIGKILL')
  })
  await expect.poll(() => run.output().stdout.split('\n').length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(beforeInterrupt.length)

  // The rest, in order, in one shell, as a reader types them.
  const marker = '@@readme-step'
  const script = [NPX, 'exec 2>&1', ...rest.flatMap((step) => [`echo ${marker}`, withRuleOfThisRun(step.command)])].join('\n')
  const shell = spawn('bash', ['-c', script], { cwd: clone, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let printed = ''
  shell.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()))
  const [code] = (await once(shell, 'exit')) as [number]

  run.kill('SIGINT')
  await once(run, 'exit')
  expect(shape(linesOf(run.output().stdout))).toEqual(shape([...beforeInterrupt, ...trimEnd(start?.afterInterrupt ?? [])]))
  expect(code).toBe(0)
  const outputs = printed.split(`${marker}\n`).slice(1)
  for (const [i, step] of rest.entries()) {
    expect(shape(linesOf(outputs[i] ?? '')), step.command).toEqual(shape(trimEnd(step.output)))
  }
  // Every command the README shows, one after another beside npm start: near a minute on a busy machine.
}, 180_000)
