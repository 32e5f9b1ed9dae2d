/**
 * Benchmark 3: media relay. N concurrent calls, each a carrier simulator
 * stream sending 50 frames/s of 160-byte mu-law, and an assistant simulator
 * echoing every frame back (so each call relays 100 frames/s, 50 each way).
 * Modes, alternated round by round (order rotated), medians reported:
 *   direct   carrier sim ↔ assistant sim: the latency baseline, no relay
 *   tcp      carrier sim ↔ raw node:net TCP relay ↔ assistant sim: the floor
 *   ws       carrier sim ↔ minimal ws relay ↔ assistant sim
 *   twilio   carrier sim ↔ gateway ↔ assistant sim, Twilio Media Streams
 *            (the zero-copy path), each call set up by a signed voice webhook
 *   telnyx   the same with Telnyx's webhooks (Ed25519) and media dialect,
 *            which the gateway translates both ways (its reorder window too)
 * The simulators and the relay each run in their own process. CPU per
 * relayed frame is measured directly: the relay process's CPU time (user +
 * system, /proc) over the measured window ÷ the frames relayed in it (every
 * frame that reached either simulator, each direction's frame counted
 * once). One-way latency comes from send times stamped in the frames
 * (CLOCK_MONOTONIC, one clock for all processes): carrier→assistant at the
 * assistant sim, assistant→carrier (the echo) at the carrier sim; added =
 * mode − direct, per percentile.
 *
 * CPU_PROF=<dir> runs the gateway with --cpu-prof, writing .cpuprofile files there.
 */
import { fork, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hrms } from './lib/media-sim.mjs';
import { freePort, gatewayEnv, kill, median, startServer, usage } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';
const GOAL_ADDED_P99_MS = 5;
const GOAL_RATIO = 1.15;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const MODES = ['direct', 'tcp', 'ws', 'twilio', 'telnyx'];
const RELAYS = { tcp: here('./baselines/tcp-relay.mjs'), ws: here('./baselines/ws-relay.mjs') };
const isGateway = (mode) => mode === 'twilio' || mode === 'telnyx';

/** The soft limit on open files for processes started from here. */
export function fileLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? Infinity : Number(v);
}

