/**
 * Benchmark 1 (and 2, at scale): signed Twilio voice webhooks answered by
 *   gateway  the real gateway, production build, its own process
 *   bare     node:http parsing the same form and returning fixed TwiML (the ceiling)
 *   express  Express 5 + body parsing + twilio.validateRequest + a drizzle query and insert per call
 * alternating targets round by round on one seeded database, medians reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, gatewayEnv, median, runJson, startServer } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';

export const TARGETS = {
  gateway: { script: here('../dist/src/main.js'), ready: '/readyz' },
  bare: { script: here('./baselines/bare-http.mjs'), ready: null },
  express: { script: here('./baselines/express-drizzle.mjs'), ready: null },
};

export async function routingBench({ quick = false, numbers = 1000, targets = ['gateway', 'bare', 'express'], rounds, seconds, fixedRate = 0, log = console.error } = {}) {
  rounds ??= quick ? 1 : 3;
  seconds ??= quick ? 3 : 8;
  const warmup = quick ? 1 : 2;
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const dbPath = join(dir, 'bench.db');
  const t0 = performance.now();
  seed(dbPath, { numbers });
  log(`  seeded ${numbers.toLocaleString()} numbers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const runs = Object.fromEntries(targets.map((t) => [t, []]));
  let offset = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no target always runs first (or last) on a noisy machine.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]);
      for (const name of order) {
        const port = await freePort();
        const publicUrl = `http://127.0.0.1:${port}`;
        const env = gatewayEnv({ port, dbPath, authToken: AUTH });
        const srv = await startServer(TARGETS[name].script, env, { ready: TARGETS[name].ready });
        try {
          const load = { port, publicUrl, authToken: AUTH, numbers, connections: 50 };
          await runJson(here('./lib/loadgen.mjs'), { ...load, seconds: warmup, offset: ++offset });
          const before = srv.usage();
          const res = await runJson(here('./lib/loadgen.mjs'), { ...load, seconds, offset: ++offset });
          const after = srv.usage();
          const run = { ...res, cpu: (after.cpuSec - before.cpuSec) / seconds, rss: after.rss, readyMs: srv.readyMs };
          if (fixedRate) {
            // The same target below saturation: the latency it adds, not its queue.
            const fixed = await runJson(here("./lib/loadgen.mjs"), { ...load, connections: 10, seconds, rate: fixedRate, offset: ++offset });
            run.fixed = { rate: fixedRate, rps: fixed.rps, p50: fixed.p50, p99: fixed.p99, errors: fixed.errors };
          }
          runs[name].push(run);
          log(`  round ${r + 1} ${name.padEnd(8)} ${Math.round(run.rps).toString().padStart(6)} req/s  p50 ${run.p50} ms  p99 ${run.p99} ms  errors ${run.errors}  cpu ${(run.cpu * 100).toFixed(0)}%  rss ${(run.rss / 2 ** 20).toFixed(0)} MB`);
        } finally {
          await srv.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = {};
  for (const [name, rs] of Object.entries(runs)) {
    summary[name] = {
      rps: median(rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      errors: rs.reduce((a, x) => a + x.errors, 0),
      cpu: median(rs.map((x) => x.cpu)),
      rss: Math.max(...rs.map((x) => x.rss)),
      readyMs: median(rs.map((x) => x.readyMs)),
      rounds: rs.length,
      fixed: rs[0]?.fixed
        ? { rate: rs[0].fixed.rate, rps: median(rs.map((x) => x.fixed.rps)), p50: median(rs.map((x) => x.fixed.p50)), p99: median(rs.map((x) => x.fixed.p99)), errors: rs.reduce((a, x) => a + x.fixed.errors, 0) }
        : undefined,
    };
  }
  return summary;
}
