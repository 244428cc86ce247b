/**
 * AWS clients as the SDK configures them: the standard credential chain (environment, profiles and
 * SSO, container and instance roles, web identity), the standard region settings and the standard
 * endpoint override (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>). Retries are the SDK's adaptive
 * mode unless AWS_RETRY_MODE says otherwise; with an endpoint override, S3 is addressed path-style,
 * as emulators and most S3-compatible stores need.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { SQSClient } from '@aws-sdk/client-sqs'
import { errorMessage } from '../errors.js'
import { textLine } from '../text.js'

type Env = Record<string, string | undefined>

// The SDK warns on every Node 20 process that its releases after January 2027 need Node 22: the
// versions the lockfile pins run on Node 20, and a command's error stream is for its own errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/** What every client is given beyond the SDK's own defaults. */
export function awsSettings(env: Env = process.env): { retryMode: string } {
  return { retryMode: env.AWS_RETRY_MODE ?? 'adaptive' }
}

export function s3Client(env: Env = process.env): S3Client {
  return new S3Client({ ...awsSettings(env), forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) })
}

export function sqsClient(env: Env = process.env): SQSClient {
  return new SQSClient(awsSettings(env))
}

/** What AWS (or whatever answers at its endpoint) said, as one line of visible text: it goes into a person's terminal. */
export function awsText(err: unknown): string {
  return textLine(errorMessage(err))
}

const DENIED = /^(AccessDenied|AccessDeniedException|Forbidden|AuthorizationError)$/
const BAD_CREDENTIALS = /^(InvalidClientTokenId|UnrecognizedClientException|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|ExpiredTokenException)$/

/**
 * Why AWS refused a call, in words that name what to change (the thing, the permission, the
 * credentials); undefined when the failure may pass and trying again is right.
 */
export function awsRefusal(err: unknown, permission: string): string | undefined {
  const name = (err as { name?: unknown }).name
  if (typeof name !== 'string') return undefined
  if (name === 'NoSuchBucket') return 'no such bucket'
  if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') return 'no such queue'
  if (DENIED.test(name)) return `access denied (the credentials in use need ${permission})`
  if (name === 'CredentialsProviderError') return 'no AWS credentials found (environment, profile, SSO, container or instance role)'
  if (BAD_CREDENTIALS.test(name)) return `the AWS credentials in use were refused: ${awsText(err)}`
  return undefined
}
