/** Two projects: `unit` (pure logic, no servers) and `integration` (real Temporal, versitygw, ffmpeg,
 * started once per run by test/harness/global-setup.ts and stopped by PID in global-teardown.ts). */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/{workflows,activities,workers,cli,test/unit}/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/harness/integration-setup.ts'],
    },
  ],
};
