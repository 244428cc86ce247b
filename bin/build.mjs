#!/usr/bin/env node
// `npm run build` when the built code in dist/ is older than its sources, and nothing otherwise:
// npm runs `prepare` again when `npx trailwatch` first links the project, and that must not rebuild.
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const SOURCES = ['cli.ts', 'src', 'ingest', 'detectors', 'run', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']

function newest(entry) {
  const stats = statSync(entry, { throwIfNoEntry: false })
  if (!stats) return 0
  if (!stats.isDirectory()) return stats.mtimeMs
  return Math.max(0, ...readdirSync(entry).map((name) => newest(path.join(entry, name))))
}

const built = statSync(path.join(root, 'dist', 'cli.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0
if (built < Math.max(...SOURCES.map((source) => newest(path.join(root, source))))) {
  process.stderr.write('trailwatch: building dist/ from the TypeScript sources (tsc)…\n')
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
}
