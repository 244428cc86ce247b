/**
 * The architecture as rules: `npm run lint` fails when an import breaks one. docs/architecture.md
 * draws the floor plan these layers write down; .dependency-cruiser.folders.cjs adds the rule on
 * folders, which is checked on production code alone (a test may reach across folders).
 */

/** Commands live beside their feature, as `cli.ts`; they are surfaces, whatever folder holds them. */
const COMMANDS = '(^|/)cli\\.ts$'
const TESTS = '\\.test\\.ts$'

/** Lowest first: a module may import its own layer and those below it, never one above. */
const LAYERS = [
  { name: 'kit', comment: 'errors, time, text, config, logging, AWS clients and the CloudTrail model', path: ['^src/[^/]+\\.ts$', '^src/(aws|cloudtrail|simulate)/'] },
  { name: 'store', comment: 'ClickHouse: the client, the schema, the tables every part writes', path: ['^src/clickhouse/'] },
  { name: 'domain', comment: 'what is stored and what it means: alerts, containment, credentials, events, IAM, incidents, people', path: ['^src/(alerts|contain|credentials|events|iam|incidents|people)/'] },
  { name: 'pipelines', comment: 'work over the store: ingest, detectors, alerting, reports', path: ['^(ingest|detectors)/', '^src/(alerting|reports)/'] },
  { name: 'surfaces', comment: 'what a person uses: the console, the endpoints, the commands', path: ['^src/(console|ops|cli)/', COMMANDS] },
  { name: 'root', comment: '`run`, which joins everything, and the root command', path: ['^run/', '^cli\\.ts$'] },
]

const layerRules = LAYERS.slice(0, -1).map((layer, index) => ({
  name: `${layer.name}-imports-no-layer-above`,
  severity: 'error',
  comment: `${layer.name} (${layer.comment}) builds only on the layers below it: move what both need down, or turn the call around.`,
  // A command file belongs to the surfaces, and the root's files to the root, whatever else their path matches.
  from: { path: layer.path, pathNot: [TESTS, ...(layer.name === 'surfaces' ? LAYERS.at(-1).path : [COMMANDS])] },
  to: { path: LAYERS.slice(index + 1).flatMap((above) => above.path) },
}))

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle makes two modules one: break it by moving what both need into a third.',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'core-stays-core',
      severity: 'error',
      comment: 'src/ is the shared core: ingest, detectors and run build on it, never the reverse.',
      from: { path: '^src/', pathNot: TESTS },
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
