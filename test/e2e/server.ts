/**
 * The real gateway process, for the end-to-end tests: build dist when it is
 * stale, find a free port, spawn `node dist/src/main.js` with nothing but
 * environment variables, read its stdout log (pino JSON, one object a line),
 * wait for a log line, stop it and wait for the exit.
 *
 * Every process spawned here is remembered until killGateways() (afterEach)
 * SIGKILLs the ones still running; temporary folders from tempDir() are
 * removed by removeTempDirs() (afterAll), and so are the databases from
 * e2eDb() (removeE2eDbs(); their connections are closed after each test).
 * Vitest loads this module once per test file, so these lists belong to one
 * file. gatewayHooks() registers the hooks.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { DIALECT, newTestDb, testSql, type NewTestDbOptions, type TestSql } from '../helpers/db.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

// ------------------------------------------------------------------ build

/** Newest modification time of any file under dir (0 if it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

export interface BuildOptions {
  /** For `npm run build`; default 60 s. */
  timeoutMs?: number;
  /** Build even when dist is newer than every file under src/ and db/ (the way a user starts it). */
  always?: boolean;
}

/** Runs `npm run build` unless dist is newer than every file under src/ and db/; throws if there is still no dist/src/main.js. */
export async function ensureBuilt({ timeoutMs = 60_000, always = false }: BuildOptions = {}): Promise<void> {
  const built = existsSync(MAIN) ? statSync(MAIN).mtimeMs : 0;
  if (always || !built || Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'db'))) > built) {
    await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: timeoutMs });
  }
  if (!existsSync(MAIN)) throw new Error(`no ${MAIN} after the build`);
}

// ------------------------------------------------------------------ ports and folders

/**
 * A port nothing listens on at the moment (on 127.0.0.1), for a child that
 * must be told its port. Chosen at random below Linux's ephemeral range
 * (32768-60999): a port the kernel handed out for port 0 could be handed to
 * another test's socket before the child binds it (seen under load), while
 * nothing takes a port from below that range unasked.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
    if (attempt > 50) throw new Error('no free port found between 20000 and 32000');
  }
}

const dirs: string[] = [];

/** A new empty folder under the system temp folder, removed by removeTempDirs(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Removes every folder tempDir() made (afterAll). */
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// ------------------------------------------------------------------ databases

export interface E2eDb {
  /** SWITCHBOARD_DB for the processes: a SQLite file path or a postgres:// URL (whichever the tier runs on). */
  target: string;
  /** The test's own connection to it (test/helpers/db.ts), read-only. Closed after each test, reopened on use. */
  sql: TestSql;
  /** Drops the database (or removes the SQLite folder) now; otherwise removeE2eDbs() does. */
  remove(): Promise<void>;
}

const dbs: Array<{ remove(): Promise<void>; sql: TestSql }> = [];

/**
 * A database for spawned gateways, on the store the tier runs on (newTestDb):
 * SQLite, a file in a new folder under tempDir() (`dir`: a folder of it that
 * does not exist yet, which the processes then create); PostgreSQL, a copy of
 * the template (migrations and inventory in place), or with `empty` a
 * database with nothing in it.
 */
export async function e2eDb(prefix: string, o: { dir?: string; empty?: boolean } = {}): Promise<E2eDb> {
  const opts: NewTestDbOptions = { empty: o.empty ?? false };
  if (DIALECT === 'sqlite') {
    const folder = tempDir(prefix);
    opts.dir = o.dir ? join(folder, o.dir) : folder;
  }
  const db = await newTestDb(opts);
  const sql = testSql(db.target, { readonly: true });
  let removed = false;
  const entry = {
    sql,
    async remove() {
      if (removed) return;
      removed = true;
      await sql.close();
      await db.remove();
    },
  };
  dbs.push(entry);
  return { target: db.target, sql, remove: entry.remove };
}

/** Closes the tests' connections to the e2eDb() databases (afterEach; they reopen when used again). */
export async function closeE2eDbConnections(): Promise<void> {
  for (const d of dbs) await d.sql.close();
}

/** Removes every e2eDb() database (afterAll; the processes on them were killed after each test). */
export async function removeE2eDbs(): Promise<void> {
  for (const d of dbs.splice(0)) await d.remove();
}

// ------------------------------------------------------------------ processes

/** One line of the server's stdout, parsed (`{ unparsed }` when it is not JSON). */
export type LogLine = Record<string, any>;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Exit extends ExitStatus {
  /** Date.now() when the exit event came. */
  at: number;
}

export interface SpawnOptions {
  /** How messages name the process ("process 1"); unnamed, it is "process". */
  name?: string;
  /**
   * The port. By default a free one; with a port (or the default) the env
   * gets PORT, HOST=127.0.0.1 and SWITCHBOARD_PUBLIC_URL=http://127.0.0.1:<port>.
   * 'env': the env is passed as given (the caller sets PORT and HOST, no public
   * URL); port and base are then read from the listening line by waitListening().
   */
  port?: number | 'env';
  /** Only the last n characters of stdout and stderr go into error messages (default: all of them). */
  outputTail?: number;
  /** A command that runs node under it and execs it, e.g. ['prlimit', '--nofile=1024:1024', '--'] (same pid). */
  wrapper?: string[];
}

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what?: string;
  /** Default 20 s. */
  timeoutMs?: number;
  /** How often the log is looked at; default every 10 ms. */
  pollMs?: number;
  /** SIGKILL the process when the time runs out. */
  killOnTimeout?: boolean;
}

