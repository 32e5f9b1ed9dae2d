// Starting the real server the way a user does (api.md section 0 and 6): build,
// then `node dist/src/main.js` with nothing but environment variables.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

interface Server {
  child: ChildProcess;
  /** stdout, parsed line by line (pino JSON). */
  lines: Array<Record<string, any>>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Server[] = [];
const dirs: string[] = [];

/** The user's environment without any Switchboard setting, plus the given ones. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SWITCHBOARD_|SIM_|TWILIO_)/.test(k) || ['PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function spawnServer(env: Record<string, string>): Server {
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const lines: Array<Record<string, any>> = [];
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
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const s: Server = { child, lines, stdout: () => out, stderr: () => err, exited };
  running.push(s);
  return s;
}

async function waitFor<T>(s: Server, pick: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let done = false;
  void s.exited.then(() => {
    done = true;
  });
  for (;;) {
    const v = pick();
    if (v !== undefined) return v;
    if (done) throw new Error(`process exited before ${what}.\nstdout:\n${s.stdout()}\nstderr:\n${s.stderr()}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}.\nstdout:\n${s.stdout()}\nstderr:\n${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the "switchboard listening" line; returns the base URL. */
async function listening(s: Server): Promise<string> {
  const line = await waitFor(s, () => s.lines.find((l) => l.msg === 'switchboard listening'), 'the "switchboard listening" line');
  expect(typeof line.port).toBe('number');
  expect(line.port).toBeGreaterThan(0);
  return `http://127.0.0.1:${line.port}`;
}

async function sigterm(s: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  s.child.kill('SIGTERM');
  const r = await Promise.race([s.exited, new Promise<null>((res) => setTimeout(() => res(null), 10_000))]);
  if (!r) throw new Error(`did not exit within 10 s of SIGTERM.\nstdout:\n${s.stdout()}`);
  running.splice(running.indexOf(s), 1);
  return r;
}

function newDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  dirs.push(dir);
  // A folder that does not exist yet: the server creates it.
  return join(dir, 'data', 'switchboard.db');
}

const post = (base: string, path: string, token: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: 60_000 });
  expect(existsSync(MAIN)).toBe(true);
}, 60_000);

afterEach(() => {
  for (const s of running.splice(0)) s.child.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** First start on a new database, with no admin token configured. Returns what the next steps need. */
async function firstStart(dbPath: string) {
  const s = spawnServer({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
  const base = await listening(s);
  const tokenLine = s.lines.find((l) => typeof l.adminToken === 'string');
  expect(tokenLine, s.stdout()).toBeDefined();
  const adminToken = tokenLine!.adminToken as string;
  expect(adminToken.length).toBeGreaterThanOrEqual(16);
  return { s, base, adminToken };
}

describe('npm start, the real process', () => {
  it('first start: health, readiness, the printed admin token works, SIGTERM exits 0; a second start prints no new token and the first still works', async () => {
    const dbPath = newDbPath();
    const first = await firstStart(dbPath);
    const { base, adminToken } = first;
    expect(existsSync(dbPath)).toBe(true);

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);

    const created = await post(base, '/api/teams', adminToken, { name: 'Acme', slug: 'acme', plan: 'free' });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { team: { id: string; slug: string }; token: string };
    expect(body.team.slug).toBe('acme');
    const bad = await post(base, '/api/teams', 'sb_admin_not_the_right_token_000000', { name: 'X', slug: 'x' });
    expect(bad.status).toBe(401);

    // The simulated carrier's inventory was loaded: a search finds numbers.
    const search = await post(base, '/api/phone-numbers/search', adminToken, { filters: { countryCode: 'US' } });
    expect(search.status).toBe(200);
    expect(((await search.json()) as { numbers: unknown[] }).numbers.length).toBeGreaterThan(0);

    expect(await sigterm(first.s)).toEqual({ code: 0, signal: null });
    // Printed once, and no other token ever reaches the log.
    expect(occurrences(first.s.stdout(), adminToken)).toBe(1);
    expect(first.s.stdout()).not.toContain(body.token);
    expect(first.s.lines.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(4);

    // Second start on the same database.
    const s = spawnServer({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
    const base2 = await listening(s);
    expect(s.lines.some((l) => 'adminToken' in l)).toBe(false);
    expect(s.stdout()).not.toContain(adminToken);

    const again = await post(base2, '/api/teams', adminToken, { name: 'Second', slug: 'second', plan: 'free' });
    expect(again.status).toBe(201);
    const kept = await fetch(`${base2}/api/teams/${body.team.id}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(kept.status).toBe(200);
    expect(((await kept.json()) as { team: { slug: string } }).team.slug).toBe('acme');
    // The team token issued by the first run works too.
    const own = await fetch(`${base2}/api/teams/${body.team.id}`, { headers: { Authorization: `Bearer ${body.token}` } });
    expect(own.status).toBe(200);

    expect(await sigterm(s)).toEqual({ code: 0, signal: null });
    expect(s.stdout()).not.toContain(adminToken);
  });

  it('a bad configuration value stops the process with a message naming the variable', async () => {
    const dbPath = newDbPath();
    const s = spawnServer({ PORT: 'abc', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
    const exit = await Promise.race([s.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(exit, 'the process should exit by itself').not.toBeNull();
    running.splice(running.indexOf(s), 1);
    expect(exit!.code).not.toBe(0);
    expect(exit!.code).not.toBeNull();
    expect(s.stderr()).toContain('PORT');
    expect(s.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);
  });
});
