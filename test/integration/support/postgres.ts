/**
 * A throwaway PostgreSQL 15 cluster for the integration tier (Debian's
 * `postgresql-15`; .ci/run installs it): initdb in a temporary folder, start
 * on a free port on 127.0.0.1 with its Unix socket in that folder too, and
 * hand back a URL. stop() kills it (immediate mode: nothing is worth
 * flushing) and removes the folder.
 *
 * initdb refuses to run as root, so as root every step runs as the `postgres`
 * user (created by the package) on a folder chowned to it. Nothing touches
 * the package's own cluster (/var/lib/postgresql/15/main, port 5432), which
 * the package creates but, without systemd, never starts.
 *
 * Trust authentication, fsync off and --no-sync: a cluster that lives for
 * one test run needs no durability, and starts in well under 2 s.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const PG_BIN = process.env.SWITCHBOARD_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The database role the cluster is created with (superuser, no password). */
export const PG_USER = 'sb';

const run = promisify(execFile);

export interface Postgres {
  /** postgres://sb@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** The cluster's folder: data/, the server log and the Unix socket. */
  dir: string;
  /** Milliseconds from initdb's start to a server that accepts connections. */
  startMs: number;
  /** The server log so far (for error messages). */
  log(): string;
  /** Stops the server at once and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Default: a free one. */
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL program as the `postgres` user when we are root (initdb and the server refuse root). */
function pgCommand(program: string, args: string[]): [string, string[]] {
  const bin = join(PG_BIN, program);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

/** Whether the binaries are there: lets a caller explain a missing package instead of failing obscurely. */
export function postgresInstalled(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
}

export async function startPostgres(o: PostgresOptions = {}): Promise<Postgres> {
  if (!postgresInstalled()) {
    throw new Error(`PostgreSQL 15 is not installed (no ${PG_BIN}/initdb): apt-get install -y postgresql-15, as .ci/run does.`);
  }
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const fail = (what: string, err: unknown): never => {
    const e = err as { stderr?: string; message?: string };
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${what} failed: ${e.stderr || e.message}\n${log()}`);
  };
  if (asRoot) {
    // The postgres user must own the folder; it can reach it (tmp is world-searchable).
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gw = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (pw.status !== 0) fail('finding the postgres user', new Error(pw.stderr));
    chownSync(dir, Number(pw.stdout.trim()), Number(gw.stdout.trim()));
  }

  const initdb = pgCommand('initdb', ['-D', data, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  await run(initdb[0], initdb[1], { timeout: 60_000 }).catch((err) => fail('initdb', err));

  const port = o.port ?? (await freePort());
  const settings = { listen_addresses: '127.0.0.1', fsync: 'off', ...o.settings };
  const serverArgs = [`-p ${port}`, `-k ${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = pgCommand('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', serverArgs, 'start']);
  await run(start[0], start[1], { timeout: 60_000 }).catch((err) => fail('pg_ctl start', err));
  const startMs = Math.round(performance.now() - started);

  let stopped = false;
  return {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    startMs,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      const stop = pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      try {
        await run(stop[0], stop[1], { timeout: 30_000 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs one SQL statement with psql (from postgresql-client-15) and returns its unaligned, tuples-only output. */
export async function psql(url: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', [url, '-X', '-v', 'ON_ERROR_STOP=1', '-A', '-t', '-c', sql], { timeout: 30_000 });
  return stdout.trim();
}
