import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { closestNames, escapeHtml, headerText, shellWord, textLine } from './text.js'

const FORGED = 'arn:aws:iam::111122223333:user/\u202Eevil\u2066x\u2069'

describe('text from CloudTrail fields', () => {
  it('shows direction overrides and isolates instead of obeying them, in HTML, headers and plain text alike', () => {
    expect(escapeHtml(FORGED)).toBe('arn:aws:iam::111122223333:user/\\u202eevil\\u2066x\\u2069')
    expect(headerText(`Subject ${FORGED}`)).toBe('Subject arn:aws:iam::111122223333:user/\\u202eevil\\u2066x\\u2069')
    expect(textLine(FORGED)).toBe(escapeHtml(FORGED))
    expect(escapeHtml('<b title="x">')).toBe('&lt;b title=&quot;x&quot;&gt;')
  })

  it('writes a shell word that reads as it runs and names the value itself, for the shell to match', () => {
    const word = shellWord(`${FORGED}'\\`)
    expect(word).toBe("$'arn:aws:iam::111122223333:user/\\u202eevil\\u2066x\\u2069\\'\\\\'")
    expect(textLine(word)).toBe(word)
    // bash turns it back into the very value: a suppression pasted from an email matches the principal.
    expect(execFileSync('bash', ['-c', `printf %s ${word}`], { encoding: 'utf8' })).toBe(`${FORGED}'\\`)
    expect(execFileSync('bash', ['-c', `printf %s ${shellWord("it's; rm -rf /")}`], { encoding: 'utf8' })).toBe("it's; rm -rf /")
  })
})

describe('the closest names to a mistyped one', () => {
  it('finds names a few edits away or sharing its start, nearest first, and nothing for a stranger', () => {
    const ids = ['unusual-source-ip', 'off-hours-activity', 'root-account-usage', 'rule:trailwatch-root-key']
    expect(closestNames('off-hour-activity', ids)).toEqual(['off-hours-activity'])
    expect(closestNames('root', ids)).toEqual(['root-account-usage'])
    expect(closestNames('kafka', ids)).toEqual([])
  })
})
