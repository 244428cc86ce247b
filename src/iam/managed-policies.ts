/**
 * AWS managed policies known by name: a dated catalogue of their documents, shipped with trailwatch,
 * for snapshots that attach one without including its document (exports filtered to local
 * policies, emulators). Built from iann0036/iam-dataset by `npm run policies:refresh`.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { z } from 'zod'
import { packagePath } from '../package.js'
import { PolicySchema } from './policy-schema.js'
import type { PolicyDocument } from './policy.js'

export const CATALOGUE_FILE = ['catalogue', 'aws-managed-policies', 'policies.json.gz']

const CatalogueEntry = z.object({ version: z.string(), updated: z.string(), document: PolicySchema })
export const Catalogue = z.object({
  source: z.string(),
  /** The newest policy update the catalogue knows: policies changed later are judged as they were then. */
  as_of: z.string(),
  policies: z.record(z.string(), CatalogueEntry),
})
export type Catalogue = z.output<typeof Catalogue>

/** A policy file of the dataset: what the catalogue keeps of it. */
const DatasetPolicy = z.object({ arn: z.string().startsWith('arn:aws:iam::aws:policy/'), version: z.string(), updatedate: z.string(), document: PolicySchema })

/** The catalogue made from the dataset's policy files (their parsed JSON), sorted by ARN so a refresh diffs well. Deprecated policies the dataset keeps without an ARN are left out. */
export function catalogueOf(files: unknown[], source: string): Catalogue {
  const named = files.filter((file) => typeof (file as { arn?: unknown }).arn === 'string')
  const policies = named.map((file) => DatasetPolicy.parse(file)).sort((a, b) => a.arn.localeCompare(b.arn))
  return {
    source,
    as_of: policies.reduce((latest, p) => (p.updatedate > latest ? p.updatedate : latest), '').slice(0, 10),
    policies: Object.fromEntries(policies.map((p) => [p.arn, { version: p.version, updated: p.updatedate.slice(0, 10), document: p.document }])),
  }
}

let shipped: Catalogue | undefined

/** The catalogue trailwatch ships, read once. */
export function managedPolicyCatalogue(): Catalogue {
  shipped ??= Catalogue.parse(JSON.parse(gunzipSync(readFileSync(packagePath(...CATALOGUE_FILE))).toString('utf8')))
  return shipped
}

/** An AWS managed policy's document by its ARN in any partition (`arn:aws-us-gov:iam::aws:policy/…` too), if the catalogue has it. */
export function awsManagedDocument(arn: string): PolicyDocument | undefined {
  const match = /^arn:aws[\w-]*:iam::aws:policy\/(.+)$/.exec(arn)
  return match ? managedPolicyCatalogue().policies[`arn:aws:iam::aws:policy/${match[1] ?? ''}`]?.document : undefined
}
