import { CreateLoginProfileCommand, CreateUserCommand, GetUserPolicyCommand, IAMClient, ListUserPoliciesCommand } from '@aws-sdk/client-iam'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Browser } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../src/console/auth.js'
import { accessibilityProblems, openBrowser, screenshots } from './helpers/browser.js'
import { signInTo } from './helpers/console.js'
import { consoleAddress, startCli, type RunningCli } from './helpers/cli.js'
import { startMoto, type Moto } from './helpers/moto.js'

/** The demo company's account, as the emulator's own. */
const ACCOUNT = '111122223333'
const ANNA = `arn:aws:iam::${ACCOUNT}:user/anna`
const PASSWORD = 'correct horse battery staple'
const SCREENSHOTS = path.resolve(import.meta.dirname, '../test-results/console')

let moto: Moto
let iam: IAMClient
let run: RunningCli
let base = ''
let browser: Browser

/** `trailwatch run` on the demo, against an emulated AWS holding anna, with bob as the second person who approves. */
beforeAll(async () => {
  moto = await startMoto({ account: ACCOUNT })
  iam = new IAMClient({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })
  await iam.send(new CreateUserCommand({ UserName: 'anna' }))
  await iam.send(new CreateLoginProfileCommand({ UserName: 'anna', Password: 'Correct-Horse-9-battery' }))
  const work = mkdtempSync(path.join(tmpdir(), 'trailwatch-console-contain-'))
  const usersFile = path.join(work, 'console-users')
  writeFileSync(usersFile, `alice:${await hashPassword(PASSWORD)}\nbob:${await hashPassword(PASSWORD)}\n`)
  run = startCli(['run'], { env: { ...moto.env, TRAILWATCH_DATA_DIR: path.join(work, 'data'), TRAILWATCH_CONSOLE_USERS_FILE: usersFile, TRAILWATCH_CONTAIN_APPROVERS: 'bob', TRAILWATCH_LOG_LEVEL: 'warn' } })
  base = await consoleAddress(run)
  browser = await openBrowser()
}, 120_000)

afterAll(async () => {
  await browser.close()
  if (run.exitCode === null) {
    run.kill('SIGINT')
    await once(run, 'exit')
  }
  await moto.stop()
})

const signIn = (name: string): Promise<string> => signInTo(base, name, PASSWORD)

function post(url: string, cookie: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base }, body: new URLSearchParams(fields).toString(), redirect: 'manual' })
}

const csrfOf = (page: string): string => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''

async function annasPolicies(): Promise<Record<string, string>> {
  const names = (await iam.send(new ListUserPoliciesCommand({ UserName: 'anna' }))).PolicyNames ?? []
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, decodeURIComponent((await iam.send(new GetUserPolicyCommand({ UserName: 'anna', PolicyName: n }))).PolicyDocument ?? '')] as const)))
}

