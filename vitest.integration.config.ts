import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The integration tier (`npm run test:integration`; `npm test` never includes
 * it). Two projects over one throwaway PostgreSQL cluster (global setup):
 *
 * - `postgres`: the whole `npm test` suite again, every gateway on a fresh
 *   PostgreSQL database instead of a SQLite file (SWITCHBOARD_TEST_PG_URL);
 * - `integration`: tests that drive real third-party software installed from
 *   Debian (PostgreSQL with several gateway instances, Kamailio, SIPp,
 *   xmllint, Chromium; see .ci/run).
 */
export default defineConfig({
  test: {
    globalSetup: ['test/integration/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'postgres', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/integration/**'] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'] },
      },
    ],
  },
});
