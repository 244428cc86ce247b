import type { z } from 'zod'

/** Base of every error trailwatch raises on purpose: a stable code, and whether trying again can help. */
export class AppError extends Error {
  readonly code: string
  readonly retriable: boolean

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/** A setting is missing or wrong; the message names it. */
export class ConfigError extends AppError {
  constructor(message: string) {
    super('CONFIG', message)
  }
}

/** Input that can never become an event: dead-letter it with the reason and keep going. */
export class InvalidEventError extends AppError {
  constructor(message: string) {
    super('INVALID_EVENT', message)
  }
}

/** The store refused or could not be reached: retry, and never acknowledge what was not stored. */
export class StorageError extends AppError {
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super('STORAGE', message, { retriable: options.retriable ?? true, cause: options.cause })
  }
}

/** A message was not delivered: retried later unless the server refused it for good. */
export class DeliveryError extends AppError {
  constructor(message: string, options: { permanent: boolean; cause?: unknown }) {
    super('DELIVERY', message, { retriable: !options.permanent, cause: options.cause })
  }
}

/** The data directory is held by another process. */
export class StoreLockedError extends AppError {
  constructor(message: string) {
    super('STORE_LOCKED', message)
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** What a schema found wrong, one `path: message` per problem, the first `limit` of them. */
export function issueLines(error: z.ZodError, limit = Number.POSITIVE_INFINITY): string[] {
  return error.issues.slice(0, limit).map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`)
}
