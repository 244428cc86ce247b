import { expect, it } from 'vitest'
import type { Finding } from './define.js'
import { findingText } from './engine.js'

it('prints a finding as one line, whatever control characters its event data holds', () => {
  const finding = { severity: 'high', detector: 'unusual-source-ip', title: 'carol acted from x\n\u001b[2JHIGH forged line\u202e' } as Finding
  const text = findingText(finding)
  expect(text).toBe('HIGH     unusual-source-ip  carol acted from x\\n\\u001b[2JHIGH forged line\\u202e')
  for (const raw of ['\n', '\u001b', '\u202e']) expect(text).not.toContain(raw)
})
