/**
 * vitest globalSetup of the integration tier (vitest.integration.config.ts):
 * one throwaway PostgreSQL cluster for the whole run, shared by every test
 * file. Its URL goes to the test processes as SWITCHBOARD_TEST_PG_URL (and
 * through vitest's provide/inject as `pgUrl`). A test that needs a database
 * of its own creates one in it (`create database ...`), so files running in
 * parallel do not see each other's tables.
 *
 * With SWITCHBOARD_TEST_PG_URL already set (a developer's own server), that
 * server is used and nothing is started.
 */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.SWITCHBOARD_TEST_PG_URL;
  if (given) {
    project.provide('pgUrl', given);
    return;
  }
  const pg = await startPostgres();
  process.env.SWITCHBOARD_TEST_PG_URL = pg.url;
  project.provide('pgUrl', pg.url);
  console.log(`integration tier: PostgreSQL cluster on ${pg.url} started in ${pg.startMs} ms`);
  return async () => {
    await pg.stop();
  };
}
