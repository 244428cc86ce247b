import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DETECTORS } from '../detectors/registry.js'
import { builtInRulesDir, loadRuleFiles } from '../detectors/rule-files.js'
import { captureOf, coverageTable, STRATUS_COVERAGE, STRATUS_TECHNIQUES, TABLE_END, TABLE_START } from './stratus-coverage.js'

const RUNNING = new Set([...DETECTORS.map((d) => d.id), ...loadRuleFiles([builtInRulesDir()]).rules.map((rule) => rule.detector.id)])

describe('Stratus Red Team coverage', () => {
  it('names a detector or rule that runs for every technique of the catalogue, and nothing else', () => {
    expect(STRATUS_COVERAGE.map((c) => c.technique).sort()).toEqual(STRATUS_TECHNIQUES.map((t) => t.id).sort())
    expect(STRATUS_COVERAGE.filter((c) => !RUNNING.has(c.detector))).toEqual([])
  })

  it('has a capture of every technique', () => {
    expect(STRATUS_TECHNIQUES.filter((t) => !captureOf(t.id)).map((t) => t.id)).toEqual([])
  })

  it('is the table in the README (npm run coverage:table writes it)', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8')
    const section = readme.slice(readme.indexOf(TABLE_START), readme.indexOf(TABLE_END) + TABLE_END.length)
    expect(section).toBe(coverageTable())
    expect(section).not.toContain('**none**')
  })
})
