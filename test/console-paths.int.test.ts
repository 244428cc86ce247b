import { mkdtempSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Browser } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../src/console/auth.js'
import { accessibilityProblems, openBrowser, screenshots } from './helpers/browser.js'
import { signInTo } from './helpers/console.js'
import { consoleAddress, runCli, startCli, type RunningCli } from './helpers/cli.js'

const PASSWORD = 'correct horse battery staple'
const SCREENSHOTS = path.resolve(import.meta.dirname, '../test-results/console')
const ACCOUNT = '444455556666'
const arn = (kind: string, name: string): string => `arn:aws:iam::${ACCOUNT}:${kind}/${name}`

let console_: RunningCli
let base = ''
let browser: Browser

/** `trailwatch console` over a store holding only the escalation fixture's snapshot, as imported. */
beforeAll(async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-console-paths-'))
  const env = { TRAILWATCH_DATA_DIR: path.join(work, 'data'), TRAILWATCH_CONSOLE_USERS_FILE: path.join(work, 'console-users') }
  writeFileSync(env.TRAILWATCH_CONSOLE_USERS_FILE, `alice:${await hashPassword(PASSWORD)}\n`)
  // Taken now: the console reads the paths in force on its own clock, whatever the day the test runs.
  const imported = await runCli(['import', 'iam', path.resolve(import.meta.dirname, 'fixtures/iam/escalation-444455556666.json')], { env })
  expect(imported.code).toBe(0)
  console_ = startCli(['console'], { env })
  base = await consoleAddress(console_)
  browser = await openBrowser()
}, 120_000)

afterAll(async () => {
  await browser.close()
  if (console_.exitCode === null) {
    console_.kill('SIGINT')
    await once(console_, 'exit')
  }
})

const signIn = (): Promise<string> => signInTo(base, 'alice', PASSWORD)

describe('an identity’s paths on its principal page', () => {
  it('draws the intern’s way to administrator, each identity a link to its page, the cut dashed, and writes it out', async () => {
    const cookie = await signIn()
    const page = await (await fetch(`${base}/principals?arn=${encodeURIComponent(arn('user', 'intern'))}`, { headers: { cookie } })).text()
    expect(page).toContain('It can become administrator in 3 steps')
    const picture = /<svg class="chart paths"[\s\S]*?<\/svg>/.exec(page)?.[0] ?? ''
    for (const name of [arn('user', 'ci-bot'), arn('role', 'deploy'), arn('role', 'lambda-admin')]) expect(picture).toContain(`<a href="/principals?arn=${encodeURIComponent(name)}">`)
    expect(picture.match(/<g class="step cut">/g)).toHaveLength(1)
    expect(picture).toContain('<title>user intern → user ci-bot: iam:CreateAccessKey, allowed by user/intern:rotate-bot-keys#RotateBotKeys (in the smallest cut)</title>')
    expect(page).toContain('<li>user intern --[iam:CreateAccessKey]--&gt; user ci-bot --[sts:AssumeRole]--&gt; role deploy --[iam:UpdateAssumeRolePolicy + sts:AssumeRole]--&gt; role lambda-admin</li>')
    expect(page).toContain('The smallest change that cuts every path (dashed above): take away user intern iam:CreateAccessKey to user ci-bot')
  })

  it('says so of an identity with no path: the analyst, who may pass only a worker role', async () => {
    const page = await (await fetch(`${base}/principals?arn=${encodeURIComponent(arn('user', 'analyst'))}`, { headers: { cookie: await signIn() } })).text()
    expect(page).toContain('No path to administrator in the latest paths computed')
    expect(page).not.toContain('<svg class="chart paths"')
  })

  it('is accessible and fits a phone’s width', async () => {
    const page = await browser.newPage()
    await page.setBypassCSP(true)
    await page.goto(`${base}/login`)
    await page.type('#user', 'alice')
    await page.type('#password', PASSWORD)
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
    await page.goto(`${base}/principals?arn=${encodeURIComponent(arn('user', 'intern'))}`)
    expect(await accessibilityProblems(page)).toEqual([])
    expect(await screenshots(page, SCREENSHOTS, 'principal-paths')).toEqual([0, 0])
    await page.close()
  }, 60_000)
})
