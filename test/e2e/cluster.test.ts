// Cluster mode (SWITCHBOARD_WORKERS=2), the real process (`node
// dist/src/main.js`) on a real database (a SQLite file; PostgreSQL in the
// integration tier's postgres project), loopback only. It must behave as one
// process does:
//   - a start that fails (the port is taken) is one line on stderr and exit 1,
//     with nothing generated; PORT=0 gives both workers one port, reported
//     once, in one "switchboard listening" line, after both listen; exactly one
//     admin token is printed, after that line, and it works;
//   - both workers take requests (each webhook's X-Request-Id found in the log
//     line of the worker that answered it), and /metrics from either worker
//     counts every webhook of the cluster;
//   - SIGTERM: every worker refuses new calls (503), a live call goes on
//     until it ends, then the primary exits 0; a second signal ends it all
//     at once;
//   - kill -9 of a worker: it is replaced, calls are answered throughout, and
//     /metrics keeps the dead worker's counts; a replacement that cannot start
//     (its port taken) is retried later and later, never in a tight loop, and
//     comes up once it can;
//   - the sweeper runs in one worker: an expired trial is released once, and
//     again once after the lease holder is killed.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { callSid, parseTwiml, prepareTwilio, voiceParams } from '../helpers/carrier.js';
import { testSql } from '../helpers/db.js';
import { fakeAssistant, type FakeAssistant } from '../helpers/media.js';
import { bridge, provisionRoute, stillRelays, twilioVoiceCall } from './calls.js';
import { api, e2eDb, gatewayHooks, sleep, spawnGateway, until, type E2eDb, type Gateway, type LogLine } from './server.js';

const ADMIN = 'sb_admin_e2e_cluster_0123456789abcdef';
const TWILIO = 'tw_e2e_cluster_token';
/** A number nobody holds: every webhook to it is answered 200 with a reject (no_route). */
const NOBODY = '+12025550143';

const fakes: FakeAssistant[] = [];
gatewayHooks();
afterAll(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function newFake() {
  const f = await fakeAssistant({ echo: true });
  fakes.push(f);
  return f;
}

/** A two-worker gateway on db (configured admin token unless adminToken is null); waits for it to listen. */
async function startCluster(db: E2eDb | string, env: Record<string, string> = {}, adminToken: string | null = ADMIN): Promise<Gateway> {
  const p = await spawnGateway({
    SWITCHBOARD_WORKERS: '2',
    SWITCHBOARD_DB: typeof db === 'string' ? db : db.target,
    ...(adminToken ? { SWITCHBOARD_ADMIN_TOKEN: adminToken } : {}),
    TWILIO_AUTH_TOKEN: TWILIO,
    SIM_PROVISION_MS: '0',
    SWITCHBOARD_API_RATE: '1000000',
    SWITCHBOARD_API_BURST: '1000000',
    ...env,
  });
  await p.waitListening({ timeoutMs: 30_000 });
  return p;
}

// ------------------------------------------------------------------ requests on their own connections

interface Answer {
  status: number;
  text: string;
  /** The X-Request-Id the gateway answered with: the key of its log line. */
  reqId: string;
}

/**
 * One request on a connection of its own (no keep-alive): node:cluster hands
 * each new connection to the next worker, while a pooled one would stay with
 * one worker.
 */
function request(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      base + path,
      { method, agent: false, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, reqId: String(res.headers['x-request-id'] ?? '') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.end(body);
  });
}

