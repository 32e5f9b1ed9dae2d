// SIGTERM on the real process (api.md section 6): stop taking new calls
// (readiness, webhooks and media upgrades answer 503), let bridged calls run
// until they end or SWITCHBOARD_DRAIN_MS passes, then close them with 1001 and
// exit 0. A second SIGTERM exits at once.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { callSid, parseTwiml, prepareTwilio, voiceParams } from '../helpers/carrier.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const ADMIN = 'sb_admin_e2e_drain_0123456789abcdef';
const TWILIO = 'tw_e2e_drain_token';

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

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, any>>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  base: string;
  publicUrl: string;
}

const running: Proc[] = [];
const dirs: string[] = [];
const fakes: FakeAssistant[] = [];

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SWITCHBOARD_|SIM_|TWILIO_)/.test(k) || ['PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

async function startServer(drainMs: number): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-drain-'));
  dirs.push(dir);
  const publicUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: cleanEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      SWITCHBOARD_DB: join(dir, 'switchboard.db'),
      SWITCHBOARD_ADMIN_TOKEN: ADMIN,
      TWILIO_AUTH_TOKEN: TWILIO,
      SWITCHBOARD_PUBLIC_URL: publicUrl,
      SWITCHBOARD_DRAIN_MS: String(drainMs),
      SIM_PROVISION_MS: '0',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  const p: Proc = { child, lines, stdout: () => out, stderr: () => err, exited, base: publicUrl, publicUrl };
  running.push(p);
  await waitFor(p, () => lines.find((l) => l.msg === 'switchboard listening'), 'the listening line');
  return p;
}

async function waitFor<T>(p: Proc, pick: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let done = false;
  void p.exited.then(() => (done = true));
  for (;;) {
    const v = pick();
    if (v) return v;
    if (done) throw new Error(`process exited before ${what}.\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}.\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function api(p: Proc, method: string, path: string, body?: unknown, token = ADMIN) {
  const res = await fetch(p.base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

/** A team, an active number and an assistant pointing at a fake assistant in this process. */
async function provision(p: Proc, fake: FakeAssistant) {
  const team = await api(p, 'POST', '/api/teams', { name: 'Drain', slug: 'drain', plan: 'pro' });
  expect(team.status, team.text).toBe(201);
  const teamId = team.body.team.id as string;
  const search = await api(p, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } });
  const e164 = search.body.numbers[0].phoneNumber as string;
  const bought = await api(p, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId });
  expect(bought.status, bought.text).toBe(201);
  const numberId = bought.body.phoneNumber.id as string;
  await until(async () => (await api(p, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status === 'active', 'the number to be active');
  const asst = await api(p, 'POST', '/api/assistants', { teamId, name: 'agent', mediaUrl: fake.url });
  expect(asst.status, asst.text).toBe(201);
  const assigned = await api(p, 'PATCH', `/api/assistants/${asst.body.assistant.id}/telephony/phone-numbers`, { accountSlug: 'drain', phoneNumberIds: [numberId] });
  expect(assigned.status, assigned.text).toBe(200);
  return { e164 };
}

/** A signed Twilio voice webhook over the real socket. */
async function voice(p: Proc, to: string) {
  const sid = callSid();
  const r = prepareTwilio(p.publicUrl, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: to }), { authToken: TWILIO });
  const res = await fetch(p.base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  return { sid, status: res.status, text: await res.text() };
}

/** Routes a call through the webhook and bridges it to the fake assistant. */
async function liveCall(p: Proc, fake: FakeAssistant, to: string) {
  const v = await voice(p, to);
  expect(v.status, v.text).toBe(200);
  const tw = parseTwiml(v.text);
  expect(tw.streamUrl).toBe(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`);
  const conn = fake.connections.length;
  const c = await carrierSocket(tw.streamUrl!);
  c.ws.send(CONNECTED);
  c.ws.send(twilioStart(tw.callId!, tw.token!, v.sid));
  for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]?.length === 12 && c.received.length === 10, 'the call to be bridged');
  return { c, conn, callId: tw.callId!, sid: v.sid };
}

