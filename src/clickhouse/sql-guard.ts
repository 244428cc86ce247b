import { AppError } from '../errors.js'
import type { StatementClass } from './client.js'

/** A person's SQL that may not run as asked: the message says why. */
export class RefusedQueryError extends AppError {
  constructor(message: string) {
    super('QUERY_REFUSED', message)
  }
}

const WHAT_MAY_RUN = 'only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN may run here'

/** Refuses by the engine's own reading of the text: one statement, and one that only reads. */
export function checkStatementClass(statement: StatementClass): void {
  if (statement.statements > 1) throw new RefusedQueryError('one statement at a time')
  if (statement.kind === 'write') throw new RefusedQueryError(`${WHAT_MAY_RUN}; this one changes the store (trailwatch query --write, on the store itself)`)
  if (statement.kind === 'control') throw new RefusedQueryError(`${WHAT_MAY_RUN}; this one changes the session, the engine or files on this machine (USE, SET, KILL, SYSTEM, INTO OUTFILE, …)`)
}

/** Statements that only read, by the name ClickHouse's parser gives them. */
const READING_STATEMENTS = /^(SelectWithUnionQuery|SelectIntersectExceptQuery|ShowTables|ShowColumns|DescribeQuery|ExistsTableQuery|ShowCreateTableQuery|Explain)/
/** Table functions that make rows up rather than read them from somewhere. */
const SAFE_TABLE_FUNCTIONS = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generateseries', 'generate_series', 'values', 'null', 'view'])
/** Functions that read outside the store: a file on the machine. A read-only session still allows them. */
const OUTSIDE_FUNCTIONS = new Set(['file'])

/**
 * Refuses what the parsed statement shows (`EXPLAIN AST` lines): anything but reading the store.
 * A read-only session refuses writes and settings itself, but lets `DESCRIBE` infer a schema from a
 * file or a URL, and the `file()` function read one: those are refused here.
 */
export function checkSyntaxTree(lines: string[]): void {
  const [root = ''] = lines
  if (!READING_STATEMENTS.test(root.trim())) throw new RefusedQueryError(`${WHAT_MAY_RUN}, not ${root.trim().split(' ')[0] ?? 'this'}`)
  const depth = (line: string) => line.length - line.trimStart().length
  lines.forEach((line, i) => {
    const node = line.trim()
    if (node === 'Set' || node.startsWith('Set ')) throw new RefusedQueryError('SETTINGS in a query: not allowed here; the limits are fixed')
    const name = /^Function (\w+)/.exec(node)?.[1]?.toLowerCase()
    if (!name) return
    if (OUTSIDE_FUNCTIONS.has(name)) throw new RefusedQueryError(`${name}() reads outside the store: not allowed here`)
    // A function right under a table expression is a table function.
    const parent = lines.slice(0, i).findLast((candidate) => depth(candidate) < depth(line))
    if (parent?.trim().startsWith('TableExpression') && !SAFE_TABLE_FUNCTIONS.has(name)) {
      throw new RefusedQueryError(`the table function ${name}() reaches outside the store: not allowed here`)
    }
  })
}
