// Rebuilds the catalogue of AWS managed policies from a checkout of iann0036/iam-dataset (MIT):
//   git clone --depth 1 https://github.com/iann0036/iam-dataset /tmp/iam-dataset
//   npm run policies:refresh -- /tmp/iam-dataset
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { CATALOGUE_FILE, catalogueOf } from '../src/iam/managed-policies.js'
import { packagePath } from '../src/package.js'

const checkout = process.argv[2]
if (!checkout) {
  console.error('usage: npm run policies:refresh -- PATH_TO_IAM_DATASET_CHECKOUT')
  process.exit(2)
}
const folder = path.join(checkout, 'aws', 'managedpolicies')
const files = readdirSync(folder)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(path.join(folder, name), 'utf8')) as unknown)
const catalogue = catalogueOf(files, 'https://github.com/iann0036/iam-dataset (aws/managedpolicies), MIT')
const target = packagePath(...CATALOGUE_FILE)
writeFileSync(target, gzipSync(JSON.stringify(catalogue), { level: 9 }))
copyFileSync(path.join(checkout, 'LICENSE'), path.join(path.dirname(target), 'LICENSE'))
console.log(`${String(Object.keys(catalogue.policies).length)} AWS managed policies, as of ${catalogue.as_of}: ${path.relative(process.cwd(), target)}`)
