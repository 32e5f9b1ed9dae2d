// A rolling restart with two real gateway processes on one database file: the
// process being replaced gets SIGTERM and drains (api.md section 6) while the
// other one takes the new calls, as Twilio does when the primary webhook
// answers 503 and it tries the fallback URL. Live calls on the draining
// process keep relaying until the carrier hangs up, and no answered call's
// record is lost.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callSid, parseTwiml, prepareTwilio, voiceParams } from '../helpers/carrier.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const ADMIN = 'sb_admin_e2e_rolling_0123456789abcdef';
const TWILIO = 'tw_e2e_rolling_token';

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
  name: string;
  child: ChildProcess;
  lines: Array<Record<string, any>>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  base: string;
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

async function startGateway(name: string, dbPath: string, extra: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: cleanEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      SWITCHBOARD_DB: dbPath,
      SWITCHBOARD_ADMIN_TOKEN: ADMIN,
      TWILIO_AUTH_TOKEN: TWILIO,
      SWITCHBOARD_PUBLIC_URL: base,
      SIM_PROVISION_MS: '0',
      SWITCHBOARD_API_RATE: '1000000',
      SWITCHBOARD_API_BURST: '1000000',
      ...extra,
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
  const p: Proc = { name, child, lines, stdout: () => out, stderr: () => err, exited, base };
  running.push(p);
  await waitFor(p, () => lines.find((l) => l.msg === 'switchboard listening'), 'the listening line');
  return p;
}

