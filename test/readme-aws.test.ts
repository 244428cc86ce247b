import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { expect, it } from 'vitest'
import { freshClone, linesOf, NPX, readmeSteps, shape, trimEnd } from './helpers/readme.js'

const ROOT = path.resolve(import.meta.dirname, '..')

it('runs "Connect to AWS" as written, against the emulator, with the output it shows', async () => {
  const steps = readmeSteps(['Connect to AWS'])
  expect(steps.map((s) => s.command)).toEqual(expect.arrayContaining(['bash aws/moto.sh start', 'npx trailwatch aws sync', 'bash aws/moto.sh stop']))
  const { clone, env } = freshClone()
  // aws/moto.sh keeps its Python environment beside this checkout, installed once.
  const motoShim = `bash() { if [ "$1" = aws/moto.sh ]; then shift; command bash "${path.join(ROOT, 'aws/moto.sh')}" "$@"; else command bash "$@"; fi; }`
  const marker = '@@readme-step'
  // The emulator stops even when a step fails.
  const script = [NPX, motoShim, 'exec 2>&1', "trap 'bash aws/moto.sh stop' EXIT", ...steps.flatMap((step) => [`echo ${marker}`, step.command])].join('\n')
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
