/** The floor plan's rule on folders, checked on production code alone (`npm run lint:imports`): a test may reach across folders. */
module.exports = {
  extends: './.dependency-cruiser.cjs',
  forbidden: [
    {
      name: 'no-cycles-between-folders',
      severity: 'error',
      comment: 'Folders that import each other are one folder in two places: move what both need below both.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
}
