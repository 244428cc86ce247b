import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { simpleParser } from 'mailparser'
import { expect, it, onTestFinished } from 'vitest'
import { startCli } from './helpers/cli.js'
import { freshClone, NPX, readmeSteps } from './helpers/readme.js'

/** The `trailwatch …` commands an email suggests (runbook, timeline, acknowledge, silence), as written in its text part. */
async function suggestedCommands(emlFile: string): Promise<string[]> {
  const { text = '' } = await simpleParser(readFileSync(emlFile))
  return text.split('\n').flatMap((line) => /^(?:\s*|[A-Z][a-z ]+: )(trailwatch .+)$/.exec(line)?.[1] ?? [])
}

interface Carried {
  command: string
  code: number
  output: string
}

/**
 * Runs each command in a shell, one after another, as a person types them in a second terminal: what
 * each printed and its exit status. A rule id shown in the README is the one `suppress add` just made.
 */
async function carryOut(commands: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Carried[]> {
  const carried: Carried[] = []
  for (const written of commands) {
    const added = carried.findLast(({ command }) => command.includes('suppress add '))
    const ruleId = /^added ([0-9a-f]{8})/.exec(added?.output ?? '')?.[1]
    const command = ruleId ? written.replace(/suppress remove [0-9a-f]{8}/, `suppress remove ${ruleId}`) : written
    const shell = spawn('bash', ['-c', [NPX, 'trailwatch() { npx trailwatch "$@"; }', 'exec 2>&1', command].join('\n')], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const [code] = (await once(shell, 'exit')) as [number]
    carried.push({ command, code, output })
  }
  return carried
}

it('carries out, beside run on the demo and on the store it holds, what the emails suggest and the README shows for alerts, incidents and IAM', async () => {
  const { clone, env } = freshClone()
  const run = startCli(['run'], { env, cwd: clone })
  // A failed expectation must not leave it running.
  onTestFinished(() => {
    if (run.exitCode === null) run.kill('SIGKILL')
  })
  await expect.poll(() => run.output().stdout, { timeout: 90_000, interval: 250 }).toContain('trailwatch is running')

  // What the demo's emails tell an analyst to type, with a reason and a name filled in.
  const outbox = path.join(clone, 'data', 'outbox')
  const emails = readdirSync(outbox).filter((name) => name.endsWith('.eml'))
  expect(emails.length).toBeGreaterThan(0)
  const suggested = [...new Set((await Promise.all(emails.map((name) => suggestedCommands(path.join(outbox, name))))).flat())]
  // With no TRAILWATCH_CONSOLE_URL, they link to the incident on the console run serves.
  const consoleUrl = /the console: (http:\/\/127\.0\.0\.1:\d+)\//.exec(run.output().stdout)?.[1] ?? 'no console'
  const mails = await Promise.all(emails.map(async (name) => simpleParser(readFileSync(path.join(outbox, name)))))
  // An incident's email links to its incident; the posture email to each finding's page.
  for (const mail of mails) expect(mail.text).toMatch(new RegExp(mail.subject?.startsWith('[trailwatch] posture:') ? `${consoleUrl}/posture/[0-9a-f]{32}` : `${consoleUrl}/incidents/inc-[0-9a-f]{12}`))
  expect(mails.filter((mail) => mail.subject?.startsWith('[trailwatch] posture:'))).toHaveLength(1)
  const kinds = ['trailwatch timeline --incident ', 'trailwatch incidents ack ', 'trailwatch suppress add ']
  for (const kind of kinds) expect(suggested.some((command) => command.startsWith(kind)), kind).toBe(true)
  const fromEmails = suggested.filter((command) => kinds.some((kind) => command.startsWith(kind))).map((command) => command.replace(/\bWHY\b/g, "'seen in the demo'").replace(/\bYOU\b/g, 'pat'))

  // The README's own examples of these sections and their parts, on the store run holds rather than stores of their own.
  // carol's policy is suggested from the calls the Detectors section stores first.
  const carol = readmeSteps(['Detectors']).map((step) => step.command).filter((command) => command.includes('backfill examples/carol.jsonl'))
  const fromReadme = [...carol, ...readmeSteps(['Alerts and reports', 'Incidents', 'Noise control', 'The credential-age report', 'IAM posture']).map((step) => step.command)].filter(
    (command) => !command.startsWith('export TRAILWATCH_DATA_DIR='),
  )
  expect(fromReadme.length).toBeGreaterThanOrEqual(15)

  const carried = await carryOut([...fromEmails, ...fromReadme, 'trailwatch incidents list --json'], clone, env)
  for (const { command, code, output } of carried) {
    expect([command, code], output).toEqual([command, 0])
    expect(output, command).not.toMatch(/in use by|EPIPE|Error:/)
  }
  const byCommand = (prefix: string) => carried.filter(({ command }) => command.startsWith(prefix)).map(({ output }) => output)
  for (const timeline of byCommand('trailwatch timeline --incident ')) expect(timeline).toMatch(/\d+ calls? and \d+ alerts?, /)
  for (const ack of byCommand('trailwatch incidents ack ')) expect(ack).toMatch(/^inc-[0-9a-f]{12} +\w+ +acknowledged /)
  for (const listed of byCommand('npx trailwatch suppress list')) expect(listed).toContain('reason: seen in the demo')
  const incidents = (byCommand('trailwatch incidents list --json')[0] ?? '').trim().split('\n').map((line) => JSON.parse(line) as { id: string; status: string })
  const acknowledged = fromEmails.flatMap((command) => /^trailwatch incidents ack (inc-[0-9a-f]{12})/.exec(command)?.[1] ?? [])
  expect(incidents.filter((incident) => acknowledged.includes(incident.id)).map((incident) => incident.status)).toEqual(acknowledged.map(() => 'acknowledged'))

  // And run stops as it always does, leaving no address behind.
  run.kill('SIGINT')
  const [code] = (await once(run, 'exit')) as [number | null]
  expect(code).toBe(0)
  expect(existsSync(path.join(clone, 'data', 'run.json'))).toBe(false)
}, 300_000)
