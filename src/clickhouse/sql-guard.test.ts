import { describe, expect, it } from 'vitest'
import { checkSyntaxTree, checkText, lexWords } from './sql-guard.js'

describe('the text of a person’s query', () => {
  it('counts statements by the semicolons outside strings, identifiers and comments', () => {
    expect(lexWords('SELECT 1').statements).toBe(1)
    expect(lexWords('SELECT 1;  -- done\n').statements).toBe(1)
    expect(lexWords("SELECT ';' AS a, `b;c`, \"d;e\" /* ; */").statements).toBe(1)
    expect(lexWords("SELECT 'it''s; fine', 'back\\'slash;'").statements).toBe(1)
    expect(lexWords('SELECT $tag$ ; $tag$').statements).toBe(1)
    expect(lexWords('SELECT 1; DROP TABLE events').statements).toBe(2)
    expect(lexWords("SELECT 'x' ;DROP TABLE events").statements).toBe(2)
  })

  it('refuses several statements, nothing at all, and INTO OUTFILE', () => {
    expect(() => { checkText('SELECT 1; DROP TABLE events'); }).toThrow('one statement at a time')
    expect(() => { checkText('  -- nothing\n'); }).toThrow('no SQL to run')
    expect(() => { checkText("SELECT * FROM events INTO  OUTFILE '/tmp/x'"); }).toThrow(/INTO OUTFILE writes a file/)
    expect(() => { checkText("SELECT 'INTO OUTFILE' AS words"); }).not.toThrow()
  })
})

// As `EXPLAIN AST` prints them.
const tree = (text: string) => text.trim().split('\n')

describe('the parsed statement', () => {
  it('lets reading statements through', () => {
    expect(() => { checkSyntaxTree(tree('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 2)\n   TablesInSelectQuery (children 1)\n    TablesInSelectQueryElement (children 1)\n     TableExpression (children 1)\n      TableIdentifier events')); }).not.toThrow()
    expect(() => { checkSyntaxTree(tree('ShowTables')); }).not.toThrow()
    expect(() => { checkSyntaxTree(tree('DescribeQuery (children 1)\n TableExpression (children 1)\n  TableIdentifier events')); }).not.toThrow()
    expect(() => { checkSyntaxTree(tree('SelectWithUnionQuery (children 1)\n   TableExpression (children 1)\n    Function numbers (children 1)')); }).not.toThrow()
  })

  it('refuses writes, settings, file() and table functions that reach outside', () => {
    expect(() => { checkSyntaxTree(tree('InsertQuery   (children 1)\n Identifier t')); }).toThrow('only SELECT, SHOW, DESCRIBE and EXISTS may run here, not InsertQuery')
    expect(() => { checkSyntaxTree(tree('DropQuery  events')); }).toThrow(/not DropQuery/)
    expect(() => { checkSyntaxTree(tree('SelectWithUnionQuery (children 1)\n  SelectQuery (children 2)\n   Set')); }).toThrow(/SETTINGS in a query/)
    expect(() => { checkSyntaxTree(tree("SelectWithUnionQuery (children 1)\n    Function file (children 1)\n     ExpressionList (children 1)\n      Literal '/etc/passwd'")); }).toThrow('file() reads outside the store')
    for (const name of ['url', 'remote', 's3', 'mysql', 'executable']) {
      expect(() => { checkSyntaxTree(tree(`SelectWithUnionQuery (children 1)\n     TableExpression (children 1)\n      Function ${name} (children 1)`)); }).toThrow(`the table function ${name}() reaches outside the store`)
    }
    // The same name as an ordinary function in an expression is not a table function.
    expect(() => { checkSyntaxTree(tree('SelectWithUnionQuery (children 1)\n   ExpressionList (children 1)\n    Function remote (children 1)')); }).not.toThrow()
  })
})
