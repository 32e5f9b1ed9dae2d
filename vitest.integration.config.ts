import { defineConfig } from 'vitest/config';

/**
 * The integration tier: tests that drive real third-party software installed
 * from Debian (PostgreSQL, Kamailio, SIPp, xmllint; see .ci/run). Run with
 * `npm run test:integration`; `npm test` never includes these files.
 */
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/integration/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
