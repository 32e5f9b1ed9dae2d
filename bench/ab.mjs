/**
 * A/B of two gateway builds in one run: routing at saturation, the two
 * alternating round by round (order rotated), medians of req/s and of server
 * CPU per request (µs; steadier than req/s on a shared machine).
 *
 *   node bench/ab.mjs --a <root> --b <root> [--rounds N] [--seconds S] [--pg] [--numbers N]
 *                     [--a-env NAME=VALUE]... [--b-env NAME=VALUE]... [--rate R]
 * --rate: a fixed request rate (10 connections) instead of saturation.
 * --purchase: purchases per second for 50 teams instead of routing.
 *
 * A root is a folder with the build in dist/ (and package.json, db/,
 * node_modules/ next to it, as the gateway finds its migrations from
 * there): this worktree, or a copy of an earlier build (see NOTES.md).
 */
import { resolve } from 'node:path';
import { benchPostgres } from './lib/postgres.mjs';
import { addTarget, routingBench } from './routing.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const store = args.includes('--pg') ? 'pg' : 'sqlite';
const a = resolve(opt('a', '.'));
const b = resolve(opt('b', '.'));
const envOf = (k) => Object.fromEntries(args.flatMap((x, i) => (args[i - 1] === `--${k}-env` ? [x.split('=')] : [])));
addTarget('A', `${a}/dist/src/main.js`, store, envOf('a'));
addTarget('B', `${b}/dist/src/main.js`, store, envOf('b'));
if (args.includes('--purchase')) {
  // Purchases per second, 50 teams, the two builds alternating.
  const { purchaseBench } = await import('./purchase.mjs');
  const rs = await purchaseBench({
    inventories: [Number(opt('inventory', 200_000))],
    teamCounts: [50],
    seconds: Number(opt('seconds', 6)),
    rounds: Number(opt('rounds', 5)),
    roots: { A: a, B: b },
  });
  const { median } = await import('./lib/proc.mjs');
  const m = (k) => median(rs.filter((r) => r.target === k).map((r) => r.rps));
  for (const k of ['A', 'B'])
    console.log(
      `${k}: ${Math.round(m(k))} purchases/s (${rs
        .filter((r) => r.target === k)
        .map((r) => Math.round(r.rps))
        .join(', ')})`,
    );
  console.log(`B/A: ${(m('B') / m('A')).toFixed(3)} ×`);
  process.exit(0);
}
const pg = store === 'pg' ? await benchPostgres() : null;
try {
  const s = await routingBench({
    targets: ['A', 'B'],
    rounds: Number(opt('rounds', 5)),
    seconds: Number(opt('seconds', 6)),
    numbers: Number(opt('numbers', 1000)),
    pgUrl: pg?.url ?? null,
    rate: Number(opt('rate', 0)),
  });
  const f = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`A ${a}\nB ${b}\nstore ${store}`);
  for (const k of ['A', 'B'])
    console.log(
      `${k}: ${f(s[k].rps)} req/s (${s[k].runs.join(', ')}), ${f(s[k].usPerRequest)} µs CPU/request (${s[k].usRuns.join(', ')}), p99 ${s[k].p99.toFixed(2)} ms`,
    );
  console.log(`B/A: req/s ${(s.B.rps / s.A.rps).toFixed(3)} ×, CPU/request ${(s.B.usPerRequest / s.A.usPerRequest).toFixed(3)} ×`);
} finally {
  await pg?.stop();
}
