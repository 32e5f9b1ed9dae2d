/**
 * Benchmark 3: media relay. N concurrent calls, each a carrier simulator
 * sending 50 frames/s of 160-byte mu-law as Twilio Media Streams JSON, and an
 * assistant simulator echoing every frame back:
 *   direct   carrier sim ↔ assistant sim (the baseline)
 *   gateway  carrier sim ↔ gateway ↔ assistant sim, each call set up through a
 *            signed voice webhook and the TwiML's <Stream>/<Parameter>s
 * Both simulators run in their own processes, so the gateway's process is
 * measured alone (CPU and RSS from /proc over the steady-state window). One-way
 * latency comes from send times in the frames (CLOCK_MONOTONIC, one clock for
 * all processes): carrier→assistant at the assistant sim, assistant→carrier
 * (the echo) at the carrier sim. Added latency = gateway − direct, per
 * percentile (median over rounds that alternate the two). Sizes grow until one
 * fails: some frame lost or reordered, a call failed, or added p99 > 5 ms in
 * either direction (MEDIA_ALL_SIZES=1 runs every size regardless).
 *
 * CPU_PROF=<dir> runs the gateway with --cpu-prof, writing a .cpuprofile there.
 */
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hrms } from './lib/media-sim.mjs';
import { freePort, gatewayEnv, median, startServer, usage } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';
const GOAL_CALLS = 1000;
const GOAL_ADDED_P99_MS = 5;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/** startServer for the gateway, with node flags (--cpu-prof is not allowed in NODE_OPTIONS). */
async function startGateway(env, execArgv) {
  if (execArgv.length === 0) return startServer(here('../dist/src/main.js'), env, { ready: '/readyz' });
  const child = fork(here('../dist/src/main.js'), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv });
  for (const until = Date.now() + 30_000; ; await sleep(20)) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode} before it was ready`);
    if (Date.now() > until) throw new Error('gateway not ready after 30 s');
    if (await fetch(`http://127.0.0.1:${env.PORT}/readyz`).then((r) => r.status === 200, () => false)) break;
  }
  return { child, pid: child.pid, usage: () => usage(child.pid), stop: () => kill(child) };
}

