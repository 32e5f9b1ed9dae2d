// Raw-socket fuzzing of the real gateway process (issue: "Parse request
// targets defensively everywhere"). More than 10,000 malformed or unusual
// requests and upgrade attempts go out over plain net.Sockets, byte for byte
// as generated (an HTTP client library would normalise them), while one call
// stays bridged the whole time. It passes when:
//   - the process never exits,
//   - GET /healthz answers 200 after every batch,
//   - the live call still relays media both ways at the end, byte-exact and in order,
//   - no answer is a 5xx (the test never drains, so not even a 503),
//   - the server never holds a socket the client has half-closed.
// Seeded: SWITCHBOARD_FUZZ_SEED=<n> replays a run (same cases, same order; only
// the port and signature timestamps differ). When the process dies, the batch
// in flight is replayed one case at a time on a fresh process to name the
// request that killed it, and the run goes on (at most MAX_CRASHES times) so
// one run lists every crasher.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateCases, CATEGORY_COUNTS } from '../helpers/raw-http-fuzz.js';
import type { FuzzTarget } from '../helpers/raw-http-requests.js';
import { FuzzReport } from '../helpers/raw-fuzz-report.js';
import { sendRaw, type RawCase, type SendOptions } from '../helpers/raw-socket.js';
import { STREAM_SID, fakeAssistant, mediaFrame, type FakeAssistant } from '../helpers/media.js';
import { bridge, provisionRoute, twilioVoiceCall } from '../e2e/calls.js';
import { api, e2eDb, gatewayHooks, spawnGateway, until, type Gateway } from '../e2e/server.js';

const DEFAULT_SEED = 0x5b0a_f022;
const SEED = process.env.SWITCHBOARD_FUZZ_SEED ? Number(process.env.SWITCHBOARD_FUZZ_SEED) >>> 0 : DEFAULT_SEED;
const REPLAY = `SWITCHBOARD_FUZZ_SEED=${SEED} npx vitest run test/security/raw-socket-fuzz.test.ts`;
const CONCURRENCY = 50;
const BATCH = 250;
const MAX_CRASHES = 5;
const SEND: SendOptions = { hangMs: 5000, quietMs: 500 };

const ADMIN = 'sb_admin_e2e_rawfuzz_0123456789abcdef';
const TWILIO = 'tw_e2e_rawfuzz_token';
const GENERIC = 'generic-rawfuzz-secret-0123456789';

let fake: FakeAssistant;
gatewayHooks();
beforeAll(async () => {
  fake = await fakeAssistant({ echo: true });
});
afterAll(async () => {
  await fake?.close();
});

/** Runs fn over items, at most n at once. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function healthz(p: Gateway): Promise<string | null> {
  try {
    const res = await fetch(`${p.base}/healthz`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return res.status === 200 ? null : `GET /healthz answered ${res.status}: ${text.slice(0, 200)}`;
  } catch (err) {
    return `GET /healthz failed: ${(err as Error).message}`;
  }
}

/**
 * Why a process is gone: a crash prints its uncaught exception on stderr
 * (Node's deprecation warnings left out); a SIGTERM or SIGINT is logged as
 * "shutting down". Other programs on a shared machine may signal every
 * gateway process, and that must not be blamed on a request.
 */
function exitCause(p: Gateway): { outside: boolean; text: string } {
  const signal = p.lines.find((l) => l.msg === 'shutting down')?.signal ?? p.child.signalCode;
  if (signal) return { outside: true, text: `stopped by ${signal} from outside the test, not by a request (exit ${p.child.exitCode ?? p.child.signalCode})` };
  const stderr = p
    .stderr()
    .split('\n')
    .filter((l) => !/DeprecationWarning|--trace-deprecation/.test(l))
    .join('\n')
    .trim();
  return { outside: false, text: `exit code ${p.child.exitCode}:\n${stderr.slice(-3000) || '(nothing on stderr)'}` };
}

