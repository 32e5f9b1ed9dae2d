import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The integration tier needs Debian packages; it has its own config
    // (vitest.integration.config.ts, `npm run test:integration`).
    exclude: [...configDefaults.exclude, 'test/integration/**'],
    // Each file gets its own process and its own SQLite file; two cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
