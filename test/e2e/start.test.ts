// Starting the real server the way a user does (api.md section 0 and 6): build,
// then `node dist/src/main.js` with nothing but environment variables.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayHooks, spawnGateway, tempDir, type Gateway } from './server.js';

/** The env as given (PORT and HOST too): nothing added, no public URL. */
const spawnServer = (env: Record<string, string>) => spawnGateway(env, { port: 'env' });

/** Waits for the "switchboard listening" line; returns the base URL. */
async function listening(s: Gateway): Promise<string> {
  const line = await s.waitListening({ what: 'the "switchboard listening" line', timeoutMs: 15_000, pollMs: 20 });
  expect(typeof line.port).toBe('number');
  expect(line.port).toBeGreaterThan(0);
  return `http://127.0.0.1:${line.port}`;
}

function newDbPath(): string {
  const dir = tempDir('switchboard-e2e-');
  // A folder that does not exist yet: the server creates it.
  return join(dir, 'data', 'switchboard.db');
}

const post = (base: string, path: string, token: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

const occurrences = (haystack: string, needle: string) => haystack.split(needle).length - 1;

gatewayHooks({ always: true });

/** First start on a new database, with no admin token configured. Returns what the next steps need. */
async function firstStart(dbPath: string) {
  const s = await spawnServer({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
  const base = await listening(s);
  // Generated only once listening (a start that fails must not use it up): the line after.
  const tokenLine = await s.waitForLog((l) => typeof l.adminToken === 'string', { what: 'the admin token line' });
  const listenedAt = s.lines.findIndex((l) => l.msg === 'switchboard listening');
  expect(s.lines.indexOf(tokenLine)).toBeGreaterThan(listenedAt);
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

    expect(await first.s.stop()).toEqual({ code: 0, signal: null });
    // The shutdown ran to its end (database closed, logs flushed), not just an
    // exit because nothing was left on the event loop.
    expect(first.s.lines.at(-1)).toMatchObject({ msg: 'stopped' });
    // Printed once, and no other token ever reaches the log.
    expect(occurrences(first.s.stdout(), adminToken)).toBe(1);
    expect(first.s.stdout()).not.toContain(body.token);
    expect(first.s.lines.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(4);

    // Second start on the same database.
    const s = await spawnServer({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
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

    expect(await s.stop()).toEqual({ code: 0, signal: null });
    expect(s.stdout()).not.toContain(adminToken);
  });

  it('a bad configuration value stops the process with a message naming the variable', async () => {
    const dbPath = newDbPath();
    const s = await spawnServer({ PORT: 'abc', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath });
    const exit = await s.exitWithin(10_000);
    expect(exit, 'the process should exit by itself').not.toBeNull();
    expect(exit!.code).not.toBe(0);
    expect(exit!.code).not.toBeNull();
    expect(s.stderr()).toContain('PORT');
    expect(s.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);
  });

  it('a Telnyx public key that is not a usable Ed25519 key stops the process, naming TELNYX_PUBLIC_KEY', async () => {
    // Small order (the identity point): it would accept forged signatures for any body.
    const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');
    const s = await spawnServer({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: newDbPath(), TELNYX_PUBLIC_KEY: identity });
    const exit = await s.exitWithin(10_000);
    expect(exit, 'the process should exit by itself').not.toBeNull();
    expect(exit!.code).not.toBe(0);
    expect(s.stderr()).toContain('TELNYX_PUBLIC_KEY');
    expect(s.stderr()).toMatch(/small order/);
    expect(s.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);
  });
});

describe('`npm start`, literally', () => {
  it('serves /healthz on a new database; Ctrl-C (SIGINT to its process group) makes the gateway drain once and stop', async () => {
    const { spawn } = await import('node:child_process');
    const { freePort } = await import('./server.js');
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', SWITCHBOARD_DB: newDbPath() };
    for (const k of ['SWITCHBOARD_ADMIN_TOKEN', 'SWITCHBOARD_PUBLIC_URL', 'TWILIO_AUTH_TOKEN', 'LOG_LEVEL', 'NODE_OPTIONS']) delete env[k];
    // Its own process group, as a terminal gives it: Ctrl-C signals npm and the gateway together.
    const child = spawn('npm', ['start'], { cwd: join(import.meta.dirname, '..', '..'), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    try {
      let health: Response | undefined;
      for (let i = 0; i < 600 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.status, out).toBe(200);
      expect(await health!.json()).toEqual({ status: 'ok' });
      process.kill(-child.pid!, 'SIGINT');
      // npm ends the way Ctrl-C ends it (it re-raises the signal); the gateway
      // under it drained once, logged its last line, and let go of the port.
      const npmExit = await exited;
      expect(npmExit.code === 0 || npmExit.signal === 'SIGINT', JSON.stringify(npmExit)).toBe(true);
      for (let i = 0; i < 50 && !/"msg":"stopped"/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/"msg":"stopped"/);
      expect(out).not.toMatch(/second signal/);
      expect(out.match(/"msg":"shutting down"/g)?.length).toBe(1);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, 90_000);
});
