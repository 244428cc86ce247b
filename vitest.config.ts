import { defineConfig } from 'vitest/config'

const FOLDERS = ['src', 'ingest', 'detectors', 'run', 'test']

export default defineConfig({
  test: {
    // The embedded engine admits one data directory per process: every test file gets its own process.
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // Functions and the embedded engine in-process: no broker, no Java, no child processes.
        test: { name: 'unit', include: FOLDERS.map((folder) => `${folder}/**/*.test.ts`), exclude: ['**/*.int.test.ts'] },
      },
      {
        extends: true,
        // The command as users run it, next to a real Kafka broker and SMTP server.
        test: { name: 'integration', include: FOLDERS.map((folder) => `${folder}/**/*.int.test.ts`), globalSetup: ['test/global-setup.ts'] },
      },
    ],
  },
})
