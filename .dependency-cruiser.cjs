/** The architecture as rules: `npm run lint` fails when an import breaks one. */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle makes two modules one: break it by moving what both need into a third.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-stays-core',
      severity: 'error',
      comment: 'src/ is the shared core: ingest, detectors and run build on it, never the reverse.',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(ingest|detectors|run)/' },
    },
    {
      name: 'commands-from-the-root-only',
      severity: 'error',
      comment: 'A cli.ts holds commands; only the composition root (cli.ts) wires them. Services live in modules of their own.',
      from: { pathNot: '^cli\\.ts$' },
      to: { path: '/cli\\.ts$', pathNot: '^test/' },
    },
    {
      name: 'reports-use-alerting-never-the-reverse',
      severity: 'error',
      from: { path: '^src/alerting/' },
      to: { path: '^src/reports/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|data)/' },
    // Type-only imports count: a cycle through types is still a cycle of ideas.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
