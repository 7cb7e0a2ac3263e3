// Two projects so `npm run test:unit` and `npm run test:integration` can run alone.
/** @type {import('jest').Config} */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
  ],
  reporters: ['default', '<rootDir>/test/support/countReporter.js'],
  testSequencer: '<rootDir>/test/support/testSequencer.js',
  maxWorkers: 2,
  // Per-project testTimeout is ignored by jest; integration tests start servers and audit thousands of pools.
  testTimeout: 120000,
};
