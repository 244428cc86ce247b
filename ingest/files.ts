import { createReadStream } from 'node:fs'
import { lstat, open, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { createGunzip } from 'node:zlib'
import { AppError, errorMessage } from '../src/errors.js'

export interface InputFile {
  path: string
  size: number
  /** NDJSON: one document per line, so a broken line costs only itself. */
  lineDelimited: boolean
  /** Why the file is not read, though found: recorded as rejected input rather than passed over in silence. */
  refused?: string
  /** Opens an input that is not a local file (an S3 object). */
  open?: () => Promise<OpenedInput>
  /** The version of a remote input (an S3 ETag): once read whole, it is remembered and not read again. */
  version?: string
}

const RECOGNISED = /\.(json|jsonl|ndjson)(\.gz)?$/i
const LINE_DELIMITED = /\.(jsonl|ndjson)(\.gz)?$/i

const LINK_REFUSED = 'a symbolic link inside a directory: not followed; name its target to read it'
/** A FIFO, socket or device: opening it could wait for ever, so it is named, not read. */
const NOT_REGULAR = 'not a regular file (a FIFO, socket or device): not read'

/**
 * The files to read: named files whatever their name, and inside directories (recursively) the
 * files named like CloudTrail input (.json, .jsonl, .ndjson, each optionally .gz), in path order.
 * A link is followed only when named and `followNamedLinks` (a person's command line, not the inbox).
 */
export async function listInputFiles(paths: string[], { followNamedLinks = true } = {}): Promise<InputFile[]> {
  const files: InputFile[] = []
  for (const given of paths) {
    const cannotRead = (err: unknown) => {
      throw new AppError('INPUT', `cannot read ${given}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : errorMessage(err)}`)
    }
    if (!followNamedLinks && (await lstat(given).catch(cannotRead)).isSymbolicLink()) {
      files.push({ ...describe(given, 0), refused: LINK_REFUSED })
      continue
    }
    const info = await stat(given).catch(cannotRead)
    if (info.isDirectory()) await walk(given, files)
    else if (info.isFile()) files.push(describe(given, info.size))
    else files.push({ ...describe(given, 0), refused: NOT_REGULAR })
  }
  return files
}

async function walk(directory: string, into: InputFile[]): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true })
  entries.sort((a, b) => a.name.localeCompare(b.name))
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue
    const full = path.join(directory, entry.name)
    if (entry.isDirectory()) await walk(full, into)
    else if (entry.isFile() && RECOGNISED.test(entry.name)) into.push(describe(full, (await stat(full)).size))
    // A link could lead anywhere on the machine (the inbox is a drop box): named on the command line it is read.
    else if (entry.isSymbolicLink() && RECOGNISED.test(entry.name)) into.push({ ...describe(full, 0), refused: LINK_REFUSED })
    else if (!entry.isFile() && RECOGNISED.test(entry.name)) into.push({ ...describe(full, 0), refused: NOT_REGULAR })
  }
}

function describe(file: string, size: number): InputFile {
  // Absolute, so rejected input names the file whatever directory the command ran from.
  return { path: path.resolve(file), size, lineDelimited: LINE_DELIMITED.test(file) }
}

export interface OpenedInput {
  chunks: AsyncIterable<Buffer>
  /** Bytes read from disk so far (compressed bytes for gzip), for progress. */
  bytesRead: () => number
}

/**
 * The file's decompressed bytes as a stream. Gzip is recognised by its magic bytes, not the name:
 * downloads are often decompressed on the way but keep their `.gz`.
 */
export async function openInput(file: InputFile): Promise<OpenedInput> {
  const handle = await open(file.path, 'r')
  const magic = Buffer.alloc(2)
  try {
    await handle.read(magic, 0, 2, 0)
  } finally {
    await handle.close()
  }
  const raw = createReadStream(file.path, { highWaterMark: 256 * 1024 })
  const bytesRead = () => raw.bytesRead
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return { chunks: raw, bytesRead }
  const gunzip = createGunzip()
  raw.on('error', (err) => gunzip.destroy(err))
  return { chunks: raw.pipe(gunzip), bytesRead }
}
