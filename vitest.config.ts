import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'ingest/**/*.test.ts', 'detectors/**/*.test.ts', 'run/**/*.test.ts', 'test/**/*.test.ts'],
    // The embedded engine admits one data directory per process: every test file gets its own process.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
