import { readFileSync } from 'node:fs'
import path from 'node:path'

interface Package {
  root: string
  version: string
}

let found: Package | undefined

/** trailwatch's own package.json: above this file in the sources, and above the built `dist/`. */
function ownPackage(): Package {
  if (found) return found
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'trailwatch' && pkg.version) return (found = { root: dir, version: pkg.version })
    } catch {
      // not here: look one level up
    }
    if (path.dirname(dir) === dir) throw new Error(`trailwatch's package.json is not above ${import.meta.dirname}`)
  }
}

export function packageVersion(): string {
  return ownPackage().version
}

/** A path inside the installed package, such as the built-in rules. */
export function packagePath(...parts: string[]): string {
  return path.join(ownPackage().root, ...parts)
}
