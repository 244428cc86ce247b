import { readFileSync } from 'node:fs'
import path from 'node:path'

/** trailwatch's version, from its package.json: above this file in the sources, and in the built `dist/`. */
export function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'trailwatch' && pkg.version) return pkg.version
    } catch {
      // not here: look one level up
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}
