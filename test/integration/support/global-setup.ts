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
import pg from 'pg';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { loadInventoryIfEmpty } from '../../../src/providers/sim/inventory-loader.js';
import { INVENTORY_DIR } from '../../../src/paths.js';
import { openPgStore } from '../../../src/store/pg/index.js';
import { PG_TEMPLATE } from '../../helpers/db.js';
import { startPostgres } from './postgres.js';

/**
 * The database every test database is copied from: migrations applied and
 * the simulated inventory loaded once, so each copy takes milliseconds.
 */
async function makeTemplate(serverUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_TEMPLATE]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${PG_TEMPLATE}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${PG_TEMPLATE}`;
  const opened = await openPgStore(u.toString(), { now: Date.now, instanceId: 'template', log: pino({ level: 'silent' }), invalidationTimeoutMs: 2000 });
  await loadInventoryIfEmpty(opened.sim, INVENTORY_DIR);
  await opened.store.close();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.SWITCHBOARD_TEST_PG_URL;
  if (given) {
    await makeTemplate(given);
    project.provide('pgUrl', given);
    return;
  }
  const server = await startPostgres({ settings: { max_connections: '400', shared_buffers: '64MB' } });
  process.env.SWITCHBOARD_TEST_PG_URL = server.url;
  await makeTemplate(server.url);
  project.provide('pgUrl', server.url);
  console.log(`integration tier: PostgreSQL cluster on ${server.url} started in ${server.startMs} ms`);
  return async () => {
    await server.stop();
  };
}
