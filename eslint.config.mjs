// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Dependencies point one way, inwards to the domain: these blocks keep them so. */
const layer = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.stack/',
      'bench/results/',
      'bench/streams/target/',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowRegExp: false },
      ],
      '@typescript-eslint/consistent-type-definitions': ['error', 'interface'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  layer(
    ['src/domain/**/*.ts'],
    [
      {
        group: [
          'kafkajs',
          'avsc',
          '@kafkajs/*',
          'pino',
          'node:*',
          '**/kafka/**',
          '**/engine/**',
          '**/serde/**',
          '**/state/**',
          '**/rollup/**',
          '**/cli/**',
          '**/observability/**',
        ],
        message: 'domain/ is pure: no I/O, no libraries, no outer layers.',
      },
    ],
  ),
  layer(
    ['src/config/**/*.ts', 'src/errors/**/*.ts'],
    [
      {
        group: [
          'kafkajs',
          '**/kafka/**',
          '**/engine/**',
          '**/domain/**',
          '**/serde/**',
          '**/state/**',
          '**/cli/**',
          '**/observability/**',
        ],
        message: 'config/ and errors/ are the bottom layer.',
      },
    ],
  ),
  layer(
    ['src/state/**/*.ts', 'src/serde/**/*.ts', 'src/observability/**/*.ts'],
    [
      {
        group: ['kafkajs', '**/engine/**', '**/cli/**'],
        message: 'only src/kafka imports kafkajs; engine and cli sit above this layer.',
      },
    ],
  ),
  layer(
    ['src/engine/**/*.ts'],
    [
      {
        group: [
          'kafkajs',
          'avsc',
          '@kafkajs/*',
          '**/kafka/**',
          '**/serde/**',
          '**/cli/**',
          '**/app/**',
          '**/negative-controls/**',
        ],
        message:
          'the engine owns its ports (types included): src/app wires the kafka/ and serde/ adapters, and the test-only negative controls, into them.',
      },
      {
        group: ['**/domain/**', '**/rollup/**', '**/state/**'],
        message:
          'the engine is generic: processors (src/rollup, examples/) plug into its contracts, it never imports them.',
      },
    ],
  ),
  layer(
    ['src/rollup/**/*.ts'],
    [
      {
        group: [
          'kafkajs',
          'avsc',
          '@kafkajs/*',
          '**/kafka/**',
          '**/cli/**',
          '**/app/**',
          '**/observability/**',
        ],
        message:
          'a processor computes: it gets its serdes and lookups at construction (src/app wires them), never a client.',
      },
    ],
  ),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/exit.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'exit',
          message: 'return an exit code (or throw CommandError); only exitProcess in src/cli/exit.ts exits.',
        },
      ],
    },
  },
  layer(
    ['src/ops/**/*.ts'],
    [
      {
        group: [
          'kafkajs',
          'avsc',
          '@kafkajs/*',
          'pino',
          'prom-client',
          'node:*',
          '**/kafka/**',
          '**/engine/**',
          // The header names of dead letters and lineage are data, owned by the engine.
          '!**/engine/dead-letter.js',
          '!**/engine/lineage.js',
          '**/serde/**',
          '**/state/**',
          '**/cli/**',
          '**/observability/**',
          '**/audit/**',
          '**/config/**',
        ],
        message: 'ops/ is pure: operator logic over data handed in; only domain/ below it.',
      },
    ],
  ),
  layer(
    ['src/audit/**/*.ts'],
    [
      {
        group: [
          '**/domain/**',
          '**/serde/**',
          '**/state/**',
          '**/engine/**',
          '**/kafka/**',
          '**/cli/**',
          '**/ops/**',
          '@kafkajs/*',
        ],
        message:
          'the auditor is a separate judge: it reads, decodes and judges with its own code, never the stage’s.',
      },
    ],
  ),
  // Transport access only, so the auditor may share it (src/audit imports it; nothing above forbids that).
  layer(
    ['src/kafkajs-internals/**/*.ts'],
    [
      {
        group: [
          '**/domain/**',
          '**/config/**',
          '**/serde/**',
          '**/state/**',
          '**/engine/**',
          '**/kafka/**',
          '**/cli/**',
          '**/ops/**',
          '**/audit/**',
          '**/observability/**',
        ],
        message: 'kafkajs-internals sits below every user of kafkajs: kafkajs, node and errors/ only.',
      },
    ],
  ),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/kafkajs-internals/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          'Literal[value=/^kafkajs\\/src(\\/|$)/]',
          'TemplateElement[value.raw=/^kafkajs\\/src(\\/|$)/]',
        ].map((selector) => ({
          selector,
          message: 'only src/kafkajs-internals reaches kafkajs/src: use its typed accessors.',
        })),
        {
          selector: 'Literal[value=/^private:Kafka:/]',
          message: 'only src/kafkajs-internals reaches kafkajs private symbols: use createInternalCluster.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'integration/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
