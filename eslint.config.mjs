// Flat config: typescript-eslint with type information, plus the fences between the rooms of the house
// (docs/architecture.md): domain/ is pure and imports nothing of ours; workflows/ run in Temporal's deterministic
// sandbox and import only domain/ (types from activities/); activities/ never import workflows/, workers/ or cli/;
// api/ (the API process) imports domain/, activities/ read helpers, workflows/messages and workers/config only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
const ioLibraries = [
  '@aws-sdk/*',
  'fluent-ffmpeg',
  '@kubernetes/*',
  'prom-client',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

/** Import patterns that reach into the named top-level folders from anywhere below the repository root. */
const ourOtherRooms = (rooms) => rooms.flatMap((room) => [`**/${room}`, `**/${room}/**`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.run/**', 'coverage/**', 'helm/**', 'k8s/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The fences between the rooms (docs/architecture.md). Each block is the whole list for its folder, because a
  // later block's no-restricted-imports replaces an earlier one's for the same file.
  {
    files: ['domain/**/*.ts'],
    ignores: ['domain/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'domain/ is pure: no Node built-ins. Effects belong in activities/.',
          })),
          patterns: [
            { group: ['../*', '../**'], message: 'domain/ imports nothing of ours outside domain/.' },
            { group: ioLibraries, message: 'domain/ is pure: no I/O libraries.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'domain/ is pure: configuration arrives as arguments.' },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code is deterministic: no Node built-ins. Do I/O in an activity.',
          })),
          patterns: [
            { group: ioLibraries, message: 'Workflow code must not do I/O: call an activity instead.' },
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message:
                'workflows/ imports activities/ for types only (import type …); shared code goes in domain/.',
            },
            {
              group: ourOtherRooms(['workers', 'cli', 'api', 'scripts', 'bench', 'test']),
              message: 'workflows/ imports only domain/ and Temporal’s workflow API.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'process', message: 'Configuration reaches workflows as input.' },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    ignores: ['activities/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ourOtherRooms(['workflows', 'workers', 'cli', 'api', 'scripts', 'bench', 'test']),
              message:
                'activities/ never imports workflows/, workers/ or cli/: take what you need as a dependency (factory argument) or from domain/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['api/**/*.ts'],
    ignores: ['api/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...[
              { group: ourOtherRooms(['cli', 'scripts', 'bench', 'test']) },
              // Regular expressions, because a glob cannot exclude a folder and re-include one file of it.
              { regex: '(^|/)workflows($|/(?!messages$))' },
              { regex: '(^|/)workers($|/(?!(config|temporal-connection|payload-codec|assertion-keys)$))' },
            ].map((pattern) => ({
              ...pattern,
              message:
                'api/ imports only domain/, activities/ (read helpers), workflows/messages and workers/config (with how custody talks to Temporal: workers/temporal-connection, workers/payload-codec, workers/assertion-keys).',
            })),
            {
              group: ['@temporalio/worker', '@temporalio/workflow'],
              message: 'The API is a Temporal client: it sends Queries and Updates, it never runs workers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
  prettier,
);
