#!/usr/bin/env node
let cli
try {
  cli = await import('../dist/cli.js')
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err
  process.stderr.write('trailwatch: the built code is missing: run `npm ci` (or `npm run build`) in the trailwatch directory first\n')
  process.exit(1)
}
await cli.main(process.argv)
