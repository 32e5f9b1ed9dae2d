/**
 * Benchmark 1 (and 2, at scale): signed Twilio voice webhooks answered by
 *   gateway     the real gateway, production build, its own process, SQLite
 *   gateway-pg  the same on PostgreSQL (when there is one, see lib/postgres.mjs)
 *   bare        node:http parsing the same form and returning fixed TwiML (the ceiling)
 *   express     Express 5 + body parsing + twilio.validateRequest + a drizzle query and insert per call
 * Every request is a distinct call (new CallSid, signed); every server runs
 * at LOG_LEVEL=info with its stdout a pipe that this process drains.
 *
 * Two phases, each alternating the targets round by round (order rotated),
 * medians reported: saturation (50 connections, as fast as answers come),
 * then a fixed rate of half the gateway's saturation throughput (its median
 * from phase one) for every target, 10 connections: the latency a call sees
 * below saturation, without the queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, dropDatabase } from './lib/postgres.mjs';
import { freePort, gatewayEnv, median, runLoad, startServer } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';
const GATEWAY = here('../dist/src/main.js');
const SCRIPTS = {
  gateway: { script: GATEWAY, ready: '/readyz', store: 'sqlite' },
  'gateway-pg': { script: GATEWAY, ready: '/readyz', store: 'pg' },
  bare: { script: here('./baselines/bare-http.mjs'), ready: null, store: 'sqlite' },
  express: { script: here('./baselines/express-drizzle.mjs'), ready: null, store: 'sqlite' },
};

/** Adds a target: another build of the gateway (bench/ab.mjs compares two). */
export function addTarget(name, script, store = 'sqlite', env = {}) {
  SCRIPTS[name] = { script, ready: '/readyz', store, env };
}

/**
 * Seeds one database per store (and size) the targets need. Targets are
 * names from SCRIPTS, optionally `@<numbers>` (scale: `gateway@1000000`).
 */