describe('containment from the console', () => {
  it('reviews, asks, is approved by another person, and is undone, each step audited and IAM read back', async () => {
    const alice = await signIn('alice')
    const listing = await (await fetch(`${base}/`, { headers: { cookie: alice } })).text()
    const incident = /href="\/incidents\/(inc-[0-9a-f]{12})"[^>]*>anna acted from/.exec(listing)?.[1] ?? ''
    expect(incident).not.toBe('')
    const page = await (await fetch(`${base}/incidents/${incident}`, { headers: { cookie: alice } })).text()
    const review = `/incidents/${incident}/contain?type=principal&target=${encodeURIComponent(ANNA)}&action=quarantine`
    expect(page).toContain(`<a href="${review.replaceAll('&', '&amp;')}">Quarantine anna: deny every action</a>`)

    // The review is a dry run: it says what would change, and nothing does.
    const reviewed = await (await fetch(`${base}${review}`, { headers: { cookie: alice } })).text()
    expect(reviewed).toContain(`<li>put inline policy trailwatch-quarantine on user anna (account ${ACCOUNT}): deny every action</li>`)
    expect(reviewed).toContain('Ask for approval')
    expect(await annasPolicies()).toEqual({})
    // Only what fits the incident: someone else is not contained through anna's incident.
    expect((await fetch(`${base}/incidents/${incident}/contain?type=principal&target=${encodeURIComponent(`arn:aws:iam::${ACCOUNT}:user/bob`)}&action=quarantine`, { headers: { cookie: alice } })).status).toBe(404)
    // anna's key in the demo is not in this IAM: the review says so, and offers nothing to confirm.
    const key = /href="(\/incidents\/[^"]+type=key[^"]+)"/.exec(page)?.[1]?.replaceAll('&amp;', '&') ?? ''
    const missing = await fetch(`${base}${key}`, { headers: { cookie: alice } })
    expect(missing.status).toBe(400)
    expect(await missing.text()).toMatch(/no access key AKIA\w+ in account 111122223333/)

    expect((await post(`${base}/incidents/${incident}/contain`, alice, { csrf: csrfOf(reviewed), type: 'principal', target: ANNA, action: 'quarantine', reason: 'her key was used from Russia' })).status).toBe(303)
    expect(await annasPolicies()).toEqual({})
    const waiting = await (await fetch(`${base}/containments`, { headers: { cookie: alice } })).text()
    expect(waiting).toContain('awaiting-approval')
    // Whoever asked does not approve.
    expect(waiting).not.toContain('>Approve</button>')
    const id = /id="(ctn-[0-9a-f]{12})"/.exec(waiting)?.[1] ?? ''
    expect((await post(`${base}/containments/${id}/approve`, alice, { csrf: csrfOf(waiting) })).status).toBe(400)

    const bob = await signIn('bob')
    const approving = await (await fetch(`${base}/containments`, { headers: { cookie: bob } })).text()
    expect(approving).toContain('>Approve</button>')
    expect((await post(`${base}/containments/${id}/approve`, bob, { csrf: csrfOf(approving) })).status).toBe(303)
    expect(Object.keys(await annasPolicies())).toEqual(['trailwatch-quarantine'])
    expect((await post(`${base}/containments/${id}/undo`, bob, { csrf: csrfOf(approving), reason: 'anna confirmed it was her, travelling' })).status).toBe(303)
    expect(await annasPolicies()).toEqual({})

    const log = await (await fetch(`${base}/audit`, { headers: { cookie: bob } })).text()
    for (const [who, what] of [['alice', 'asked to contain'], ['bob', 'approved containment'], ['bob', 'undid containment']]) {
      expect(log).toContain(`<td data-label="Who">${who ?? ''}</td><td data-label="What">${what ?? ''}</td><td data-label="To what">${id}</td>`)
    }
    const history = await (await fetch(`${base}/incidents/${incident}`, { headers: { cookie: bob } })).text()
    for (const [who, what] of [
      ['alice', `asked for containment ${id}, waiting for approval: put inline policy trailwatch-quarantine on user anna (account ${ACCOUNT}): deny every action (her key was used from Russia)`],
      ['bob', `approved containment ${id}`],
      ['bob', `containment ${id} undone: anna confirmed it was her, travelling`],
    ]) {
      expect(history).toContain(`<strong>contained</strong> by ${who ?? ''}: ${what ?? ''}</li>`)
    }
  })

  it('reads at phone width and is accessible: the review and the containments', async () => {
    const page = await browser.newPage()
    await page.setBypassCSP(true)
    await page.goto(`${base}/login`)
    await page.type('#user', 'alice')
    await page.type('#password', PASSWORD)
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')])
    const review = (await page.evaluate(`[...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).find((href) => /^\\/incidents\\/inc-/.test(href))`)) as string
    await page.goto(`${base}${review}`)
    const offer = (await page.evaluate(`document.querySelector('#contain ~ ul a').getAttribute('href')`)) as string
    for (const [name, route] of [['contain-review', offer], ['containments', '/containments']]) {
      await page.goto(`${base}${route ?? ''}`)
      expect(await accessibilityProblems(page), name).toEqual([])
      expect(await screenshots(page, SCREENSHOTS, name ?? ''), name).toEqual([0, 0])
    }
    await page.close()
  }, 60_000)
})
