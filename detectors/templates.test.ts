import { describe, expect, it } from 'vitest'
import { renderTemplate, templatedSeverity, templateNames } from './templates.js'

describe('rule templates', () => {
  it('names what a template refers to, and refuses anything that is not a name or a field path', () => {
    expect(templateNames('{{count}} reads by {{ userIdentity.arn }} of {{requestParameters.secretId}}')).toEqual(['count', 'userIdentity.arn', 'requestParameters.secretId'])
    expect(() => templateNames('{{count * 2}}')).toThrow('{{count * 2}} is not a value')
    expect(() => templateNames('{{}}')).toThrow('{{}} is not a value')
  })

  it('puts each value in once, as text: a value that looks like a template stays as it is', () => {
    const values = { 'userIdentity.userName': '{{account}}', account: '111122223333', long: 'x'.repeat(300) }
    expect(renderTemplate('{{userIdentity.userName}} in {{account}}{{missing}}', values)).toBe('{{account}} in 111122223333')
    expect(renderTemplate('{{long}}', values)).toBe(`${'x'.repeat(200)}…`)
  })

  it('picks a severity by exact value first, then by the highest bound reached, else the rule level', () => {
    const template = { from: '{{v}}', equals: { Root: 'critical' as const }, atLeast: { 10: 'high' as const, 5: 'medium' as const } }
    const at = (v: string) => templatedSeverity(template, { v }, 'low')
    expect([at('Root'), at('12'), at('10'), at('7'), at('4'), at('IAMUser'), at('')]).toEqual(['critical', 'high', 'high', 'medium', 'low', 'low', 'low'])
    expect(templatedSeverity(undefined, {}, 'medium')).toBe('medium')
  })
})
