/** Three projects: `unit` (pure logic, no servers), `workflow` (the real workflows against stub activities on a
 * Temporal dev server of its own, test/workflow/support/global-setup.ts) and `integration` (real Temporal,
 * versitygw, ffmpeg, started once per run by test/harness/global-setup.ts and stopped by PID in
 * global-teardown.ts). */
const swc = ['@swc/jest', { jsc: { target: 'es2022' } }];
/** ES-module-only packages: jest loads modules with require(), so @swc/jest rewrites them to CommonJS. These are
 * @kubernetes/client-node and the ESM-only packages it imports (openid-client -> oauth4webapi, jose); its other
 * dependencies ship CommonJS builds; cookie, which fastify's inject (light-my-request) imports; and the OpenAPI
 * validator's reference parser. A new ESM-only dependency fails with "Must use import to load ES Module: <file>"
 * until its package is added here. */
const esmOnlyPackages = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'cookie',
  '@apidevtools/json-schema-ref-parser',
].join('|');
const transform = {
  '^.+\\.ts$': swc,
  [`/node_modules/(${esmOnlyPackages})/.+\\.js$`]: swc,
};
const transformIgnorePatterns = [`/node_modules/(?!(${esmOnlyPackages})/)`];
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/{domain,workflows,activities,workers,cli,api,test/unit,bench}/**/*.test.ts'],
    },
    {
      displayName: 'workflow',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      globalSetup: '<rootDir>/test/workflow/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/workflow/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/workflow/support/setup.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/harness/integration-setup.ts'],
    },
  ],
};
