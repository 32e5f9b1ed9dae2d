/**
 * npm run bench [-- <benchmark>... ] [--quick]
 * Benchmarks: routing, scale, media, purchase (default: all). --quick runs
 * smaller sizes for development and does not rewrite bench/RESULTS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { mediaBench } from './media.mjs';
import { purchaseBench } from './purchase.mjs';
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
  const s = await routingBench({ quick, fixedRate: 3000 });
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
  rows.push('', `Below saturation, at a fixed ${g.fixed.rate.toLocaleString()} req/s for every target (what the gateway adds per call, without its queue):`, '');
  rows.push('| target | req/s | p50 ms | p99 ms | errors |', '|---|---:|---:|---:|---:|');
  for (const [n, x] of Object.entries(s)) rows.push(`| ${n} | ${fmt(x.fixed.rps)} | ${fmt(x.fixed.p50, 1)} | ${fmt(x.fixed.p99, 1)} | ${x.fixed.errors} |`);
  sections.push(['Inbound routing', rows.join('\n')]);
  console.log(`\nInbound routing\n${rows.join('\n')}`);
}

if (which.includes('media')) {
  console.error('\n[media] Twilio Media Streams relay: carrier sim ↔ gateway ↔ echoing assistant sim, 50 frames/s per call');
  const m = await mediaBench({ quick });
  const ms = (x) => fmt(x, 2);
  const pair = (a, b) => `${ms(a)} / ${ms(b)}`;
  const rows = [
    `Per call 50 frames/s each way (160-byte mu-law, Twilio JSON), ${m.seconds} s steady state per size after a ramp of 100 calls per 100 ms; ${m.rounds} alternating round(s) of direct and gateway, latency percentiles are medians over rounds, frame counts are totals. ` +
      'One-way latency from send times carried in the frames; c→a measured at the assistant sim, a→c (the echo) at the carrier sim; added = through the gateway − direct. ' +
      `Caveat: both simulators run in their own processes on the same ${os.cpus().length} cores as the gateway, so above a few hundred calls the load generators compete with the gateway for CPU and inflate both baseline and gateway latencies. ` +
      `Open-file limit (ulimit -n) ${m.nofile}; the largest size needs ~${m.fdNeed} in the gateway${m.nofile >= m.fdNeed ? ', not a limit' : ': **a limit**'}.`,
    '',
    '| N | direction | frames sent | lost | reordered | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 / p99 ms | gateway CPU | gateway RSS |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of m.results) {
    const g = r.gateway, d = r.direct;
    const fail = g.failedCalls ? ` (${g.failedCalls} calls failed)` : '';
    rows.push(`| ${r.n.toLocaleString('en-US')} | carrier → assistant | ${g.sentC2A.toLocaleString('en-US')} | ${g.lostC2A}${fail} | ${g.reorderedC2A} | ${pair(d.c2a.p50, d.c2a.p99)} | ${pair(g.c2a.p50, g.c2a.p99)} | ${pair(r.added.c2a.p50, r.added.c2a.p99)} | ${fmt(g.gwCpu * 100)}% | ${mb(g.gwRss)} |`);
    rows.push(`| | assistant → carrier | ${g.sentA2C.toLocaleString('en-US')} | ${g.lostA2C} | ${g.reorderedA2C} | ${pair(d.a2c.p50, d.a2c.p99)} | ${pair(g.a2c.p50, g.a2c.p99)} | ${pair(r.added.a2c.p50, r.added.a2c.p99)} | | |`);
  }
  const at = m.results.find((r) => r.n === m.goalCalls);
  const notRun = quick ? 'not measured (--quick)' : 'not reached';
  rows.push('', '| goal | measured | |', '|---|---:|---|');
  rows.push(`| largest N that holds (0 lost/reordered, added p99 ≤ ${m.goalAddedP99} ms) ≥ ${m.goalCalls.toLocaleString('en-US')} | ${m.largest.toLocaleString('en-US')} calls | ${verdict(m.largest >= m.goalCalls)} |`);
  rows.push(`| 0 frames lost or reordered at ${m.goalCalls.toLocaleString('en-US')} calls | ${at ? `${at.lost} lost, ${at.reordered} reordered, ${at.gateway.failedCalls} calls failed` : notRun} | ${verdict(!!at && at.lost === 0 && at.reordered === 0 && at.gateway.failedCalls === 0)} |`);
  rows.push(`| added p99 ≤ ${m.goalAddedP99} ms at ${m.goalCalls.toLocaleString('en-US')} calls (worse direction) | ${at ? `${ms(at.worstAddedP99)} ms` : notRun} | ${verdict(!!at && at.worstAddedP99 <= m.goalAddedP99)} |`);
  sections.push(['Media relay', rows.join('\n')]);
  console.log(`\nMedia relay\n${rows.join('\n')}`);
}

if (which.includes('scale')) {
  const big = quick ? 100_000 : 1_000_000;
  console.error(`\n[scale] the gateway with 1,000 and ${big.toLocaleString()} numbers, traffic spread over all of them`);
  const small = (await routingBench({ quick, numbers: 1000, targets: ['gateway'] })).gateway;
  const large = (await routingBench({ quick, numbers: big, targets: ['gateway'] })).gateway;
  const ratio = large.rps / small.rps;
  const rows = [
    '| numbers | req/s | p50 ms | p99 ms | errors | RSS | start-up to ready |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| 1,000 | ${fmt(small.rps)} | ${fmt(small.p50, 1)} | ${fmt(small.p99, 1)} | ${small.errors} | ${mb(small.rss)} | ${fmt(small.readyMs)} ms |`,
    `| ${big.toLocaleString()} | ${fmt(large.rps)} | ${fmt(large.p50, 1)} | ${fmt(large.p99, 1)} | ${large.errors} | ${mb(large.rss)} | ${fmt(large.readyMs)} ms |`,
    '',
    '| goal | measured | |',
    '|---|---:|---|',
    `| throughput at ${big.toLocaleString()} ≥ 0.9 × at 1k | ${fmt(ratio, 2)} × | ${verdict(ratio >= 0.9)} |`,
    `| RSS ≤ 300 MB at ${big.toLocaleString()} | ${mb(large.rss)} | ${verdict(large.rss <= 300 * 2 ** 20)} |`,
    `| start-up to ready ≤ 2 s at ${big.toLocaleString()} | ${fmt(large.readyMs)} ms | ${verdict(large.readyMs <= 2000)} |`,
  ];
  sections.push(['Scale', rows.join('\n')]);
  console.log(`\nScale\n${rows.join('\n')}`);
}

if (which.includes('purchase')) {
  console.error('\n[purchase] purchases per second, plan limits enforced');
  const rs = await purchaseBench({ quick });
  const rows = [
    '| inventory | teams | purchases/s | p50 ms | p99 ms | errors |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rs.map((r) => `| ${r.inventory.toLocaleString()} | ${r.teams} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} |`),
  ];
  const by = (inv, teams) => rs.find((r) => r.inventory === inv && r.teams === teams)?.rps;
  if (by(200_000, 1)) rows.push('', `200k vs 20k inventory: ${fmt(by(200_000, 1) / by(20_000, 1), 2)} × (one team), ${fmt(by(200_000, 50) / by(20_000, 50), 2)} × (50 teams). No target yet; it must not degrade with inventory size.`);
  sections.push(['Purchase path', rows.join('\n')]);
  console.log(`\nPurchase path\n${rows.join('\n')}`);
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
    // Profiles, what was tried, what is left: written by hand, kept across runs.
    readFileSync(fileURLToPath(new URL('./NOTES.md', import.meta.url)), 'utf8'),
  ].join('\n');
  writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), md);
  console.error('\nwrote bench/RESULTS.md');
}