it(
  `survives ${Object.values(CATEGORY_COUNTS).reduce((a, b) => a + b)} raw malformed requests and upgrades with a live call bridged (seed ${SEED})`,
  { timeout: 180_000 },
  async () => {
    const started = Date.now();
    const db = await e2eDb('switchboard-rawfuzz-');
    const env = {
      SWITCHBOARD_DB: db.target,
      SWITCHBOARD_ADMIN_TOKEN: ADMIN,
      TWILIO_AUTH_TOKEN: TWILIO,
      SWITCHBOARD_WEBHOOK_SECRET: GENERIC,
      SIM_PROVISION_MS: '0',
      // Every fuzzed request should reach its real handler, not a 429.
      SWITCHBOARD_API_RATE: '1000000',
      SWITCHBOARD_API_BURST: '1000000',
      SWITCHBOARD_AUTH_FAILURE_LIMIT: '1000000',
      SWITCHBOARD_DRAIN_MS: '0',
    };
    let p = await spawnGateway(env, { outputTail: 4000 });
    await p.waitListening({ killOnTimeout: true });
    const port = p.port;
    // Respawns reuse the port and the database: the generated cases' Host, signed
    // URLs and the live call's token stay valid.
    // A few attempts: on a shared machine the port can be briefly taken.
    const respawn = async (): Promise<Gateway> => {
      for (let attempt = 1; ; attempt++) {
        const q = await spawnGateway(env, { port, outputTail: 4000 });
        try {
          await q.waitListening({ killOnTimeout: true });
          return q;
        } catch (err) {
          const exit = await q.exitWithin(1000);
          if (attempt === 3) throw new Error(`${(err as Error).message}\nexit: ${JSON.stringify(exit)}`);
        }
      }
    };

    // ------------------------------------------------------------ the live call
    const route = await provisionRoute(p, ADMIN, fake, 'Raw fuzz', 'raw-fuzz');
    const voice = await twilioVoiceCall(p, TWILIO, route.e164);
    expect(voice.status, voice.text).toBe(200);
    const live = await bridge(p, fake, voice);
    const target: FuzzTarget = {
      publicUrl: p.base,
      adminToken: ADMIN,
      twilioToken: TWILIO,
      genericSecret: GENERIC,
      live: { callId: live.callId, token: voice.twiml!.token!, sid: live.sid },
      routedE164: route.e164,
      nowMs: Date.now(),
    };

    // ------------------------------------------------------------ the fuzz
    const { cases, slow } = generateCases(SEED, target);
    const report = new FuzzReport();
    let crashes = 0;
    const slowInFlight = new Set<RawCase>();
    const run = async (c: RawCase) => report.record(c, await sendRaw(port, c, SEND));
    // Slow clients trickle in the background the whole time, five at once.
    const slowLane = pool(slow, 5, async (c) => {
      slowInFlight.add(c);
      await run(c);
      slowInFlight.delete(c);
    });

    /** Replays cases one by one on a fresh process until one kills it. */
    const findCrasher = async (suspects: RawCase[]) => {
      const q = await respawn();
      for (const c of suspects) {
        await sendRaw(port, c, { hangMs: 1000, quietMs: 200 });
        if (await q.exitWithin(50)) {
          const why = exitCause(q);
          if (why.outside) report.add({ kind: 'exit', detail: `the replay was ${why.text}` });
          else report.add({ kind: 'exit', detail: `a fresh process dies of this request alone, ${why.text}` }, c);
          return;
        }
      }
      q.child.kill('SIGKILL');
      await q.exited;
      report.add({
        kind: 'exit',
        detail: `the process exited during cases #${suspects[0]?.id}..#${suspects.at(-1)?.id}; no single one of them kills a fresh process`,
      });
    };

    for (let b = 0; b * BATCH < cases.length; b++) {
      const batch = cases.slice(b * BATCH, (b + 1) * BATCH);
      await pool(batch, CONCURRENCY, run);
      const sick = await healthz(p);
      const dead = !p.isAlive() || (sick !== null && (await p.exitWithin(200)) !== null);
      if (dead) {
        const why = exitCause(p);
        report.add({ kind: 'exit', detail: `the process exited during a batch, ${why.text}\n(batch ${b}: cases #${batch[0]!.id}..#${batch.at(-1)!.id})` });
        if (!why.outside) await findCrasher([...batch, ...slowInFlight]);
        if (++crashes >= MAX_CRASHES) break;
        p = await respawn();
      } else if (sick) report.add({ kind: 'healthz', detail: `after batch ${b} (cases #${batch[0]!.id}..#${batch.at(-1)!.id}): ${sick}` });
    }
    await slowLane;

    // ------------------------------------------------------------ the live call still relays, both ways
    if (crashes === 0) {
      const { c, conn } = live;
      const before = fake.received[conn]!.length;
      const echoes = c.received.length;
      const frames = Array.from({ length: 20 }, (_, i) => mediaFrame(100 + i));
      if (c.ws.readyState !== WebSocket.OPEN)
        report.add({ kind: 'relay', detail: `the live call's carrier socket is no longer open (readyState ${c.ws.readyState})` });
      else {
        for (const f of frames) c.ws.send(f);
        try {
          await until(() => fake.received[conn]!.length >= before + 20 && c.received.length >= echoes + 20, 'the frames and their echoes', 5000);
          // Carrier → assistant exactly as sent; assistant → carrier: the echo the fake assistant sent for each, in order.
          expect(fake.received[conn]!.slice(before)).toEqual(frames);
          const echoed = frames.map((f) => JSON.stringify({ event: 'media', streamSid: STREAM_SID, media: { payload: JSON.parse(f).media.payload } }));
          expect(c.received.slice(echoes)).toEqual(echoed);
        } catch (err) {
          report.add({ kind: 'relay', detail: `the live call no longer relays: ${(err as Error).message.slice(0, 500)}` });
        }
      }
      const rec = await api(p.base, ADMIN, 'GET', `/api/calls/${live.callId}`);
      if (rec.status !== 200 || rec.body.call.endedAt !== null)
        report.add({ kind: 'relay', detail: `the live call's record changed: ${rec.status} ${rec.text.slice(0, 300)}` });
    } else report.add({ kind: 'relay', detail: 'the process died, so the live call died with it' });

    // ------------------------------------------------------------ report
    // An error line is a contained bug (faults.ts): none may be provoked from outside.
    const errors = p.lines.filter((l) => l.level === 'error' || l.level === 'fatal' || (typeof l.level === 'number' && l.level >= 50));
    if (errors.length) report.add({ kind: 'relay', detail: `server error log lines: ${errors.length}, e.g. ${JSON.stringify(errors[0]).slice(0, 1500)}` });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (report.findings.length || process.env.SWITCHBOARD_FUZZ_VERBOSE)
      console.log(`raw-socket fuzz, seed ${SEED} (replay: ${REPLAY}), ${seconds} s\n${report.summary()}`);
    const { cases: sent } = report.totals;
    expect(sent, 'connections sent').toBeGreaterThanOrEqual(crashes ? 0 : 10_000);
    if (report.findings.length) {
      const msg = `raw-socket fuzz found ${report.findings.length} problem(s) with seed ${SEED}; replay with ${REPLAY}\n${report.describeFindings()}`;
      console.error(msg);
      expect.fail(msg.slice(0, 20_000));
    }
    expect(p.isAlive(), 'the gateway process is alive at the end').toBe(true);
  },
);
