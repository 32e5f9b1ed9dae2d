/**
 * Benchmark 4: purchases per second, for one team and for 50 teams at once,
 * plan limits enforced (enterprise plans, so the limit check runs and
 * passes), with 20k and 200k numbers in the carrier's inventory. API rate
 * limits are lifted for the run: this measures the purchase path, not the
 * limiter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, median, runJson, startServer } from './lib/proc.mjs';
import { INVENTORY_FIRST, seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const ADMIN = 'sb_admin_bench_0123456789abcdef';

/** `count` enterprise teams through the admin API; their owner tokens and ids. */
export async function createTeams(base, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const r = await fetch(`${base}/api/teams`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Buyer ${i}`, slug: `buyer-${i}-${Date.now()}`, plan: 'enterprise' }),
    });
    const b = await r.json();
    out.push({ token: b.token, teamId: b.team.id });
  }
  return out;
}

export async function purchaseBench({
  quick = false,
  inventories,
  teamCounts = [1, 50],
  seconds,
  execArgv = [],
  roots = { gateway: here('..') },
  rounds = 1,
  log = console.error,
} = {}) {
  inventories ??= quick ? [20_000] : [20_000, 200_000];
  seconds ??= quick ? 3 : 6;
  const results = [];
  for (const inventory of inventories) {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
    const dbPath = join(dir, 'bench.db');
    await seed(dbPath, { numbers: 0, assistants: 1, inventory });
    let used = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        const names = Object.keys(roots);
        for (const name of names.map((_, i) => names[(i + round) % names.length])) {
          for (const teams of teamCounts) {
            const port = await freePort();
            const env = {
              PORT: String(port),
              HOST: '127.0.0.1',
              SWITCHBOARD_DB: dbPath,
              SWITCHBOARD_ADMIN_TOKEN: ADMIN,
              SIM_PROVISION_MS: '200',
              SWITCHBOARD_API_RATE: '1000000',
              SWITCHBOARD_API_BURST: '1000000',
              LOG_LEVEL: 'info',
            };
            const srv = await startServer(`${roots[name]}/dist/src/main.js`, env, { ready: '/readyz', execArgv });
            try {
              const tokens = await createTeams(`http://127.0.0.1:${port}`, teams);
              // Each run buys numbers nobody bought before: offset by what earlier runs used.
              const first = INVENTORY_FIRST + used;
              const r = await runJson(here('./lib/purchase-load.mjs'), { port, tokens, first, seconds, connections: 20 });
              used += r.attempted;
              const cpu = srv.usage();
              const row = { target: name, inventory, teams, ...r };
              results.push(row);
              log(
                `  ${name} inventory ${inventory.toLocaleString()} teams ${teams}: ${Math.round(r.rps)} purchases/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}  server CPU total ${cpu.cpuSec.toFixed(1)} s`,
              );
            } finally {
              await srv.stop();
            }
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

export { median };