export interface Gateway {
  name: string;
  child: ChildProcess;
  /** The port it listens on, which is also in its SWITCHBOARD_PUBLIC_URL. */
  port: number;
  /** http://127.0.0.1:<port>: where the test reaches it, and its SWITCHBOARD_PUBLIC_URL. */
  base: string;
  /** stdout, parsed line by line (pino JSON); grows while the process runs. */
  lines: LogLine[];
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Neither exited nor killed by a signal yet. */
  isAlive(): boolean;
  /** The first log line that matches; throws (with the output) if the process exits first or the time runs out. */
  waitForLog(match: (line: LogLine) => boolean, o?: WaitOptions): Promise<LogLine>;
  /** waitForLog for the "switchboard listening" line. */
  waitListening(o?: WaitOptions): Promise<LogLine>;
  /** The exit, or null if the process is still running after ms. */
  exitWithin(ms: number): Promise<Exit | null>;
  /** Sends the signal and waits for the exit; throws if it does not come within timeoutMs (default 10 s). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitStatus>;
}

const spawned: Gateway[] = [];

/** The user's environment without any Switchboard setting, plus the given ones. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SWITCHBOARD_|SIM_|TWILIO_|TELNYX_)/.test(k) || ['PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Spawns `node dist/src/main.js` with env (on top of a clean environment); does not wait for it to listen. */
export async function spawnGateway(env: Record<string, string>, o: SpawnOptions = {}): Promise<Gateway> {
  const port = o.port === 'env' ? 0 : (o.port ?? (await freePort()));
  const base = port ? `http://127.0.0.1:${port}` : '';
  const [cmd = process.execPath, ...args] = [...(o.wrapper ?? []), process.execPath, MAIN];
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: cleanEnv(port ? { PORT: String(port), HOST: '127.0.0.1', SWITCHBOARD_PUBLIC_URL: base, ...env } : env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let partial = '';
  let dead = false;
  const lines: LogLine[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      try {
        lines.push(JSON.parse(p));
      } catch {
        lines.push({ unparsed: p });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<Exit>((r) => child.once('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  void exited.then(() => (dead = true));

  const name = o.name ?? 'process';
  const tail = (s: string) => (o.outputTail === undefined ? s : s.slice(-o.outputTail));
  const output = () => `stdout:\n${tail(out)}\nstderr:\n${tail(err)}`;

  const g: Gateway = {
    name,
    child,
    port,
    base,
    lines,
    stdout: () => out,
    stderr: () => err,
    exited,
    isAlive: () => child.exitCode === null && child.signalCode === null,
    async waitForLog(match, { what = 'the log line', timeoutMs = 20_000, pollMs = 10, killOnTimeout = false } = {}) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find(match);
        if (line) return line;
        if (dead)
          throw new Error(
            `${name} exited before ${what} (${child.signalCode ? `killed by ${child.signalCode}` : `exit code ${child.exitCode}`}).\n${output()}`,
          );
        if (Date.now() > end) {
          if (killOnTimeout) child.kill('SIGKILL');
          throw new Error(`${o.name ? `${o.name}: ` : ''}timed out waiting for ${what}.\n${output()}`);
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
    async waitListening(w = {}) {
      const line = await g.waitForLog((l) => l.msg === 'switchboard listening', { what: 'the listening line', ...w });
      if (!g.port && typeof line.port === 'number') {
        g.port = line.port;
        g.base = `http://127.0.0.1:${line.port}`;
      }
      return line;
    },
    async exitWithin(ms) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      child.kill(signal);
      const r = await g.exitWithin(timeoutMs);
      if (!r) throw new Error(`${o.name ? `${o.name} ` : ''}did not exit within ${timeoutMs / 1000} s of ${signal}.\nstdout:\n${tail(out)}`);
      return { code: r.code, signal: r.signal };
    },
  };
  spawned.push(g);
  return g;
}

/** SIGKILLs every process spawnGateway() started that is still running, and forgets them all (afterEach). */
export function killGateways(): void {
  for (const g of spawned.splice(0)) if (g.isAlive()) g.child.kill('SIGKILL');
}

/**
 * The hooks of an end-to-end file: build before all (the build timeout is
 * also the hook's), SIGKILL every gateway still running and close the test's
 * database connections after each test, remove the databases and the
 * temporary folders after all.
 */
export function gatewayHooks(o: BuildOptions = {}): void {
  const timeoutMs = o.timeoutMs ?? 60_000;
  beforeAll(async () => {
    await ensureBuilt({ ...o, timeoutMs });
    expect(existsSync(MAIN)).toBe(true);
  }, timeoutMs);
  afterEach(async () => {
    killGateways();
    await closeE2eDbConnections();
  });
  afterAll(async () => {
    await removeE2eDbs();
    removeTempDirs();
  });
}

// ------------------------------------------------------------------ waiting and HTTP

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn every pollMs until it is true; throws with `what` after timeoutMs. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, pollMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

export interface ApiAnswer {
  status: number;
  /** The JSON body; null when empty or not JSON. */
  body: any;
  text: string;
}

/** An API request with a bearer token; a body is sent as JSON. */
export async function api(base: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text };
}
