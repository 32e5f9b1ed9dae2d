import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The number tests: run again against each real provider's code path
 * (SWITCHBOARD_TEST_PROVIDER, test/helpers/provider-under-test.ts).
 */
const NUMBER_TESTS = [
  'test/http/purchase.test.ts',
  'test/http/races.test.ts',
  'test/http/lifecycle.test.ts',
  'test/http/assign.test.ts',
  'test/http/search.test.ts',
  'test/http/suspension.test.ts',
  'test/http/first-minutes.test.ts',
  'test/http/caller-id.test.ts',
  'test/http/audit.test.ts',
  'test/http/recovery.test.ts',
  'test/routing/*.test.ts',
];

/**
 * The integration tier (`npm run test:integration`; `npm test` never includes
 * it). Two projects over one throwaway PostgreSQL cluster (global setup):
 *
 * - `postgres`: the whole `npm test` suite again, every gateway on a fresh
 *   PostgreSQL database instead of a SQLite file (SWITCHBOARD_TEST_PG_URL);
 * - `integration`: tests that drive real third-party software installed from
 *   Debian (PostgreSQL with several gateway instances, Kamailio, SIPp,
 *   xmllint, Chromium; see .ci/run);
 * - `provider-twilio`, `provider-telnyx`: the number tests with every gateway
 *   buying through that provider (its official SDK) from a stateful fake of
 *   its API.
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
      {
        extends: true,
        test: { name: 'provider-twilio', include: NUMBER_TESTS, env: { SWITCHBOARD_TEST_PROVIDER: 'twilio' } },
      },
      {
        extends: true,
        test: { name: 'provider-telnyx', include: NUMBER_TESTS, env: { SWITCHBOARD_TEST_PROVIDER: 'telnyx' } },
      },
    ],
  },
});
