import { existsSync } from 'node:fs'
import puppeteer, { type Browser } from 'puppeteer-core'

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
