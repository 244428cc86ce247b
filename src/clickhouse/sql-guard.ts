import { AppError } from '../errors.js'

/** A person's SQL that may not run as asked: the message says why. */
export class RefusedQueryError extends AppError {
  constructor(message: string) {
    super('QUERY_REFUSED', message)
  }
}

/**
 * The words of a statement outside string literals, quoted identifiers and comments, and whether a
 * `;` ends one statement before another begins. ClickHouse's own parser judges everything else
 * (`EXPLAIN AST`); this only finds what must be refused before the engine sees the text at all,
 * since the embedded engine runs every statement of a multi-statement text.
 */
export function lexWords(sql: string): { words: string[]; statements: number } {
  const words: string[] = []
  let statements = 0
  let sawContent = false
  let i = 0
  const skipQuoted = (quote: string) => {
    i++
    while (i < sql.length) {
      const c = sql[i]
      if (c === '\\') i += 2
      else if (c === quote && sql[i + 1] === quote) i += 2
      else if (c === quote) {
        i++
        return
      } else i++
    }
  }
  while (i < sql.length) {
    const c = sql[i] as string
    if (c === "'" || c === '"' || c === '`') {
      skipQuoted(c)
      sawContent = true
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++
    } else if (c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 2
    } else if (c === '$' && /^\$\w*\$/.test(sql.slice(i))) {
      // A heredoc string: $tag$ … $tag$.
      const tag = (/^\$\w*\$/.exec(sql.slice(i)) as RegExpExecArray)[0]
      const end = sql.indexOf(tag, i + tag.length)
      i = end < 0 ? sql.length : end + tag.length
      sawContent = true
    } else if (c === ';') {
      if (sawContent) statements++
      sawContent = false
      i++
    } else if (/[A-Za-z_]/.test(c)) {
      const word = (/^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i)) as RegExpExecArray)[0]
      words.push(word.toUpperCase())
      i += word.length
      sawContent = true
    } else {
      if (!/\s/.test(c)) sawContent = true
      i++
    }
  }
  if (sawContent) statements++
  return { words, statements }
}

/** Statements that only read, by the name ClickHouse's parser gives them. */
const READING_STATEMENTS = /^(SelectWithUnionQuery|SelectIntersectExceptQuery|ShowTables|ShowColumns|DescribeQuery|ExistsTableQuery|ShowCreateTableQuery|Explain)/
/** Table functions that make rows up rather than read them from somewhere. */
const SAFE_TABLE_FUNCTIONS = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generateseries', 'generate_series', 'values', 'null'])
/** Functions that read outside the store: a file on the machine. */
const OUTSIDE_FUNCTIONS = new Set(['file'])

/** Refuses what the text alone shows: several statements, or writing the result to a file. */
export function checkText(sql: string): void {
  const { words, statements } = lexWords(sql)
  if (statements === 0) throw new RefusedQueryError('no SQL to run')
  if (statements > 1) throw new RefusedQueryError('one statement at a time')
  if (words.some((word, i) => word === 'INTO' && words[i + 1] === 'OUTFILE')) throw new RefusedQueryError('INTO OUTFILE writes a file on this machine: not allowed here')
}

/** Refuses what the parsed statement shows (`EXPLAIN AST` lines): anything but reading the store. */
export function checkSyntaxTree(lines: string[]): void {
  const [root = ''] = lines
  if (!READING_STATEMENTS.test(root.trim())) throw new RefusedQueryError(`only SELECT, SHOW, DESCRIBE and EXISTS may run here, not ${root.trim().split(' ')[0] ?? 'this'}`)
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
