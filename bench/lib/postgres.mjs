/**
 * PostgreSQL for the benchmarks: the server named by BENCH_PG_URL, or else a
 * throwaway cluster started the way the integration tier starts its own
 * (test/integration/support/postgres.ts): Debian's postgresql package,
 * initdb in a temporary folder, a free port on 127.0.0.1, removed at the end.
 * Neither installed nor given: no PostgreSQL figures, and the caller says so.
 *
 * Settings: the package's defaults except synchronous_commit=off, which is
 * what SQLite's synchronous=NORMAL in WAL mode gives the gateway (a commit
 * survives the gateway process crashing, not the machine losing power; no
 * fsync per commit). fsync itself stays on.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, usage } from './proc.mjs';

const run = promisify(execFile);
const PG_USER = 'sb';

/** The newest /usr/lib/postgresql/<version>/bin with initdb, or null. */
export function findPgBin() {
  if (process.env.BENCH_PG_BIN) return existsSync(join(process.env.BENCH_PG_BIN, 'initdb')) ? process.env.BENCH_PG_BIN : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const cmd = (bin, program, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args]);

/**
 * A PostgreSQL server for this run: { url, version, started, cpuSec, stop() }, or
 * { url: null, why } when there is none. `cpuSec()` (a throwaway cluster
 * only; null for BENCH_PG_URL) reads the server's CPU time.
 */
export async function benchPostgres() {
  if (process.env.BENCH_PG_URL) {
    const version = await serverVersion(process.env.BENCH_PG_URL);
    return { url: process.env.BENCH_PG_URL, version, started: false, cpuSec: null, stop: async () => {} };
  }
  const bin = findPgBin();
  if (!bin) return { url: null, why: 'no PostgreSQL: BENCH_PG_URL is not set and no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql-15)' };
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-pg-'));
  const data = join(dir, 'data');
  try {
    if (asRoot) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      chownSync(dir, uid, gid);
    }
    const initdb = cmd(bin, 'initdb', ['-D', data, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    await run(initdb[0], initdb[1], { timeout: 60_000 });
    const port = await freePort();
    const settings = { listen_addresses: '127.0.0.1', synchronous_commit: 'off', max_connections: '200', shared_buffers: '256MB' };
    const opts = [`-p ${port}`, `-k ${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    const start = cmd(bin, 'pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start']);
    await run(start[0], start[1], { timeout: 90_000 });
    const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
    return {
      url,
      version: await serverVersion(url),
      started: true,
      /** CPU seconds of the server so far: the postmaster and its processes now (a backend that ended took its time with it). */
      cpuSec: () => serverCpu(data),
      async stop() {
        const stop = cmd(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        await run(stop[0], stop[1], { timeout: 30_000 }).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return {
      url: null,
      why: `no PostgreSQL: starting a throwaway cluster with ${bin} failed: ${(err.stderr || err.message || String(err)).trim().split('\n')[0]}`,
    };
  }
}

/** CPU seconds of a running cluster's postmaster (data/postmaster.pid) and its child processes. */
function serverCpu(data) {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children].map((p) => usage(p).cpuSec).reduce((a, x) => a + (Number.isFinite(x) ? x : 0), 0);
  } catch {
    return NaN;
  }
}

async function serverVersion(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query('SHOW server_version')).rows[0].server_version;
  } finally {
    await c.end();
  }
}

let dbCounter = 0;
/** A new, empty database on the server; its URL. */
export async function createDatabase(serverUrl, prefix = 'bench') {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(serverUrl, dbUrl) {
  const name = new URL(dbUrl).pathname.slice(1);
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
