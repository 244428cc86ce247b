import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { expect, it } from 'vitest'
import { freshClone, linesOf, NPX, readmeSteps, shape, trimEnd } from './helpers/readme.js'

const ROOT = path.resolve(import.meta.dirname, '..')

/** A containment's id is new each time: `contain undo` names the one this run made. */
function withContainmentOfThisRun(command: string): string {
  return command.replace(/contain undo ctn-[0-9a-f]{12}/, `contain undo "$(npx trailwatch contain list --json | head -1 | sed -E 's/.*"id":"(ctn-[0-9a-f]+)".*/\\1/')"`)
}

it('runs "Connect to AWS" and "Contain" as written, against the emulator, with the output they show', async () => {
  const steps = readmeSteps(['Connect to AWS', 'Contain'])
  expect(steps.map((s) => s.command)).toEqual(expect.arrayContaining(['bash aws/moto.sh start', 'npx trailwatch aws sync', 'bash aws/moto.sh stop']))
  expect(steps.filter((s) => s.command.includes('trailwatch contain'))).toHaveLength(3)
  const { clone, env } = freshClone()
  // aws/moto.sh keeps its Python environment beside this checkout, installed once.
  const motoShim = `bash() { if [ "$1" = aws/moto.sh ]; then shift; command bash "${path.join(ROOT, 'aws/moto.sh')}" "$@"; else command bash "$@"; fi; }`
  const marker = '@@readme-step'
  // The emulator stops even when a step fails.
  const script = [NPX, motoShim, 'exec 2>&1', "trap 'bash aws/moto.sh stop' EXIT", ...steps.flatMap((step) => [`echo ${marker}`, withContainmentOfThisRun(step.command)])].join('\n')
  const shell = spawn('bash', ['-c', script], { cwd: clone, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let printed = ''
  shell.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()))
  const [code] = (await once(shell, 'exit')) as [number]
  expect(code).toBe(0)
  const outputs = printed.split(`${marker}\n`).slice(1)
  for (const [i, step] of steps.entries()) {
    expect(shape(linesOf(outputs[i] ?? '')), step.command).toEqual(shape(trimEnd(step.output)))
  }
}, 120_000)