/** Sends n more frames and waits for their echoes: the call is still relaying. */
async function stillRelays(c: Awaited<ReturnType<typeof carrierSocket>>, fake: FakeAssistant, conn: number, from: number, n = 20) {
  const before = fake.received[conn]!.length;
  const echoes = c.received.length;
  for (let i = from; i < from + n; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]!.length === before + n && c.received.length === echoes + n, 'frames to be relayed');
  expect(fake.received[conn]!.slice(before)).toEqual(Array.from({ length: n }, (_, k) => mediaFrame(from + k)));
}

/** Tries a WebSocket upgrade; resolves with the HTTP status of a refusal, or 101. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

const isDraining = (l: Record<string, any>) => typeof l.msg === 'string' && l.msg.startsWith('draining');

beforeAll(async () => {
  const built = existsSync(MAIN) ? statSync(MAIN).mtimeMs : 0;
  if (!built || Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'db'))) > built) {
    await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeout: 60_000 });
  }
  expect(existsSync(MAIN)).toBe(true);
}, 60_000);

afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});
afterAll(async () => {
  for (const f of fakes.splice(0)) await f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function newFake() {
  const f = await fakeAssistant({ echo: true });
  fakes.push(f);
  return f;
}

describe('SIGTERM drain, the real process', () => {
  it('refuses new calls while a live call keeps relaying; exits 0 soon after the carrier hangs up', async () => {
    const p = await startServer(10_000);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    const { c, conn, callId } = await liveCall(p, fake, e164);
    expect((await fetch(`${p.base}/readyz`)).status).toBe(200);

    p.child.kill('SIGTERM');
    await waitFor(p, () => p.lines.find(isDraining), 'the draining line');

    // No new work: readiness, webhooks and media upgrades all answer 503.
    const ready = await fetch(`${p.base}/readyz`);
    expect(ready.status).toBe(503);
    const v = await voice(p, e164);
    expect(v.status).toBe(503);
    expect(await upgradeStatus(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`)).toBe(503);
    expect(await upgradeStatus(`ws://127.0.0.1:${new URL(p.base).port}/media/generic/${callId}?token=x`)).toBe(503);
    expect(fake.connections.length).toBe(1);

    // The live call goes on, well past the refusals.
    await stillRelays(c, fake, conn, 13);
    await new Promise((r) => setTimeout(r, 300));
    await stillRelays(c, fake, conn, 33);
    expect(p.child.exitCode).toBeNull();

    const hungUp = Date.now();
    c.ws.close(1000);
    expect((await fake.closed(conn + 1)).code).toBe(1000);
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
    expect(exit, 'the process should exit soon after the last call ends').not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.signal).toBeNull();
    expect(exit!.at - hungUp).toBeLessThan(3000);

    const draining = p.lines.filter(isDraining);
    expect(draining.some((l) => l.liveCalls === 1), JSON.stringify(draining)).toBe(true);
    // Nothing was cut off: no call closed by the drain timer.
    expect(p.lines.some((l) => typeof l.closedLive === 'number' && l.closedLive > 0)).toBe(false);
  });

  it('closes a call that outlives SWITCHBOARD_DRAIN_MS with 1001 on both sides, then exits 0', async () => {
    const p = await startServer(500);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    const { c, conn } = await liveCall(p, fake, e164);
    // A call that never ends: the carrier keeps streaming 20 ms frames (the
    // assistant echoes each) right up to the moment the gateway closes it.
    let seq = 13;
    const talk = setInterval(() => {
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(mediaFrame(seq++));
    }, 20);

    const signalled = Date.now();
    p.child.kill('SIGTERM');
    const [carrierClose, assistantClose] = await Promise.all([c.closed, fake.closed(conn + 1)]).finally(() => clearInterval(talk));
    expect(c.received.length).toBeGreaterThan(10 + 10); // it was still relaying while draining
    const closedAfter = Date.now() - signalled;
    expect(carrierClose.code).toBe(1001);
    expect(assistantClose.code).toBe(1001);
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
    expect(exit, 'the process should exit after the drain time').not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.signal).toBeNull();
  });

  it('a second SIGTERM during the drain exits at once', async () => {
    const p = await startServer(10_000);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    await liveCall(p, fake, e164);

    p.child.kill('SIGTERM');
    await waitFor(p, () => p.lines.find(isDraining), 'the draining line');
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBeNull(); // still draining: the call is live

    const second = Date.now();
    p.child.kill('SIGTERM');
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    expect(exit, 'the process should exit within 1 s of the second SIGTERM').not.toBeNull();
    expect(exit!.at - second).toBeLessThan(1000);
  });
});
