import { expect, it } from 'vitest'
import { globMatches, wildcardRegExp } from './glob.js'

it('reads * as any run and, where asked, ? as one character; everything else is literal', () => {
  expect(globMatches('arn:aws:iam::111122223333:role/ci-*', 'arn:aws:iam::111122223333:role/ci-deploy')).toBe(true)
  expect(globMatches('arn:aws:iam::111122223333:role/ci-*', 'arn:aws:iam::111122223333:role/cix-deploy')).toBe(false)
  // A principal pattern's ? and . are the characters themselves.
  expect(globMatches('user/a?b.c', 'user/a?b.c')).toBe(true)
  expect(globMatches('user/a?b.c', 'user/axbxc')).toBe(false)
  // IAM actions and Sigma names: ? is any one character; flags carry over.
  expect(wildcardRegExp('s3:Get?bject', { anyOne: true, flags: 'i' }).test('S3:GETOBJECT')).toBe(true)
  expect(wildcardRegExp('s3:Get?bject', { anyOne: true }).test('s3:GetObjectAcl')).toBe(false)
  expect(wildcardRegExp('(a|b)+').test('a')).toBe(false)
})