async function prepare(targets, { numbers, pgUrl, log }) {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const dbs = new Map();
  const cleanups = [() => rmSync(dir, { recursive: true, force: true })];
  for (const t of targets) {
    const [name, n = String(numbers)] = t.split('@');
    const store = SCRIPTS[name].store;
    const key = `${store}@${n}`;
    if (dbs.has(key)) continue;
    const t0 = performance.now();
    let db;
    if (store === 'pg') {
      db = await createDatabase(pgUrl);
      cleanups.push(() => dropDatabase(pgUrl, db));
    } else db = join(dir, `bench-${n}.db`);
    await seed(db, { numbers: Number(n) });
    dbs.set(key, db);
    log(
      `  seeded ${Number(n).toLocaleString('en-US')} numbers on ${store === 'pg' ? 'PostgreSQL' : 'SQLite'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  const dbFor = (t) => {
    const [name, n = String(numbers)] = t.split('@');
    return dbs.get(`${SCRIPTS[name].store}@${n}`);
  };
  return {
    dbFor,
    cleanup: async () => {
      for (const c of cleanups.reverse()) await c();
    },
  };
}

async function oneRun(target, db, load, { execArgv = [] } = {}) {
  const [name, n] = target.split('@');
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const env = gatewayEnv({ port, dbPath: db, authToken: AUTH, extra: SCRIPTS[name].env });
  const srv = await startServer(SCRIPTS[name].script, env, { ready: SCRIPTS[name].ready, execArgv });
  let r;
  try {
    r = await runLoad(here('./lib/loadgen.mjs'), { port, publicUrl, authToken: AUTH, numbers: Number(n ?? load.numbers), ...load }, srv);
  } finally {
    await srv.stop();
  }
  // Counted once the server has exited and its stdout was read to the end:
  // the log lines of every webhook it answered (warm-up included).
  return { ...r, readyMs: srv.readyMs, logLines: srv.webhookLines(), total: r.total, logLinesPerRequest: srv.webhookLines() / Math.max(1, r.answered) };
}

/** The medians every saturation table shows (the cluster section adds its own columns). */
export const saturationSummary = (rs) => ({
  rps: median(rs.map((x) => x.rps)),
  p50: median(rs.map((x) => x.p50)),
  p99: median(rs.map((x) => x.p99)),
  errors: rs.reduce((a, x) => a + x.errors, 0),
  cpu: median(rs.map((x) => x.cpu)),
  loadgenCpu: median(rs.map((x) => x.loadgenCpu)),
  rss: Math.max(...rs.map((x) => x.rss)),
  logLinesPerRequest: median(rs.map((x) => x.logLinesPerRequest)),
  rounds: rs.length,
  runs: rs.map((x) => Math.round(x.rps)),
  /** Server CPU per answered request, µs: less sensitive than req/s to what else the machine runs. */
  usPerRequest: median(rs.map((x) => (x.cpu * 1e6) / x.rps)),
});

const summarise = (rs) => ({
  ...saturationSummary(rs),
  readyMs: median(rs.map((x) => x.readyMs)),
  usRuns: rs.map((x) => Math.round((x.cpu * 1e6) / x.rps)),
});

/**
 * targets: names from SCRIPTS (with `@numbers` for scale). rate: a fixed
 * rate instead of saturation for the first phase (bench/ab.mjs). fixedFraction:
 * 0 skips the fixed-rate phase; else the rate is that fraction of the
 * median saturation rate of `fixedOf`.
 */
export async function routingBench({
  quick = false,
  numbers = 1000,
  targets = ['gateway', 'bare', 'express'],
  pgUrl = null,
  rounds,
  seconds,
  fixedFraction = 0,
  fixedOf = 'gateway',
  execArgv = {},
  rate = 0,
  log = console.error,
} = {}) {
  rounds ??= quick ? 1 : 3;
  seconds ??= quick ? 3 : 8;
  const warmup = quick ? 1 : 2;
  targets = targets.filter((t) => pgUrl || SCRIPTS[t.split('@')[0]].store !== 'pg');
  const { dbFor, cleanup } = await prepare(targets, { numbers, pgUrl, log });
  const sat = Object.fromEntries(targets.map((t) => [t, []]));
  const fixed = Object.fromEntries(targets.map((t) => [t, []]));
  let offset = Math.floor(Math.random() * 1e6);
  const show = (phase, r, name, x) =>
    log(
      `  ${phase} round ${r + 1} ${name.padEnd(18)} ${Math.round(x.rps).toString().padStart(6)} req/s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  errors ${x.errors}  ` +
        `server cpu ${(x.cpu * 100).toFixed(0)}%  loadgen cpu ${(x.loadgenCpu * 100).toFixed(0)}%  rss ${(x.rss / 2 ** 20).toFixed(0)} MB  log lines/req ${x.logLinesPerRequest.toFixed(3)}`,
    );
  try {
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no target always runs first (or last) on a noisy machine.
      for (const name of targets.map((_, i) => targets[(i + r) % targets.length])) {
        const load = { numbers, connections: rate ? 10 : 50, seconds, warmup, offset: ++offset, ...(rate ? { rate } : {}) };
        const x = await oneRun(name, dbFor(name), load, { execArgv: execArgv[name] ?? [] });
        sat[name].push(x);
        show('saturation', r, name, x);
      }
    }
    let fixedRate = 0;
    if (fixedFraction) {
      fixedRate = Math.round((fixedFraction * median(sat[fixedOf].map((x) => x.rps))) / 100) * 100;
      for (let r = 0; r < rounds; r++) {
        for (const name of targets.map((_, i) => targets[(i + r) % targets.length])) {
          const x = await oneRun(name, dbFor(name), { numbers, connections: 10, seconds, warmup: 1, rate: fixedRate, offset: ++offset });
          fixed[name].push(x);
          show(`${fixedRate} req/s`, r, name, x);
        }
      }
    }
    const out = {};
    for (const t of targets) out[t] = { ...summarise(sat[t]), fixed: fixedFraction ? { rate: fixedRate, ...summarise(fixed[t]) } : undefined };
    return out;
  } finally {
    await cleanup();
  }
}