/** An API request as admin on a connection of its own (a pooled one may belong to a worker just killed). */
async function adminApi(p: Gateway, method: string, path: string, body?: unknown) {
  const r = await request(
    p.base,
    method,
    path,
    { Authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body === undefined ? undefined : JSON.stringify(body),
  );
  return { ...r, body: r.text ? JSON.parse(r.text) : null };
}

/** A signed Twilio voice webhook, signed for publicUrl (what the gateway believes it is reached at), sent to base. */
function voice(p: Gateway, to = NOBODY, publicUrl = p.base): Promise<Answer> {
  const r = prepareTwilio(publicUrl, '/carriers/twilio/voice', voiceParams({ CallSid: callSid(), To: to }), { authToken: TWILIO });
  return request(p.base, 'POST', r.path, r.headers, r.body);
}

/** The worker whose log line answered reqId (waits for the line: the log is written after the answer). */
async function workerOf(p: Gateway, reqId: string): Promise<number> {
  expect(reqId, 'the answer carries an X-Request-Id').toMatch(/^[0-9a-f-]{36}$/);
  const line = await p.waitForLog((l) => l.reqId === reqId, { what: `the log line of request ${reqId}`, timeoutMs: 5000 });
  expect(typeof line.worker, JSON.stringify(line)).toBe('number');
  return line.worker as number;
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

// ------------------------------------------------------------------ metrics

/** Parses the exposition text: every sample with its labels. */
function parseMetrics(text: string) {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  /** The sum of the samples called name whose labels include these. */
  return (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** GET /metrics on a new connection: the values, and the worker that answered. */
async function scrape(p: Gateway) {
  const r = await request(p.base, 'GET', '/metrics');
  expect(r.status, r.text).toBe(200);
  return { get: parseMetrics(r.text), worker: await workerOf(p, r.reqId) };
}

// ------------------------------------------------------------------ workers

/** The workers that said they listen: id, pid, instanceId, in order. */
const workerLines = (p: Gateway) => p.lines.filter((l) => l.msg === 'worker listening');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cluster mode, two workers', () => {
  it('a failed start is one line and exit 1; then PORT=0: one port, one listening line, one admin token; requests reach both workers; /metrics counts the whole cluster', async () => {
    // A new database: SQLite, a file in a folder that does not exist yet; PostgreSQL, an empty one (both workers migrate it).
    const dbPath = (await e2eDb('switchboard-cluster-start-', { dir: 'data', empty: true })).target;

    // The port is taken: one line on stderr (not one per worker), exit 1, nothing generated.
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as AddressInfo).port;
    let failed;
    try {
      failed = await spawnGateway({ SWITCHBOARD_WORKERS: '2', PORT: String(taken), HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath }, { port: 'env' });
      const exit = await failed.exitWithin(20_000);
      expect(exit, 'the primary should exit by itself').not.toBeNull();
      expect(exit!.code, failed.stderr()).toBe(1);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const stderr = failed
      .stderr()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(stderr, failed.stderr()).toEqual([
      `switchboard: PORT=${taken} is already in use (127.0.0.1:${taken}): stop the other process, or set PORT to a free port (PORT=0 picks one).`,
    ]);
    expect(failed.stdout()).not.toMatch(/sb_admin_/);
    expect(failed.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);

    // PORT=0, no admin token configured.
    const p = await spawnGateway(
      { SWITCHBOARD_WORKERS: '2', PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath, TWILIO_AUTH_TOKEN: TWILIO },
      { port: 'env' },
    );
    const listening = await p.waitListening({ timeoutMs: 30_000 });
    const tokenLine = await p.waitForLog((l) => typeof l.adminToken === 'string', { what: 'the admin token', timeoutMs: 5000 });
    expect(listening.port).toBeGreaterThan(0);
    expect(p.lines.filter((l) => l.msg === 'switchboard listening')).toHaveLength(1);
    expect(listening.worker, 'the primary says it, not a worker').toBeUndefined();
    expect(listening.publicUrl).toBe(`http://localhost:${listening.port}`);
    const workers = workerLines(p);
    expect(workers.map((l) => l.worker).sort()).toEqual([1, 2]);
    // Both on the one port, both before the cluster said it listens.
    for (const w of workers) {
      expect(w.port).toBe(listening.port);
      expect(p.lines.indexOf(w)).toBeLessThan(p.lines.indexOf(listening));
    }
    expect(listening.workers.map((w: LogLine) => w.instanceId).sort()).toEqual(workers.map((w) => w.instanceId).sort());
    // One token in all, printed after the listening line; it works at either worker.
    expect(p.lines.filter((l) => 'adminToken' in l)).toHaveLength(1);
    expect(p.lines.indexOf(tokenLine)).toBeGreaterThan(p.lines.indexOf(listening));
    const adminToken = tokenLine.adminToken as string;
    for (let i = 0; i < 4; i++) {
      const r = await request(p.base, 'GET', '/api/teams', { Authorization: `Bearer ${adminToken}` });
      expect(r.status, r.text).toBe(200);
    }
    // The start-up notes once, not once per worker.
    expect(p.lines.filter((l) => l.msg === 'open-files limit' || l.msg === 'the open-files limit is low')).toHaveLength(1);

    // Webhooks on new connections: both workers answer them.
    const SENT = 40;
    // One after another: node:cluster hands a new connection to the next free
    // worker, so a burst at once may favour whichever frees itself first.
    const answers: Answer[] = [];
    for (let i = 0; i < SENT; i++) answers.push(await voice(p, NOBODY, listening.publicUrl));
    for (const a of answers) {
      expect(a.status, a.text).toBe(200);
      expect(parseTwiml(a.text).reject, a.text).toBe('rejected');
    }
    const by = new Map<number, number>();
    for (const a of answers) {
      const w = await workerOf(p, a.reqId);
      by.set(w, (by.get(w) ?? 0) + 1);
    }
    expect([...by.keys()].sort()).toEqual([1, 2]);
    for (const [w, n] of by) expect(n, `webhooks answered by worker ${w}`).toBeGreaterThanOrEqual(SENT / 4);

    // /metrics, whichever worker answers it, counts the whole cluster's webhooks
    // (each worker answered fewer than SENT: a worker's own view could not).
    const scrapedBy = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const m = await scrape(p);
      scrapedBy.add(m.worker);
      expect(m.get('switchboard_calls_total', { carrier: 'twilio', decision: 'reject' }), `scrape ${i} by worker ${m.worker}`).toBe(SENT);
      expect(m.get('switchboard_calls_total'), `scrape ${i}`).toBe(SENT);
      expect(m.get('switchboard_webhook_duration_seconds_count', { carrier: 'twilio', action: 'inbound' })).toBe(SENT);
      expect(m.get('switchboard_webhook_duration_seconds_bucket', { carrier: 'twilio', action: 'inbound', le: '+Inf' })).toBe(SENT);
      expect(m.get('switchboard_media_bridges_open')).toBe(0);
      expect(m.get('switchboard_cluster_workers', { state: 'listening' })).toBe(2);
      expect(m.get('switchboard_cluster_workers', { state: 'configured' })).toBe(2);
    }
    expect([...scrapedBy].sort(), 'both workers answered /metrics').toEqual([1, 2]);
    expect(await p.stop()).toEqual({ code: 0, signal: null });

    // A later start: no new token, the line saying how to get one (once), the first token still works.
    const again = await spawnGateway({ SWITCHBOARD_WORKERS: '2', PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath }, { port: 'env' });
    await again.waitListening({ timeoutMs: 30_000 });
    await again.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('An admin token exists already'), {
      what: 'the how-to-get-a-token line',
      timeoutMs: 5000,
    });
    await sleep(300);
    expect(again.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('An admin token exists already'))).toHaveLength(1);
    expect(again.lines.some((l) => 'adminToken' in l)).toBe(false);
    expect((await api(again.base, adminToken, 'GET', '/api/teams')).status).toBe(200);
    expect(await again.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('SIGTERM: both workers refuse new calls, a live call goes on until it ends, then the primary exits 0', async () => {
    const db = await e2eDb('switchboard-cluster-drain-');
    const p = await startCluster(db, { SWITCHBOARD_DRAIN_MS: '20000' });
    const fake = await newFake();
    const { e164 } = await provisionRoute(p, ADMIN, fake, 'Drain', 'drain');
    const v = await twilioVoiceCall(p, TWILIO, e164);
    expect(v.status, v.text).toBe(200);
    const { c, conn, callId } = await bridge(p, fake, v);
    const bridging = await p.waitForLog((l) => l.callId === callId && l.msg === 'assistant connected; bridging', { what: 'the bridge line' });
    const busy = bridging.worker as number;
    const idle = workerLines(p).find((l) => l.worker !== busy)!;
    expect(idle, 'the other worker').toBeDefined();

    p.child.kill('SIGTERM');
    // Every worker drains; the one without calls is done at once.
    for (const w of [busy, idle.worker]) {
      await p.waitForLog((l) => l.worker === w && typeof l.msg === 'string' && l.msg.startsWith('draining'), {
        what: `worker ${w} draining`,
        timeoutMs: 10_000,
      });
    }
    await p.waitForLog((l) => l.msg === 'worker stopped' && l.workerId === idle.worker, { what: 'the idle worker to stop', timeoutMs: 10_000 });
    await until(() => !alive(idle.pid), 'the idle worker process to be gone');

    // No new work, however many connections try.
    for (let i = 0; i < 6; i++) {
      const r = await voice(p, e164);
      expect(r.status, r.text).toBe(503);
      expect(await workerOf(p, r.reqId)).toBe(busy);
    }
    expect((await request(p.base, 'GET', '/readyz')).status).toBe(503);
    expect(await upgradeStatus(`ws://127.0.0.1:${p.port}/media/twilio`)).toBe(503);
    expect(fake.connections.length).toBe(1);

    // The live call goes on, well past the refusals.
    await stillRelays(c, fake, conn, 13, 20);
    await sleep(300);
    await stillRelays(c, fake, conn, 33, 20);
    expect(p.isAlive()).toBe(true);

    const hungUp = Date.now();
    c.ws.close(1000);
    expect((await fake.closed(conn + 1)).code).toBe(1000);
    const exit = await p.exitWithin(5000);
    expect(exit, 'the primary should exit soon after the last call ends').not.toBeNull();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit!.at - hungUp).toBeLessThan(5000);
    // Nothing was cut off, and every worker stopped cleanly.
    expect(p.lines.some((l) => typeof l.closedLive === 'number' && l.closedLive > 0)).toBe(false);
    expect(p.lines.filter((l) => l.msg === 'worker stopped').map((l) => l.code)).toEqual([0, 0]);
    expect(p.lines.filter((l) => l.msg === 'stopped' && l.worker !== undefined)).toHaveLength(2);
  }, 90_000);

  it('a second SIGTERM during the drain ends the primary and its workers at once', async () => {
    const db = await e2eDb('switchboard-cluster-second-');
    const p = await startCluster(db, { SWITCHBOARD_DRAIN_MS: '20000' });
    const fake = await newFake();
    const { e164 } = await provisionRoute(p, ADMIN, fake, 'Second', 'second');
    const v = await twilioVoiceCall(p, TWILIO, e164);
    await bridge(p, fake, v);
    const pids = workerLines(p).map((l) => l.pid as number);
    expect(pids).toHaveLength(2);

    p.child.kill('SIGTERM');
    await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), { what: 'a draining line', timeoutMs: 10_000 });
    await sleep(300);
    expect(p.isAlive(), 'still draining: a call is live').toBe(true);

    const second = Date.now();
    p.child.kill('SIGTERM');
    const exit = await p.exitWithin(1500);
    expect(exit, 'the primary should exit within 1.5 s of the second SIGTERM').not.toBeNull();
    expect(exit!.at - second).toBeLessThan(1500);
    await until(() => pids.every((pid) => !alive(pid)), 'every worker process to be gone', 2000);
  }, 60_000);

  it('kill -9 of a worker: it is replaced, every call is answered, /metrics keeps its counts', async () => {
    const db = await e2eDb('switchboard-cluster-kill-');
    const p = await startCluster(db);
    const [victim, survivor] = workerLines(p);
    let sent = 0;
    const burst = async (n: number) => {
      const answers: Answer[] = [];
      for (let i = 0; i < n; i++) answers.push(await voice(p));
      sent += n;
      for (const a of answers) expect(a.status, a.text).toBe(200);
      return Promise.all(answers.map((a) => workerOf(p, a.reqId)));
    };
    expect(new Set(await burst(20)).size, 'both workers answered').toBe(2);
    expect((await scrape(p)).get('switchboard_calls_total')).toBe(20);

    process.kill(victim!.pid, 'SIGKILL');
    const died = await p.waitForLog((l) => l.msg === 'worker died; replacing it', { what: 'the primary to see the death', timeoutMs: 10_000 });
    expect(died).toMatchObject({ workerId: victim!.worker, signal: 'SIGKILL' });
    // While the replacement starts, the survivor answers everything.
    const during = await burst(20);
    const replacement = await p.waitForLog((l) => l.msg === 'worker listening' && l.worker !== victim!.worker && l.worker !== survivor!.worker, {
      what: 'the replacement to listen',
      timeoutMs: 30_000,
    });
    expect(replacement.port).toBe(p.port);
    expect(
      during.every((w) => w === survivor!.worker || w === replacement.worker),
      `answered by ${during}`,
    ).toBe(true);
    // Then both take calls again.
    const after = await burst(20);
    expect(new Set(after)).toEqual(new Set([survivor!.worker, replacement.worker]));

    // Every webhook counted once, the dead worker's 20 included (it had been scraped).
    const m = await scrape(p);
    expect(m.get('switchboard_calls_total')).toBe(sent);
    expect(m.get('switchboard_webhook_duration_seconds_count')).toBe(sent);
    expect(m.get('switchboard_cluster_worker_restarts_total')).toBe(1);
    expect(m.get('switchboard_cluster_workers', { state: 'listening' })).toBe(2);
    expect(Number(await db.sql.value('SELECT count(*) FROM calls'))).toBe(sent);
    // The replacement joined quietly: no second listening line, no second set of notes.
    expect(p.lines.filter((l) => l.msg === 'switchboard listening')).toHaveLength(1);
    expect(p.lines.filter((l) => l.msg === 'open-files limit' || l.msg === 'the open-files limit is low')).toHaveLength(1);
    expect(await p.stop()).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('a replacement that cannot start is retried later and later, never in a tight loop, and comes up once it can', async () => {
    const db = await e2eDb('switchboard-cluster-backoff-');
    const p = await startCluster(db);
    const first = workerLines(p);
    // Both workers die at once: node:cluster closes the shared socket, and
    // somebody else takes the port before the replacements listen.
    for (const w of first) process.kill(w.pid as number, 'SIGKILL');
    await until(() => p.lines.filter((l) => l.msg === 'worker died; replacing it').length === 2, 'both deaths to be seen', 10_000);
    const squatter = net.createServer();
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          squatter.once('error', () => resolve(false));
          squatter.listen(p.port, '127.0.0.1', () => resolve(true));
        }),
      'the port to be free for the squatter',
      3000,
      5,
    );
    let released = 0;
    try {
      const failedStart = (l: LogLine) => l.msg === 'worker died; replacing it' && typeof l.reason === 'string' && l.reason.includes('already in use');
      await until(() => p.lines.filter(failedStart).length >= 6, 'six replacements to fail', 30_000);
      const failures = p.lines.filter(failedStart);
      // Each failed start named why, and the waits grew: 200, 400, 800 ms... per worker slot.
      const delays = failures.map((l) => l.restartInMs as number);
      expect(Math.max(...delays), JSON.stringify(delays)).toBeGreaterThanOrEqual(800);
      expect(delays.filter((d) => d === 200)).toHaveLength(2);
      // Not a tight loop: the attempts are spread out as the delays say.
      const span = Date.parse(failures.at(-1)!.time) - Date.parse(failures[0]!.time);
      expect(span, JSON.stringify(failures.map((l) => [l.time, l.restartInMs]))).toBeGreaterThanOrEqual(400 + 800 - 200);
      expect(p.isAlive(), 'the cluster listened once: it keeps trying').toBe(true);
    } finally {
      await new Promise((r) => squatter.close(r));
      released = Date.now();
    }
    // Free again: the replacements listen on the cluster's port and answer.
    await until(() => workerLines(p).filter((l) => !first.includes(l)).length === 2, 'two replacements to listen', 30_000);
    expect(Date.now() - released).toBeLessThan(30_000);
    for (const l of workerLines(p)) expect(l.port).toBe(p.port);
    for (let i = 0; i < 4; i++) expect((await voice(p)).status).toBe(200);
    expect(await p.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('the sweeper runs in one worker: an expired trial is released once, and once again after its lease holder is killed', async () => {
    const db = await e2eDb('switchboard-cluster-sweep-');
    const p = await startCluster(db, { SWITCHBOARD_SWEEP_MS: '100' });
    const rw = testSql(db.target);
    try {
      const team = await adminApi(p, 'POST', '/api/teams', { name: 'Trial', slug: 'trial', plan: 'free' });
      expect(team.status, team.text).toBe(201);
      const teamId = team.body.team.id as string;
      const buyTrial = async () => {
        const e164 = (await adminApi(p, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } })).body.numbers[0]
          .phoneNumber as string;
        const r = await adminApi(p, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId });
        expect(r.status, r.text).toBe(201);
        expect(r.body.phoneNumber.trial).toBe(true);
        const id = r.body.phoneNumber.id as string;
        await until(async () => (await adminApi(p, 'GET', `/api/phone-numbers/${id}`)).body.phoneNumber.status === 'active', 'the trial to be active', 10_000);
        return id;
      };
      const expireNow = (id: string) => rw.run('UPDATE phone_numbers SET expires_at = ? WHERE id = ?', Date.now() - 1000, id);
      const released = async (id: string) => (await db.sql.value('SELECT status FROM phone_numbers WHERE id = ?', id)) === 'released';
      const expiries = async (id: string) =>
        Number(await db.sql.value("SELECT count(*) FROM audit_events WHERE action = 'number.expire' AND phone_number_id = ?", id));
      /** The sweep lines that released something, by worker. */
      const sweeps = () => p.lines.filter((l) => l.msg === 'sweep' && l.expired > 0).map((l) => [l.worker, l.expired]);

      const first = await buyTrial();
      await expireNow(first);
      await until(() => released(first), 'the trial to be released', 10_000);
      await sleep(1000); // ten sweep periods: each worker had its chance to sweep again
      expect(await expiries(first)).toBe(1);
      expect(sweeps(), 'one sweep released it, in one worker').toHaveLength(1);
      expect((await scrape(p)).get('switchboard_trial_expiries_total')).toBe(1);

      // The lease holder is a worker; kill it: the lease lapses and another worker (or the replacement) sweeps.
      const holder = (await db.sql.value('SELECT holder FROM leases WHERE name = ?', 'sweeper')) as string;
      const leader = workerLines(p).find((l) => l.instanceId === holder);
      expect(leader, `lease holder ${holder} is one of the workers`).toBeDefined();
      expect(sweeps()[0]![0]).toBe(leader!.worker);
      process.kill(leader!.pid as number, 'SIGKILL');
      await p.waitForLog((l) => l.msg === 'worker died; replacing it' && l.workerId === leader!.worker, {
        what: 'the primary to see the death',
        timeoutMs: 10_000,
      });
      const second = await buyTrial();
      await expireNow(second);
      await until(() => released(second), 'the second trial to be released by another worker', 20_000);
      await sleep(1000);
      expect(await expiries(second)).toBe(1);
      const all = sweeps();
      expect(all, JSON.stringify(all)).toHaveLength(2);
      expect(all[1]![0]).not.toBe(leader!.worker);
      // The killed worker's expiry was scraped before it died: the cluster still counts it.
      expect((await scrape(p)).get('switchboard_trial_expiries_total')).toBe(2);
    } finally {
      await rw.close();
    }
    expect(await p.stop()).toEqual({ code: 0, signal: null });
  }, 90_000);
});
