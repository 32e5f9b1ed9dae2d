import { defineConfig } from 'vitest/config';

/** The integration tier: third-party clients (a real Chromium) against the real gateway. `.ci/run` installs what it needs. */
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    pool: 'forks',
    // One browser and one gateway at a time: two cores.
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
