import { describe, expect, it } from 'vitest'
import { attackCoverage, tacticOf } from './tactics.js'

describe('ATT&CK coverage', () => {
  it('puts each technique under the tactic it serves first, in the order of an intrusion, with the detectors that name it', () => {
    const coverage = attackCoverage([
      { id: 'rule:b', attack: ['T1485', 'T1098.001'] },
      { id: 'rule:a', attack: ['T1485'] },
      { id: 'unusual-source-ip', attack: ['T1078.004'] },
      { id: 'data-freshness', attack: [] },
    ])
    expect(coverage).toEqual({
      tactics: [
        { tactic: 'initial-access', techniques: [{ technique: 'T1078.004', detectors: ['unusual-source-ip'] }] },
        { tactic: 'persistence', techniques: [{ technique: 'T1098.001', detectors: ['rule:b'] }] },
        { tactic: 'impact', techniques: [{ technique: 'T1485', detectors: ['rule:a', 'rule:b'] }] },
      ],
      unmapped: ['data-freshness'],
    })
  })

  it('keeps a technique the catalogue does not place, under other', () => {
    expect(tacticOf('T9999')).toBe('')
    expect(attackCoverage([{ id: 'rule:mine', attack: ['T9999'] }]).tactics).toEqual([{ tactic: 'other', techniques: [{ technique: 'T9999', detectors: ['rule:mine'] }] }])
  })
})
