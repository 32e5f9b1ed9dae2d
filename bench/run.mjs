/**
 * npm run bench [-- <benchmark>... ] [--quick]
 * Benchmarks: routing, scale, media, purchase (default: all). --quick runs
 * smaller sizes for development and does not rewrite bench/RESULTS.md.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { routingBench } from './routing.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const chosen = args.filter((a) => !a.startsWith('--'));
const all = ['routing', 'scale', 'media', 'purchase'];
const which = chosen.length ? chosen : all;
for (const w of which) if (!all.includes(w)) throw new Error(`unknown benchmark ${w}; choose from ${all.join(', ')}`);

const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const date = new Date().toISOString();
const sections = [];
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mb = (b) => `${fmt(b / 2 ** 20)} MB`;
const verdict = (ok) => (ok ? 'met' : '**not met**');

console.error(`switchboard bench: ${which.join(', ')}${quick ? ' (quick)' : ''}\n${machine}`);

if (which.includes('routing')) {
  console.error('\n[routing] signed Twilio webhooks, 1,000 numbers');
  const s = await routingBench({ quick });
  const g = s.gateway, b = s.bare, e = s.express;
  const rows = [
    '| target | req/s | p50 ms | p99 ms | errors | server CPU | RSS |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(s).map(([n, x]) => `| ${n} | ${fmt(x.rps)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${x.errors} | ${fmt(x.cpu * 100)}% | ${mb(x.rss)} |`),
  ];
  const r1 = g.rps / b.rps, r2 = g.rps / e.rps, r3 = g.p99 / b.p99;
  rows.push('', '| goal | measured | |', '|---|---:|---|');
  rows.push(`| gateway ≥ 0.6 × bare node:http | ${fmt(r1, 2)} × | ${verdict(r1 >= 0.6)} |`);
  rows.push(`| gateway ≥ 2 × straightforward Express | ${fmt(r2, 2)} × | ${verdict(r2 >= 2)} |`);
  rows.push(`| zero errors | ${g.errors} | ${verdict(g.errors === 0)} |`);
  rows.push(`| p99 ≤ 2 × bare's p99 | ${fmt(r3, 2)} × | ${verdict(r3 <= 2)} |`);
  sections.push(['Inbound routing', rows.join('\n')]);
  console.log(`\nInbound routing\n${rows.join('\n')}`);
}

if (!quick && chosen.length === 0) {
  const md = [
    '# Benchmark results',
    '',
    `Latest full run: ${date}. Machine: ${machine}.`,
    '',
    'Run with `npm run bench`; every figure is a median over alternating rounds, compared with baselines measured in the same run.',
    ...sections.flatMap(([title, body]) => ['', `## ${title}`, '', body]),
    '',
  ].join('\n');
  writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), md);
  console.error('\nwrote bench/RESULTS.md');
}
