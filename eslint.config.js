import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bin/', '.moto/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', '.dependency-cruiser.cjs', '.dependency-cruiser.folders.cjs', 'kafka/*.mjs', 'aws/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }],
      // Indexing a typed array or a checked tuple: an `as` cast says what is known, `!` is forbidden.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
    },
  },
  {
    // A function a reader takes in at once. Tests may be longer: each is one story.
    files: ['**/*.ts'],
    ignores: ['**/*.test.ts', 'test/**', 'scripts/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  // Fastify's plugins and hooks are async by contract, whether or not they await anything.
  { files: ['src/console/console.ts', 'src/console/routes.ts', 'src/console/scope.ts', 'src/ops/server.ts'], rules: { '@typescript-eslint/require-await': 'off' } },
  { files: ['eslint.config.js', '.dependency-cruiser.cjs', '.dependency-cruiser.folders.cjs', 'kafka/*.mjs', 'aws/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['.dependency-cruiser.cjs', '.dependency-cruiser.folders.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } } },
  { files: ['kafka/*.mjs', 'aws/*.mjs'], languageOptions: { globals: { console: 'readonly', process: 'readonly', setTimeout: 'readonly' } } },
)