function nextMessage(child, type, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no '${type}' after ${timeoutMs} ms`)), timeoutMs);
    const onMsg = (m) => m?.type === type && done(null, m);
    const onExit = (code) => done(new Error(`${what} exited ${code} before '${type}'`));
    const done = (err, m) => {
      clearTimeout(timer);
      child.off('message', onMsg);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/**
 * The media set-up shared by every run: a seeded SQLite file whose assistants
 * point at the assistant simulator's fixed port, and Telnyx's key pair.
 * `runOnce(mode, calls, { workers })` measures one run; `workers` > 1 runs
 * the gateway in cluster mode (SWITCHBOARD_WORKERS), its CPU summed over the
 * primary and every worker (bench/cluster.mjs). `close()` removes the files.
 */
export async function mediaRig({ seconds, settleMs, log = console.error }) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-media-'));
  const dbPath = join(dir, 'bench.db');
  // One fixed port for the assistant simulator, so the seeded assistants' mediaUrl stays valid across runs.
  const assistantPort = await freePort();
  const assistantUrl = `ws://127.0.0.1:${assistantPort}/assistant`;
  const numbers = 200;
  await seed(dbPath, { numbers, assistants: 10, mediaUrl: assistantUrl });
  // Telnyx signs with Ed25519: the gateway gets the public half, the carrier sim the private one.
  const keys = generateKeyPairSync('ed25519');
  const telnyxPublic = keys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  const telnyxPrivate = keys.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
  const profDir = process.env.CPU_PROF ? resolve(process.env.CPU_PROF) : null;
  if (profDir) mkdirSync(profDir, { recursive: true });

  let offset = Math.floor(Math.random() * 1e6);
  async function runOnce(mode, calls, { workers = 1 } = {}) {
    const asim = await startServer(here('./lib/assistant-sim.mjs'), { SIM_PORT: String(assistantPort) }, { ready: null });
    let relay = null;
    let csim = null;
    try {
      const port = mode === 'direct' ? 0 : await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      if (isGateway(mode)) {
        const extra = { SWITCHBOARD_DRAIN_MS: '3000', TELNYX_PUBLIC_KEY: telnyxPublic, ...(workers > 1 ? { SWITCHBOARD_WORKERS: String(workers) } : {}) };
        const env = gatewayEnv({ port, dbPath, authToken: AUTH, extra });
        const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=gateway-${mode}-${calls}-${Date.now()}.cpuprofile`] : [];
        relay = await startServer(here('../dist/src/main.js'), env, { ready: '/readyz', execArgv, listening: workers > 1 });
      } else if (mode !== 'direct') {
        relay = await startServer(RELAYS[mode], { PORT: String(port), RELAY_TARGET_PORT: String(assistantPort) }, { ready: null });
      }
      const args = {
        mode: isGateway(mode) ? 'gateway' : 'direct',
        dialect: mode === 'telnyx' ? 'telnyx' : 'twilio',
        url: mode === 'direct' ? assistantUrl : `ws://127.0.0.1:${port}/assistant`,
        calls,
        port,
        publicUrl,
        authToken: AUTH,
        telnyxKey: telnyxPrivate,
        numbers,
        offset: ++offset,
        rampBatch: 100,
        rampEveryMs: 100,
      };
      csim = fork(here('./lib/carrier-sim.mjs'), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      const ready = await nextMessage(csim, 'ready', 120_000, 'carrier-sim');
      if (ready.webhookFailed || ready.connectFailed)
        log(
          `    ${mode} N=${calls}: ${ready.webhookFailed} webhooks and ${ready.connectFailed} connections failed: ${JSON.stringify(ready.errors).slice(0, 300)}`,
        );
      await sleep(settleMs);
      const start = hrms();
      const end = start + seconds * 1000;
      asim.child.send({ type: 'window', start, end });
      csim.send({ type: 'window', start, end });
      const u0 = { r: relay?.usage(), c: usage(csim.pid), a: asim.usage() };
      await sleep(seconds * 1000);
      const u1 = { r: relay?.usage(), c: usage(csim.pid), a: asim.usage() };
      const elapsed = (hrms() - start) / 1000;
      await sleep(100); // frames sent at the end of the window are still in flight
      const doneP = nextMessage(csim, 'done', 60_000, 'carrier-sim');
      csim.send({ type: 'stop' });
      const carrier = (await doneP).stats;
      await sleep(200); // the last closes reach the assistant sim
      const repP = nextMessage(asim.child, 'report', 10_000, 'assistant-sim');
      asim.child.send({ type: 'report' });
      const assistant = (await repP).stats;
      const cpuSec = (a, b) => b.cpuSec - a.cpuSec;
      const frames = assistant.recvInWindow + carrier.echoRecvInWindow;
      const relayCpuSec = relay ? cpuSec(u0.r, u1.r) : NaN;
      return {
        mode,
        calls,
        carrier,
        assistant,
        sentC2A: carrier.sentMedia,
        sentA2C: assistant.echoed,
        lostC2A: Math.max(carrier.sentMedia - assistant.recvMedia, assistant.lost),
        lostA2C: Math.max(assistant.echoed - carrier.echoRecv, carrier.echoLost),
        reorderedC2A: assistant.reordered,
        reorderedA2C: carrier.echoReordered,
        failedCalls: carrier.webhookFailed + carrier.connectFailed + carrier.closedEarly + carrier.unfinished,
        c2a: assistant.latency,
        a2c: carrier.latency,
        framesPerSec: frames / elapsed,
        relayCpu: relayCpuSec / elapsed,
        usPerFrame: (relayCpuSec * 1e6) / frames,
        relayRss: relay ? u1.r.rss : NaN,
        carrierSimCpu: cpuSec(u0.c, u1.c) / elapsed,
        assistantSimCpu: cpuSec(u0.a, u1.a) / elapsed,
      };
    } finally {
      if (csim) await kill(csim);
      if (relay) await relay.stop();
      await asim.stop();
    }
  }

  return { runOnce, close: () => rmSync(dir, { recursive: true, force: true }) };
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

/** One run on one line, for the log. */
export const mediaLine = (r) =>
  `c→a p50 ${fmt(r.c2a.p50)} p99 ${fmt(r.c2a.p99)} ms · a→c p50 ${fmt(r.a2c.p50)} p99 ${fmt(r.a2c.p99)} ms · lost ${r.lostC2A}+${r.lostA2C} reordered ${r.reorderedC2A}+${r.reorderedA2C} failed calls ${r.failedCalls}` +
  ` · ${fmt(r.framesPerSec, 0)} frames/s` +
  (r.mode !== 'direct' ? ` · relay CPU ${fmt(r.relayCpu * 100, 0)}% = ${fmt(r.usPerFrame)} µs/frame, RSS ${fmt(r.relayRss / 2 ** 20, 0)} MB` : '') +
  ` · sims CPU ${fmt(r.carrierSimCpu * 100, 0)}% + ${fmt(r.assistantSimCpu * 100, 0)}%`;

/** Several runs of one mode at one size: totals, and medians of the rates and latencies. */
export const combineMedia = (rs) => {
  const lat = (dir, k) => median(rs.map((r) => r[dir][k]));
  const sum = (k) => rs.reduce((a, r) => a + r[k], 0);
  return {
    mode: rs[0].mode,
    rounds: rs.length,
    sentC2A: sum('sentC2A'),
    sentA2C: sum('sentA2C'),
    lostC2A: sum('lostC2A'),
    lostA2C: sum('lostA2C'),
    reorderedC2A: sum('reorderedC2A'),
    reorderedA2C: sum('reorderedA2C'),
    failedCalls: sum('failedCalls'),
    c2a: { p50: lat('c2a', 'p50'), p99: lat('c2a', 'p99'), max: Math.max(...rs.map((r) => r.c2a.max)) },
    a2c: { p50: lat('a2c', 'p50'), p99: lat('a2c', 'p99'), max: Math.max(...rs.map((r) => r.a2c.max)) },
    framesPerSec: median(rs.map((r) => r.framesPerSec)),
    relayCpu: median(rs.map((r) => r.relayCpu)),
    usPerFrame: median(rs.map((r) => r.usPerFrame)),
    usPerFrameRuns: rs.map((r) => r.usPerFrame),
    relayRss: Math.max(...rs.map((r) => r.relayRss)),
    carrierSimCpu: median(rs.map((r) => r.carrierSimCpu)),
    assistantSimCpu: median(rs.map((r) => r.assistantSimCpu)),
  };
};
/** A run that could not even set up: every call failed. */
export const failedMedia = (mode, n) => {
  const nan = { p50: NaN, p99: NaN, max: NaN };
  return {
    mode,
    calls: n,
    carrier: {},
    sentC2A: 0,
    sentA2C: 0,
    lostC2A: 0,
    lostA2C: 0,
    reorderedC2A: 0,
    reorderedA2C: 0,
    failedCalls: n,
    c2a: nan,
    a2c: nan,
    framesPerSec: NaN,
    relayCpu: NaN,
    usPerFrame: NaN,
    relayRss: NaN,
    carrierSimCpu: NaN,
    assistantSimCpu: NaN,
  };
};

export async function mediaBench({ quick = false, sizes, seconds, rounds, modes = MODES, log = console.error } = {}) {
  sizes ??= process.env.MEDIA_SIZES ? process.env.MEDIA_SIZES.split(',').map(Number) : quick ? [100, 200] : [100, 200, 500];
  seconds ??= quick ? 4 : 6;
  rounds ??= quick ? 1 : 2;
  const settleMs = quick ? 1000 : 1500;
  const nofile = fileLimit();
  // The gateway holds 2 sockets per call, each simulator 1 per call (+ slack).
  const fdNeed = 2 * Math.max(...sizes) + 200;
  if (nofile < fdNeed) log(`  WARNING: ulimit -n is ${nofile}; ${Math.max(...sizes)} calls need ~${fdNeed} descriptors in the gateway`);
  const { runOnce, close } = await mediaRig({ seconds, settleMs, log });
  const results = [];
  try {
    for (const n of sizes) {
      const runs = Object.fromEntries(modes.map((m) => [m, []]));
      for (let r = 0; r < rounds; r++) {
        for (const mode of modes.map((_, i) => modes[(i + r) % modes.length])) {
          let x;
          try {
            x = await runOnce(mode, n);
          } catch (err) {
            // A run that cannot even set up (the simulators or the machine overloaded) fails the size.
            log(`  N=${n} round ${r + 1} ${mode}: ${err.message}`);
            x = failedMedia(mode, n);
          }
          runs[mode].push(x);
          log(`  N=${n} round ${r + 1} ${mode.padEnd(6)} ${mediaLine(x)}`);
          const c = x.carrier;
          if (c.webhookFailed || c.connectFailed || c.closedEarly || c.unfinished)
            log(
              `    call failures: ${JSON.stringify({ webhookFailed: c.webhookFailed, connectFailed: c.connectFailed, closedEarly: c.closedEarly, unfinished: c.unfinished, errors: c.errors, closeReasons: c.closeReasons })}`,
            );
        }
      }
      const by = Object.fromEntries(modes.map((m) => [m, combineMedia(runs[m])]));
      const direct = by.direct;
      const row = { n, by };
      for (const m of modes) {
        if (m === 'direct') continue;
        const g = by[m];
        g.added = {
          c2a: { p50: g.c2a.p50 - direct.c2a.p50, p99: g.c2a.p99 - direct.c2a.p99 },
          a2c: { p50: g.a2c.p50 - direct.a2c.p50, p99: g.a2c.p99 - direct.a2c.p99 },
        };
        g.worstAddedP99 = Math.max(g.added.c2a.p99, g.added.a2c.p99);
        g.lost = g.lostC2A + g.lostA2C;
        g.reordered = g.reorderedC2A + g.reorderedA2C;
        g.holds = g.lost === 0 && g.reordered === 0 && g.failedCalls === 0 && g.worstAddedP99 <= GOAL_ADDED_P99_MS;
        g.vsTcp = by.tcp ? g.usPerFrame / by.tcp.usPerFrame : NaN;
      }
      results.push(row);
      for (const m of modes.filter(isGateway)) {
        const g = by[m];
        log(
          `  N=${n} ${m}: ${fmt(g.usPerFrame)} µs/frame = ${fmt(g.vsTcp)} × raw TCP relay; added p99 c→a ${fmt(g.added.c2a.p99)} a→c ${fmt(g.added.a2c.p99)} ms → ${g.holds ? 'holds' : 'does NOT hold'}`,
        );
      }
    }
  } finally {
    close();
  }
  return { results, modes, seconds, rounds, nofile, fdNeed, goalAddedP99: GOAL_ADDED_P99_MS, goalRatio: GOAL_RATIO };
}
