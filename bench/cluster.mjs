/**
 * Benchmark 5: cluster mode (SWITCHBOARD_WORKERS), 1 worker against 2.
 *
 *   routing  the saturation phase of bench/routing.mjs (distinct signed
 *            Twilio calls over 50 keep-alive connections, 1,000 numbers,
 *            LOG_LEVEL=info into a pipe this process drains) against the
 *            gateway with SWITCHBOARD_WORKERS=1 (one process, no primary)
 *            and =2 (a primary and two workers sharing the port), on a
 *            SQLite file and, when there is one, on PostgreSQL
 *   media    the Twilio relay of bench/media.mjs at one call count, with
 *            1 and 2 workers
 *
 * Rounds alternate 1 and 2 workers (order rotated), medians reported. The
 * server's CPU is summed over the primary and every worker (their pids from
 * the primary's "switchboard listening" line, lib/proc.mjs), so CPU per
 * request or per frame is the whole cluster's. node:cluster spreads
 * connections, not requests: the load generator's 50 connections are dealt
 * out in turn, and so are the media simulator's WebSockets.
 *
 * On a machine whose cores the load generators share, a second worker has
 * no idle core to run on: the figures say what was measured, not what more
 * cores would give, which is why the load generators' CPU is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { combineMedia, failedMedia, fileLimit, mediaLine, mediaRig } from './media.mjs';
import { createDatabase, dropDatabase } from './lib/postgres.mjs';
import { freePort, gatewayEnv, median, runLoad, startServer } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';
import { saturationSummary } from './routing.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';
const GATEWAY = here('../dist/src/main.js');
const NUMBERS = 1000;

/** One saturation run against the gateway with `workers` workers; `dbCpu`: the PostgreSQL server's CPU clock, or null. */
async function routingRun(db, workers, load, dbCpu) {
  const port = await freePort();
  const env = gatewayEnv({ port, dbPath: db, authToken: AUTH, extra: { SWITCHBOARD_WORKERS: String(workers) } });
  const srv = await startServer(GATEWAY, env, { ready: '/readyz', listening: true });
  let r;
  let commits = NaN;
  try {
    r = await runLoad(here('./lib/loadgen.mjs'), { port, publicUrl: `http://127.0.0.1:${port}`, authToken: AUTH, numbers: NUMBERS, ...load }, srv, {
      also: dbCpu ? { db: dbCpu } : {},
    });
    // Group commits of call records, the whole cluster's (any worker answers /metrics with the sum).
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    commits = Number(/^switchboard_call_record_commits_total (\d+)/m.exec(m)?.[1] ?? NaN);
  } finally {
    await srv.stop();
  }
  // Every worker writes its own line per webhook to the one stdout, read to its end by now.
  return {
    ...r,
    callsPerCommit: r.answered / commits,
    dbCpu: r.alsoCpu.db ?? NaN,
    processes: srv.pids().length,
    logLinesPerRequest: srv.webhookLines() / Math.max(1, r.answered),
  };
}

const summarise = (rs) => ({
  // rss is summed over the primary and the workers; the largest of the rounds.
  ...saturationSummary(rs),
  /** Call records per group commit, warm-up included: each worker batches its own. */
  callsPerCommit: median(rs.map((x) => x.callsPerCommit)),
  /** The PostgreSQL server's CPU (a throwaway cluster only), share of one core. */
  dbCpu: median(rs.map((x) => x.dbCpu)),
  processes: rs[0]?.processes,
});

/** pgUrl: a PostgreSQL server, or null for SQLite only; pgCpu: its CPU clock (lib/postgres.mjs), or null. */
export async function clusterBench({ quick = false, pgUrl = null, pgCpu = null, rounds, seconds, calls, workerCounts = [1, 2], log = console.error } = {}) {
  rounds ??= quick ? 1 : 3;
  seconds ??= quick ? 3 : 6;
  calls ??= 200;
  const warmup = quick ? 1 : 2;
  const mediaRounds = quick ? 1 : 2;
  const order = (r) => workerCounts.map((_, i) => workerCounts[(i + r) % workerCounts.length]);

  // ---------------------------------------------------------------- routing
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-cluster-'));
  const stores = [['sqlite', join(dir, 'bench.db')]];
  const cleanups = [() => rmSync(dir, { recursive: true, force: true })];
  const routing = {};
  let offset = Math.floor(Math.random() * 1e6);
  try {
    if (pgUrl) {
      const db = await createDatabase(pgUrl);
      cleanups.push(() => dropDatabase(pgUrl, db));
      stores.push(['pg', db]);
    }
    for (const [store, db] of stores) {
      await seed(db, { numbers: NUMBERS });
      const runs = Object.fromEntries(workerCounts.map((w) => [w, []]));
      for (let r = 0; r < rounds; r++) {
        for (const w of order(r)) {
          const x = await routingRun(db, w, { connections: 50, seconds, warmup, offset: ++offset }, store === 'pg' ? pgCpu : null);
          runs[w].push(x);
          log(
            `  routing ${store} round ${r + 1} workers ${w}: ${Math.round(x.rps).toString().padStart(6)} req/s  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  errors ${x.errors}  ` +
              `server cpu ${(x.cpu * 100).toFixed(0)}% (${x.processes} processes)${store === 'pg' ? `  postgres cpu ${(x.dbCpu * 100).toFixed(0)}%` : ''}  loadgen cpu ${(x.loadgenCpu * 100).toFixed(0)}%  rss ${(x.rss / 2 ** 20).toFixed(0)} MB  calls/commit ${x.callsPerCommit.toFixed(1)}  log lines/req ${x.logLinesPerRequest.toFixed(3)}`,
          );
        }
      }
      routing[store] = Object.fromEntries(workerCounts.map((w) => [w, summarise(runs[w])]));
    }
  } finally {
    for (const c of cleanups.reverse()) await c();
  }

  // ---------------------------------------------------------------- media
  const nofile = fileLimit();
  if (nofile < 2 * calls + 200) log(`  WARNING: ulimit -n is ${nofile}; ${calls} calls need ~${2 * calls + 200} descriptors in the gateway`);
  const { runOnce, close } = await mediaRig({ seconds: quick ? 4 : 6, settleMs: quick ? 1000 : 1500, log });
  const mediaRuns = Object.fromEntries(workerCounts.map((w) => [w, []]));
  try {
    for (let r = 0; r < mediaRounds; r++) {
      for (const w of order(r)) {
        let x;
        try {
          x = await runOnce('twilio', calls, { workers: w });
        } catch (err) {
          log(`  media N=${calls} round ${r + 1} workers ${w}: ${err.message}`);
          x = failedMedia('twilio', calls);
        }
        mediaRuns[w].push(x);
        log(`  media N=${calls} round ${r + 1} workers ${w} ${mediaLine(x)}`);
      }
    }
  } finally {
    close();
  }
  const media = Object.fromEntries(workerCounts.map((w) => [w, combineMedia(mediaRuns[w])]));
  return { routing, media, calls, rounds, mediaRounds, seconds, workerCounts };
}
