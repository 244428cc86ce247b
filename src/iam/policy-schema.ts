/** Policy documents as AWS writes them, parsed: the shapes a snapshot and the managed-policy catalogue share. */
import { z } from 'zod'

/** A policy document as the API gives it (URL-encoded JSON text) or as the CLI prints it (decoded). */
const Document = z.union([
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(decodeURIComponent(text)) as unknown
    } catch {
      ctx.addIssue({ code: 'custom', message: 'a policy document that is neither JSON nor URL-encoded JSON' })
      return z.NEVER
    }
  }),
  z.record(z.string(), z.unknown()),
])

const Scalar = z.union([z.string(), z.number(), z.boolean()])
const Strings = z.union([z.string(), z.array(z.string())])
const Principal = z.union([z.literal('*'), z.record(z.string(), Strings)])
const StatementSchema = z.object({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: Strings.optional(),
  NotAction: Strings.optional(),
  Resource: Strings.optional(),
  NotResource: Strings.optional(),
  Principal: Principal.optional(),
  NotPrincipal: Principal.optional(),
  Condition: z.record(z.string(), z.record(z.string(), z.union([Scalar, z.array(Scalar)]))).optional(),
})
export type TrustStatement = z.output<typeof StatementSchema>
export const PolicySchema = z.object({ Version: z.string().optional(), Statement: z.union([StatementSchema, z.array(StatementSchema)]) })
export const PolicyText = Document.pipe(PolicySchema)

