/** Writes the README's Stratus Red Team coverage table from the catalogue and test/stratus-coverage.ts. */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { coverageTable, TABLE_END, TABLE_START } from '../test/stratus-coverage.js'

const readme = path.resolve(import.meta.dirname, '../README.md')
const text = readFileSync(readme, 'utf8')
const start = text.indexOf(TABLE_START)
const end = text.indexOf(TABLE_END)
if (start < 0 || end < start) throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END} section`)
writeFileSync(readme, text.slice(0, start) + coverageTable() + text.slice(end + TABLE_END.length))
console.log('README.md: coverage table written')
