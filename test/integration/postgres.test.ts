// The shared PostgreSQL cluster of the integration tier (support/global-setup.ts)
// answers, and the helper that makes throwaway clusters starts, serves and
// removes one. Later tests (a PostgreSQL store) build on both.
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { psql, startPostgres, type Postgres } from './support/postgres.js';

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

describe('the shared cluster (globalSetup)', () => {
  it('is handed to test files as SWITCHBOARD_TEST_PG_URL and through inject("pgUrl")', () => {
    const url = process.env.SWITCHBOARD_TEST_PG_URL;
    expect(url).toMatch(/^postgres:\/\/sb@127\.0\.0\.1:\d+\/postgres$/);
    expect(inject('pgUrl')).toBe(url);
  });

  it('answers select 1, as PostgreSQL 15', async () => {
    const url = process.env.SWITCHBOARD_TEST_PG_URL!;
    expect(await psql(url, 'select 1')).toBe('1');
    expect(await psql(url, 'show server_version_num')).toMatch(/^15\d{4}$/);
    // Only loopback: the server listens on 127.0.0.1 and nowhere else.
    expect(await psql(url, 'show listen_addresses')).toBe('127.0.0.1');
  });

  it('lets a test make a database of its own', async () => {
    const url = process.env.SWITCHBOARD_TEST_PG_URL!;
    const name = `smoke_${process.pid}_${Date.now()}`;
    await psql(url, `create database ${name}`);
    const own = url.replace(/\/postgres$/, `/${name}`);
    await psql(own, 'create table t (n int); insert into t values (41), (1)');
    expect(await psql(own, 'select sum(n) from t')).toBe('42');
    await psql(url, `drop database ${name}`);
    // The check can fail: psql exits non-zero for a database that is gone.
    await expect(psql(own, 'select 1')).rejects.toThrow(/does not exist/);
  });
});

describe('startPostgres()', () => {
  let pg: Postgres | undefined;
  afterAll(async () => {
    await pg?.stop();
  });

  it('starts a throwaway cluster on a free loopback port, and stop() removes it', async () => {
    pg = await startPostgres();
    console.log(`throwaway PostgreSQL cluster started in ${pg.startMs} ms (initdb + pg_ctl start)`);
    expect(pg.url).toBe(`postgres://sb@127.0.0.1:${pg.port}/postgres`);
    expect(pg.url).not.toBe(process.env.SWITCHBOARD_TEST_PG_URL);
    expect(await psql(pg.url, 'select 1')).toBe('1');
    expect(await psql(pg.url, 'show fsync')).toBe('off');
    expect(existsSync(pg.dir)).toBe(true);
    // Generous bound (about 1 s here): a slow start would slow every run of the tier.
    expect(pg.startMs).toBeLessThan(15_000);

    await pg.stop();
    expect(existsSync(pg.dir)).toBe(false);
    expect(await refused(pg.port)).toBe(true);
    await expect(psql(pg.url, 'select 1')).rejects.toThrow();
    await pg.stop(); // twice is harmless
  });
});