async function waitFor<T>(p: Proc, pick: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let done = false;
  void p.exited.then(() => (done = true));
  for (;;) {
    const v = pick();
    if (v) return v;
    if (done) throw new Error(`${p.name} exited before ${what}.\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
    if (Date.now() > end) throw new Error(`${p.name}: timed out waiting for ${what}.\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
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

async function api(p: Proc, method: string, path: string, body?: unknown) {
  const res = await fetch(p.base + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

/** A signed Twilio voice webhook to p, signed with p's own public URL (each is its own webhook URL at Twilio). */
async function voice(p: Proc, to: string, sid = callSid()) {
  const r = prepareTwilio(p.base, '/carriers/twilio/voice', voiceParams({ CallSid: sid, To: to }), { authToken: TWILIO });
  const res = await fetch(p.base + r.path, { method: 'POST', headers: r.headers, body: r.body });
  const text = await res.text();
  return { sid, status: res.status, text, twiml: res.status === 200 ? parseTwiml(text) : null };
}

type Carrier = Awaited<ReturnType<typeof carrierSocket>>;

/** Opens the media stream the TwiML points at, and waits for the first frames to be bridged and echoed. */
async function bridge(p: Proc, fake: FakeAssistant, v: Awaited<ReturnType<typeof voice>>) {
  expect(v.twiml!.streamUrl).toBe(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`);
  const conn = fake.connections.length;
  const c = await carrierSocket(v.twiml!.streamUrl!);
  c.ws.send(CONNECTED);
  c.ws.send(twilioStart(v.twiml!.callId!, v.twiml!.token!, v.sid));
  for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]?.length === 12 && c.received.length === 10, `call ${v.sid} to be bridged through ${p.name}`);
  return { c, conn, callId: v.twiml!.callId!, sid: v.sid };
}

/** Sends n more frames and waits for their echoes: the call is still relaying. */
async function stillRelays(c: Carrier, fake: FakeAssistant, conn: number, from: number, n = 10) {
  const before = fake.received[conn]!.length;
  const echoes = c.received.length;
  for (let i = from; i < from + n; i++) c.ws.send(mediaFrame(i));
  await until(() => fake.received[conn]!.length === before + n && c.received.length === echoes + n, 'frames to be relayed');
  expect(fake.received[conn]!.slice(before)).toEqual(Array.from({ length: n }, (_, k) => mediaFrame(from + k)));
}

const isConnect = (v: Awaited<ReturnType<typeof voice>>) => v.status === 200 && v.twiml!.reject === null && !!v.twiml!.callId;
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

describe('rolling restart: two processes on one file, one drains while the other takes the calls', () => {
  it('SIGTERM on process 1: its live calls finish, new calls fail over to process 2, process 1 exits 0, no record lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-rolling-'));
    dirs.push(dir);
    const dbPath = join(dir, 'switchboard.db');
    const [p1, p2] = await Promise.all([
      startGateway('process 1', dbPath, { SWITCHBOARD_DRAIN_MS: '15000' }),
      startGateway('process 2', dbPath),
    ]);
    const fake = await fakeAssistant({ echo: true });
    fakes.push(fake);

    const team = await api(p1, 'POST', '/api/teams', { name: 'Rolling', slug: 'rolling', plan: 'pro' });
    expect(team.status, team.text).toBe(201);
    const teamId = team.body.team.id as string;
    const search = await api(p1, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } });
    const e164 = search.body.numbers[0].phoneNumber as string;
    const bought = await api(p1, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId });
    expect(bought.status, bought.text).toBe(201);
    const numberId = bought.body.phoneNumber.id as string;
    await until(async () => (await api(p1, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status === 'active', 'the number to be active');
    const asst = await api(p1, 'POST', '/api/assistants', { teamId, name: 'agent', mediaUrl: fake.url });
    expect(asst.status, asst.text).toBe(201);
    const assistantId = asst.body.assistant.id as string;
    const assigned = await api(p1, 'PATCH', `/api/assistants/${assistantId}/telephony/phone-numbers`, { accountSlug: 'rolling', phoneNumberIds: [numberId] });
    expect(assigned.status, assigned.text).toBe(200);

    /** Every CallSid a carrier got a connect answer for, from either process. */
    const answered = new Set<string>();
    const answer = (v: Awaited<ReturnType<typeof voice>>) => {
      if (isConnect(v)) answered.add(v.sid);
      return v;
    };

    // Three live calls through process 1.
    const live = [];
    for (let i = 0; i < 3; i++) {
      const v = answer(await voice(p1, e164));
      expect(isConnect(v), v.text).toBe(true);
      live.push(await bridge(p1, fake, v));
    }

    // A burst of webhooks at process 1 with SIGTERM landing in the middle: each
    // is either answered (and then recorded) or a 503 that Twilio retries at
    // the fallback URL, process 2, with the same CallSid.
    const burst: Array<Promise<Awaited<ReturnType<typeof voice>>>> = [];
    for (let i = 0; i < 20; i++) {
      const sid = callSid();
      burst.push(voice(p1, e164, sid).catch((err: unknown) => ({ sid, status: 0, text: `request failed: ${String(err)}`, twiml: null })));
      if (i === 8) p1.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 3));
    }
    const fellOver: string[] = [];
    for (const v of await Promise.all(burst)) {
      if (v.status === 503) {
        const again = answer(await voice(p2, e164, v.sid));
        expect(isConnect(again), again.text).toBe(true);
        fellOver.push(v.sid);
      } else {
        expect(isConnect(answer(v)), `${v.status} ${v.text}`).toBe(true);
      }
    }
    await waitFor(p1, () => p1.lines.find(isDraining), 'the draining line');

    // While process 1 drains: it refuses new calls, process 2 answers them.
    expect((await fetch(`${p1.base}/readyz`)).status).toBe(503);
    expect((await fetch(`${p2.base}/readyz`)).status).toBe(200);
    const failover = [];
    for (let i = 0; i < 3; i++) {
      const refused = await voice(p1, e164);
      expect(refused.status, refused.text).toBe(503);
      const v = answer(await voice(p2, e164, refused.sid));
      expect(isConnect(v), v.text).toBe(true);
      expect(v.twiml!.streamUrl).toBe(`ws://127.0.0.1:${new URL(p2.base).port}/media/twilio`);
      failover.push(v);
      fellOver.push(v.sid);
    }
    // A failed-over call bridges through process 2 and completes there.
    const moved = await bridge(p2, fake, failover[0]!);
    await stillRelays(moved.c, fake, moved.conn, 13);
    moved.c.ws.close(1000);
    await fake.closed(moved.conn + 1);

    // The live calls on process 1 keep relaying, and end one by one when the carrier hangs up.
    let seq = 13;
    for (const l of live) await stillRelays(l.c, fake, l.conn, seq);
    seq += 10;
    for (let i = 0; i < live.length; i++) {
      for (const l of live.slice(i)) await stillRelays(l.c, fake, l.conn, seq);
      seq += 10;
      expect(p1.child.exitCode, 'process 1 is still draining').toBeNull();
      const l = live[i]!;
      l.c.ws.close(1000);
      expect((await fake.closed(l.conn + 1)).code).toBe(1000);
      await until(async () => (await api(p2, 'GET', `/api/calls/${l.callId}`)).body.call.status === 'completed', `live call ${i} to be completed`);
      const rec = (await api(p2, 'GET', `/api/calls/${l.callId}`)).body.call;
      expect(rec).toMatchObject({ carrierCallId: l.sid, assistantId, status: 'completed', endReason: 'carrier_hangup' });
      expect(rec.answeredAt).not.toBeNull();
      expect(rec.endedAt).not.toBeNull();
    }
    const exit = await Promise.race([p1.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(exit, 'process 1 should exit soon after its last call ends').not.toBeNull();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(p1.lines.some((l) => typeof l.closedLive === 'number' && l.closedLive > 0), 'no call was cut off by the drain timer').toBe(false);
    expect(p1.lines.filter(isDraining).some((l) => l.liveCalls === 3)).toBe(true);

    // Process 2 goes on alone.
    const after = answer(await voice(p2, e164));
    expect(isConnect(after), after.text).toBe(true);
    await until(async () => (await api(p2, 'GET', `/api/calls/${moved.callId}`)).body.call.status === 'completed', 'the moved call to be completed');
    expect((await api(p2, 'GET', `/api/calls/${moved.callId}`)).body.call).toMatchObject({ endReason: 'carrier_hangup' });

    p2.child.kill('SIGTERM');
    const exit2 = await Promise.race([p2.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(exit2).toMatchObject({ code: 0, signal: null });

    // Both stopped: every answered CallSid has exactly one record on the file,
    // and nothing else was recorded (a 503 records nothing).
    expect(fellOver.length).toBeGreaterThanOrEqual(3);
    const db = new Database(dbPath, { readonly: true });
    try {
      const bySid = db.prepare("SELECT count(*) FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?").pluck();
      const missing = [...answered].filter((sid) => bySid.get(sid) !== 1);
      expect(missing).toEqual([]);
      expect(db.prepare('SELECT count(*) FROM calls').pluck().get()).toBe(answered.size);
      const done = db.prepare("SELECT count(*) FROM calls WHERE status = 'completed' AND end_reason = 'carrier_hangup' AND answered_at IS NOT NULL").pluck();
      expect(done.get()).toBe(live.length + 1);
    } finally {
      db.close();
    }
  }, 40_000);
});
