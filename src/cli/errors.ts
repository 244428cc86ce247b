import { AppError } from '../errors.js'

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
}

/**
 * What a person reads when a command fails: one line for a mistake or a known condition (an error
 * raised on purpose, a file that cannot be read), the stack only for what is a bug.
 */
export function userMessage(err: unknown): string {
  if (err instanceof AppError) return err.message
  const { code, path, syscall } = err as NodeJS.ErrnoException
  if (code && path && code in FILE_ERRORS) {
    const verb = syscall && ['open', 'read', 'stat', 'lstat', 'scandir', 'access'].includes(syscall) ? 'read' : 'write'
    return `cannot ${verb} ${path}: ${FILE_ERRORS[code] ?? code}`
  }
  return err instanceof Error ? (err.stack ?? err.message) : String(err)
}
