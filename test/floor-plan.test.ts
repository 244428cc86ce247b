import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { runProgram } from './helpers/cli.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise')

/** A tree laid out like the repository, holding only the given modules. */
function plant(modules: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-floor-plan-'))
  for (const config of ['.dependency-cruiser.cjs', '.dependency-cruiser.folders.cjs']) copyFileSync(path.join(ROOT, config), path.join(dir, config))
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }))
  for (const [file, text] of Object.entries(modules)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), text)
  }
  return dir
}

/** Both passes of `npm run lint:imports`, on that tree. */
async function lintImports(dir: string): Promise<{ code: number | null; output: string }> {
  const modules = await runProgram(DEPCRUISE, ['--config', '.dependency-cruiser.cjs', 'src'], { cwd: dir })
  const folders = await runProgram(DEPCRUISE, ['--config', '.dependency-cruiser.folders.cjs', '--exclude', '\\.test\\.ts$', 'src'], { cwd: dir })
  return { code: Math.max(modules.code ?? 1, folders.code ?? 1), output: modules.stdout + folders.stdout }
}

it('refuses an import that runs back up a layer, and folders that import each other', async () => {
  const planted = plant({
    // The store reaching up into the console: a layer above it.
    'src/clickhouse/client.ts': "import { page } from '../console/pages.js'\nexport const client = page\n",
    'src/console/pages.ts': 'export const page = 1\n',
    // Two folders of one layer, each importing a different module of the other: no cycle between modules.
    'src/alerts/table.ts': "import { timeline } from '../incidents/timeline.js'\nexport const table = timeline\n",
    'src/alerts/rows.ts': 'export const rows = 1\n',
    'src/incidents/timeline.ts': 'export const timeline = 1\n',
    'src/incidents/incidents.ts': "import { rows } from '../alerts/rows.js'\nexport const incidents = rows\n",
  })
  const { code, output } = await lintImports(planted)
  expect(code).not.toBe(0)
  expect(output).toContain('store-imports-no-layer-above: src/clickhouse/client.ts → src/console/pages.ts')
  expect(output).toMatch(/no-cycles-between-folders: src\/(alerts|incidents) →/)
  expect(output).not.toMatch(/\bno-cycles: /)

  // The same modules with the imports the plan allows: the console reading the store, one folder using another.
  const allowed = plant({
    'src/clickhouse/client.ts': 'export const client = 1\n',
    'src/console/pages.ts': "import { client } from '../clickhouse/client.js'\nexport const page = client\n",
    'src/alerts/table.ts': 'export const table = 1\n',
    'src/incidents/incidents.ts': "import { table } from '../alerts/table.js'\nexport const incidents = table\n",
  })
  expect(await lintImports(allowed)).toMatchObject({ code: 0 })
}, 60_000)