function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export async function mediaBench({ quick = false, sizes, seconds, rounds, allSizes = process.env.MEDIA_ALL_SIZES === '1', log = console.error } = {}) {
  sizes ??= quick ? [50, 200] : [100, 500, 1000, 1500, 2000];
  seconds ??= quick ? 5 : 10;
  rounds ??= quick ? 1 : 2;
  const settleMs = quick ? 1000 : 2000;
  const nofile = fileLimit();
  // The gateway holds 2 sockets per call, each simulator 1 per call (+ slack).
  const fdNeed = 2 * Math.max(...sizes) + 200;
  if (nofile < fdNeed) log(`  WARNING: ulimit -n is ${nofile}; ${Math.max(...sizes)} calls need ~${fdNeed} descriptors in the gateway`);

  const dir = mkdtempSync(join(tmpdir(), 'switchboard-media-'));
  const dbPath = join(dir, 'bench.db');
  // One fixed port for the assistant simulator, so the seeded assistants' mediaUrl stays valid across runs.
  const assistantPort = await freePort();
  const assistantUrl = `ws://127.0.0.1:${assistantPort}/assistant`;
  const numbers = 200;
  seed(dbPath, { numbers, assistants: 10, mediaUrl: assistantUrl });
  const profDir = process.env.CPU_PROF ? resolve(process.env.CPU_PROF) : null;
  if (profDir) mkdirSync(profDir, { recursive: true });

  let offset = 0;
  async function runOnce(mode, calls) {
    const asim = await startServer(here('./lib/assistant-sim.mjs'), { SIM_PORT: String(assistantPort) }, { ready: null });
    let gw = null;
    let csim = null;
    try {
      let port = 0;
      let publicUrl = '';
      if (mode === 'gateway') {
        port = await freePort();
        publicUrl = `http://127.0.0.1:${port}`;
        gw = await startGateway(
          gatewayEnv({ port, dbPath, authToken: AUTH, extra: { SWITCHBOARD_DRAIN_MS: '3000' } }),
          profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=gateway-${calls}-${Date.now()}.cpuprofile`] : [],
        );
      }
      const args = { mode, calls, port, publicUrl, authToken: AUTH, numbers, assistantUrl, offset: ++offset, rampBatch: 100, rampEveryMs: 100 };
      csim = fork(here('./lib/carrier-sim.mjs'), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      const ready = await nextMessage(csim, 'ready', 120_000, 'carrier-sim');
      await sleep(settleMs);
      const start = hrms();
      const end = start + seconds * 1000;
      asim.child.send({ type: 'window', start, end });
      csim.send({ type: 'window', start, end });
      const u0 = { gw: gw?.usage(), c: usage(csim.pid), a: asim.usage() };
      await sleep(seconds * 1000);
      const u1 = { gw: gw?.usage(), c: usage(csim.pid), a: asim.usage() };
      const elapsed = (hrms() - start) / 1000;
      await sleep(100); // frames sent at the end of the window are still in flight
      const doneP = nextMessage(csim, 'done', 60_000, 'carrier-sim');
      csim.send({ type: 'stop' });
      const carrier = (await doneP).stats;
      await sleep(200); // the last closes reach the assistant sim
      const repP = nextMessage(asim.child, 'report', 10_000, 'assistant-sim');
      asim.child.send({ type: 'report' });
      const assistant = (await repP).stats;
      const cpu = (a, b) => (b.cpuSec - a.cpuSec) / elapsed;
      return {
        mode,
        calls,
        ready,
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
        gwCpu: gw ? cpu(u0.gw, u1.gw) : NaN,
        gwRss: gw ? u1.gw.rss : NaN,
        simCpu: cpu(u0.c, u1.c) + cpu(u0.a, u1.a),
      };
    } finally {
      if (csim) await kill(csim);
      if (gw) await gw.stop();
      await asim.stop();
    }
  }

  const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const line = (r) =>
    `c→a p50 ${fmt(r.c2a.p50)} p99 ${fmt(r.c2a.p99)} ms · a→c p50 ${fmt(r.a2c.p50)} p99 ${fmt(r.a2c.p99)} ms · lost ${r.lostC2A}+${r.lostA2C} reordered ${r.reorderedC2A}+${r.reorderedA2C} failed calls ${r.failedCalls}` +
    (r.mode === 'gateway' ? ` · gateway CPU ${fmt(r.gwCpu * 100, 0)}% RSS ${fmt(r.gwRss / 2 ** 20, 0)} MB` : '') +
    ` · sims CPU ${fmt(r.simCpu * 100, 0)}%`;
  // Rounds alternate direct and gateway (order rotated) and report the median
  // of each percentile, so a burst of noise on the shared machine hits one round.
  const combine = (rs) => {
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
      gwCpu: median(rs.map((r) => r.gwCpu)),
      gwRss: Math.max(...rs.map((r) => r.gwRss)),
      simCpu: median(rs.map((r) => r.simCpu)),
      runs: rs,
    };
  };
  const results = [];
  try {
    for (const n of sizes) {
      const runs = { direct: [], gateway: [] };
      for (let r = 0; r < rounds; r++) {
        for (const mode of r % 2 ? ['gateway', 'direct'] : ['direct', 'gateway']) {
          let x;
          try {
            x = await runOnce(mode, n);
          } catch (err) {
            // A run that cannot even set up (the simulators or the machine overloaded) fails the size.
            log(`  N=${n} round ${r + 1} ${mode}: ${err.message}`);
            const nan = { p50: NaN, p99: NaN, max: NaN };
            x = { mode, carrier: {}, sentC2A: 0, sentA2C: 0, lostC2A: 0, lostA2C: 0, reorderedC2A: 0, reorderedA2C: 0, failedCalls: n, c2a: nan, a2c: nan, gwCpu: NaN, gwRss: NaN, simCpu: NaN };
          }
          runs[mode].push(x);
          log(`  N=${n} round ${r + 1} ${mode.padEnd(7)} ${line(x)}`);
          const c = x.carrier;
          if (c.webhookFailed || c.connectFailed || c.closedEarly || c.unfinished)
            log(`    call failures: ${JSON.stringify({ webhookFailed: c.webhookFailed, connectFailed: c.connectFailed, closedEarly: c.closedEarly, unfinished: c.unfinished, errors: c.errors, closeReasons: c.closeReasons })}`);
        }
      }
      const direct = combine(runs.direct);
      const gateway = combine(runs.gateway);
      const added = {
        c2a: { p50: gateway.c2a.p50 - direct.c2a.p50, p99: gateway.c2a.p99 - direct.c2a.p99 },
        a2c: { p50: gateway.a2c.p50 - direct.a2c.p50, p99: gateway.a2c.p99 - direct.a2c.p99 },
      };
      const lost = gateway.lostC2A + gateway.lostA2C;
      const reordered = gateway.reorderedC2A + gateway.reorderedA2C;
      const worstAddedP99 = Math.max(added.c2a.p99, added.a2c.p99);
      const holds = lost === 0 && reordered === 0 && gateway.failedCalls === 0 && worstAddedP99 <= GOAL_ADDED_P99_MS;
      results.push({ n, direct, gateway, added, lost, reordered, worstAddedP99, holds });
      log(`  N=${n} median of ${rounds}: added c→a p50 ${fmt(added.c2a.p50)} p99 ${fmt(added.c2a.p99)} ms · a→c p50 ${fmt(added.a2c.p50)} p99 ${fmt(added.a2c.p99)} ms → ${holds ? 'holds' : 'does NOT hold'}`);
      if (!holds && !allSizes) break;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const largest = Math.max(0, ...results.filter((r) => r.holds).map((r) => r.n));
  return { results, seconds, rounds, largest, nofile, fdNeed, goalCalls: GOAL_CALLS, goalAddedP99: GOAL_ADDED_P99_MS };
}
