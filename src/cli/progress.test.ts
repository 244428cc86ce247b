import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { formatSeconds, ProgressLine } from './progress.js'

const ERASE_LINE = '\x1b[2K'

/** A stream that keeps what it was given, a terminal or not. */
function screen(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return Object.assign(stream, { isTTY, text: () => chunks.join('') })
}

describe('the progress line', () => {
  it('shows done of total, the rate and the time left on a terminal, and clears itself', () => {
    const terminal = screen(true)
    const progress = new ProgressLine({ of: 'steps', counting: 'detector runs' }, terminal)
    progress.update(5, 10)
    const line = terminal.text()
    expect(line.startsWith(`\r${ERASE_LINE}[${'#'.repeat(15)}${'-'.repeat(15)}]  50%  5 / 10 detector runs  `)).toBe(true)
    expect(line).toMatch(/ [\d,]+\/s {2}\d+ s left$/)
    progress.clear()
    expect(terminal.text().endsWith(`\r${ERASE_LINE}`)).toBe(true)
  })

  it('counts what the bytes held beside them', () => {
    const terminal = screen(true)
    new ProgressLine({ of: 'bytes', counting: 'records' }, terminal).update(3 * 1024 * 1024, 12 * 1024 * 1024, 12_345)
    expect(terminal.text()).toContain('25%  3.0 MB / 12.0 MB  12,345 records  ')
  })

  it('draws at most five times a second, and nothing at all when not on a terminal', () => {
    const terminal = screen(true)
    const progress = new ProgressLine({ of: 'steps', counting: 'rules' }, terminal)
    progress.update(1, 10)
    progress.update(2, 10)
    expect(terminal.text().match(/\r/g)).toHaveLength(1)
    const pipe = screen(false)
    const silent = new ProgressLine({ of: 'steps', counting: 'rules' }, pipe)
    silent.update(1, 10)
    silent.clear()
    expect(pipe.text()).toBe('')
  })

  it('says the time left in the units a person reads', () => {
    expect([formatSeconds(42.4), formatSeconds(200), formatSeconds(7500)]).toEqual(['42 s', '3 min 20 s', '2 h 5 min'])
  })
})
