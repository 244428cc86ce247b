import { describe, expect, it } from 'vitest'
import { checkStatementClass, checkSyntaxTree } from './sql-guard.js'

describe('the engine’s reading of a person’s query', () => {
  it('lets one reading statement through', () => {
    expect(() => { checkStatementClass({ statements: 1, kind: 'read' }); }).not.toThrow()
  })

  it('refuses several statements, writes, and what changes the session or files', () => {
    expect(() => { checkStatementClass({ statements: 2, kind: 'read' }); }).toThrow('one statement at a time')
    expect(() => { checkStatementClass({ statements: 1, kind: 'write' }); }).toThrow(/changes the store/)
    expect(() => { checkStatementClass({ statements: 1, kind: 'control' }); }).toThrow(/INTO OUTFILE/)
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
    expect(() => { checkSyntaxTree(tree('InsertQuery   (children 1)\n Identifier t')); }).toThrow('only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN may run here, not InsertQuery')
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
