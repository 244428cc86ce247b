import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'

/** Debian's chromium, installed by .ci/run when missing: tests never download a browser. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file))

export async function openBrowser(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('no chromium at /usr/bin/chromium: apt-get install chromium (.ci/run does)')
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}

/** How much wider than the viewport an HTML document lays out: 0 when nothing scrolls sideways. */
export async function horizontalOverflow(browser: Browser, html: string, width: number): Promise<number> {
  const page = await browser.newPage()
  try {
    await page.setViewport({ width, height: 800 })
    // Offline: a message must render from itself alone.
    await page.setRequestInterception(true)
    page.on('request', (request) => void (request.url().startsWith('data:') ? request.continue() : request.abort()))
    await page.setContent(html, { waitUntil: 'load' })
    return Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'))
  } finally {
    await page.close()
  }
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core's serious and critical findings on the page as it is, as `rule: where` lines (the page must allow the script: setBypassCSP). */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE })
  const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** Full-page screenshots at a phone's and a laptop's width, kept in `dir`; how far each scrolls sideways (0: not at all). */
export async function screenshots(page: Page, dir: string, name: string): Promise<number[]> {
  mkdirSync(dir, { recursive: true })
  const overflow: number[] = []
  for (const width of [400, 1280]) {
    await page.setViewport({ width, height: 900 })
    await page.screenshot({ path: path.join(dir, `${name}-${String(width)}.png`), fullPage: true })
    overflow.push(Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')))
  }
  return overflow
}
