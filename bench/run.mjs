/**
 * npm run bench [-- <benchmark>... ] [--quick] [--no-pg]
 * Benchmarks: routing, scale, media, purchase, cluster, instances (default: all). --quick runs
 * smaller sizes for development and does not rewrite bench/RESULTS.md.
 * PostgreSQL figures need BENCH_PG_URL or Debian's postgresql package (a
 * throwaway cluster is started); without either they are skipped, and the
 * output says so. --no-pg skips them on purpose. `instances` is PostgreSQL
 * only: without it, it is skipped with the reason.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { clusterBench } from './cluster.mjs';
import { instancesBench } from './instances.mjs';
import { mediaBench } from './media.mjs';
import { benchPostgres } from './lib/postgres.mjs';
import { purchaseBench } from './purchase.mjs';
import { routingBench } from './routing.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const chosen = args.filter((a) => !a.startsWith('--'));
const all = ['routing', 'scale', 'media', 'purchase', 'cluster', 'instances'];
const which = chosen.length ? chosen : all;
for (const w of which) if (!all.includes(w)) throw new Error(`unknown benchmark ${w}; choose from ${all.join(', ')}`);

const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const date = new Date().toISOString();
const began = performance.now();
const sections = [];
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const n0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const mb = (b) => `${fmt(b / 2 ** 20)} MB`;
const verdict = (ok) => (ok ? 'met' : '**not met**');
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
const loads = [];
const note = (what) => loads.push(`${what}: ${load()}`);

console.error(`switchboard bench: ${which.join(', ')}${quick ? ' (quick)' : ''}\n${machine}\nload average (1/5/15 min) at start: ${load()}`);
note('start');

let pg = { url: null, why: 'not needed' };
if (['routing', 'scale', 'cluster', 'instances'].some((w) => which.includes(w)) && !args.includes('--no-pg')) {
  pg = await benchPostgres();
  console.error(
    pg.url ? `PostgreSQL ${pg.version}: ${pg.started ? 'a throwaway cluster started for this run' : 'BENCH_PG_URL'}` : `PostgreSQL figures skipped: ${pg.why}`,
  );
} else if (args.includes('--no-pg')) pg = { url: null, why: '--no-pg' };
const pgLine = pg.url
  ? `PostgreSQL ${pg.version} on this machine (${pg.started ? "a throwaway cluster, synchronous_commit=off like SQLite's synchronous=NORMAL, otherwise defaults" : 'BENCH_PG_URL'}).`
  : `**No PostgreSQL figures in this run**: ${pg.why}.`;

try {
  if (which.includes('routing')) {
    console.error('\n[routing] signed Twilio webhooks, each a new call, 1,000 numbers, LOG_LEVEL=info into a drained pipe');
    const targets = ['gateway', 'gateway-pg', 'bare', 'express'];
    const s = await routingBench({ quick, targets, pgUrl: pg.url, fixedFraction: 0.5 });
    const g = s.gateway,
      b = s.bare,
      e = s.express,
      p = s['gateway-pg'];
    const rate = g.fixed.rate;
    const rows = [
      `Saturation: 50 connections, each sending its next call as soon as the answer arrives; ${g.rounds} alternating round(s), medians. Server and load generator CPU are shares of one core over the measured window.`,
      '',
      '| target | req/s | p50 ms | p99 ms | errors | server CPU | load generator CPU | RSS | log lines / request |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...Object.entries(s).map(
        ([n, x]) =>
          `| ${n} | ${n0(x.rps)} | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ${x.errors} | ${fmt(x.cpu * 100)}% | ${fmt(x.loadgenCpu * 100)}% | ${mb(x.rss)} | ${fmt(x.logLinesPerRequest, 2)} |`,
      ),
      '',
      `At a fixed ${rate.toLocaleString('en-US')} req/s for every target (half the gateway's median saturation throughput), 10 connections: what a call waits below saturation, without the queue.`,
      '',
      '| target | req/s | p50 ms | p99 ms | errors | server CPU |',
      '|---|---:|---:|---:|---:|---:|',
      ...Object.entries(s).map(
        ([n, x]) => `| ${n} | ${n0(x.fixed.rps)} | ${fmt(x.fixed.p50, 2)} | ${fmt(x.fixed.p99, 2)} | ${x.fixed.errors} | ${fmt(x.fixed.cpu * 100)}% |`,
      ),
    ];
    const r1 = g.rps / b.rps,
      r2 = g.rps / e.rps,
      r3 = g.p99 / b.p99,
      r4 = g.fixed.p99 / b.fixed.p99;
    rows.push('', '| goal | measured | |', '|---|---:|---|');
    rows.push(`| gateway ≥ 0.6 × bare node:http | ${fmt(r1, 2)} × (${g.runs.join(', ')} vs ${b.runs.join(', ')} req/s) | ${verdict(r1 >= 0.6)} |`);
    rows.push(`| p99 ≤ 2 × bare's p99 at saturation | ${fmt(r3, 2)} × | ${verdict(r3 <= 2)} |`);
    rows.push(`| p99 ≤ 2 × bare's p99 at ${rate.toLocaleString('en-US')} req/s (50% of the gateway's capacity) | ${fmt(r4, 2)} × | ${verdict(r4 <= 2)} |`);
    rows.push(`| gateway ≥ 2 × straightforward Express | ${fmt(r2, 2)} × | ${verdict(r2 >= 2)} |`);
    rows.push(`| zero errors | ${g.errors + g.fixed.errors} | ${verdict(g.errors + g.fixed.errors === 0)} |`);
    rows.push(`| one log line per webhook | ${fmt(g.logLinesPerRequest, 2)} | ${verdict(Math.abs(g.logLinesPerRequest - 1) < 0.05)} |`);
    if (p)
      rows.push(
        `| PostgreSQL store ≥ 0.8 × SQLite | ${fmt(p.rps / g.rps, 2)} × (${p.runs.join(', ')} vs ${g.runs.join(', ')} req/s) | ${verdict(p.rps / g.rps >= 0.8)} |`,
      );
    else rows.push(`| PostgreSQL store ≥ 0.8 × SQLite | not measured | ${pg.why} |`);
    sections.push(['Inbound routing', rows.join('\n')]);
    console.log(`\nInbound routing\n${rows.join('\n')}`);
    note('after routing');
  }

  if (which.includes('scale')) {
    const big = quick ? 100_000 : 1_000_000;
    console.error(`\n[scale] the gateway with 1,000 and ${big.toLocaleString('en-US')} numbers, traffic spread over all of them`);
    const targets = ['gateway@1000', `gateway@${big}`, 'gateway-pg@1000', `gateway-pg@${big}`];
    const s = await routingBench({ quick, targets, pgUrl: pg.url });
    const rows = ['| store | numbers | req/s | p50 ms | p99 ms | errors | RSS | start-up to ready |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
    const goals = ['', '| goal | measured | |', '|---|---:|---|'];
    for (const [store, key] of [
      ['SQLite', 'gateway'],
      ['PostgreSQL', 'gateway-pg'],
    ]) {
      const small = s[`${key}@1000`],
        large = s[`${key}@${big}`];
      if (!small || !large) {
        goals.push(`| ${store}: throughput at ${big.toLocaleString('en-US')} ≥ 0.9 × at 1k | not measured | ${pg.why} |`);
        continue;
      }
      for (const [n, x] of [
        [1000, small],
        [big, large],
      ])
        rows.push(
          `| ${store} | ${n.toLocaleString('en-US')} | ${n0(x.rps)} | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ${x.errors} | ${mb(x.rss)} | ${fmt(x.readyMs)} ms |`,
        );
      const ratio = large.rps / small.rps;
      goals.push(
        `| ${store}: throughput at ${big.toLocaleString('en-US')} ≥ 0.9 × at 1k | ${fmt(ratio, 2)} × (${large.runs.join(', ')} vs ${small.runs.join(', ')}) | ${verdict(ratio >= 0.9)} |`,
      );
      goals.push(`| ${store}: RSS ≤ 300 MB at ${big.toLocaleString('en-US')} | ${mb(large.rss)} | ${verdict(large.rss <= 300 * 2 ** 20)} |`);
      goals.push(`| ${store}: start-up to ready ≤ 2 s at ${big.toLocaleString('en-US')} | ${fmt(large.readyMs)} ms | ${verdict(large.readyMs <= 2000)} |`);
    }
    rows.push(...goals);
    sections.push(['Scale', rows.join('\n')]);
    console.log(`\nScale\n${rows.join('\n')}`);
    note('after scale');
  }

  if (which.includes('media')) {
    console.error('\n[media] carrier sim ↔ relay ↔ echoing assistant sim, 50 frames/s each way per call');
    const m = await mediaBench({ quick });
    const ms = (x) => fmt(x, 2);
    const rows = [
      `Per call 50 frames/s each way (160-byte mu-law), ${m.seconds} s measured per run after the ramp; ${m.rounds} alternating round(s) of every mode at each size, medians (frame counts are totals). ` +
        "`tcp` is a raw node:net relay (the floor: bytes forwarded, no WebSocket work), `ws` a minimal ws relay with the gateway's options, `twilio` the gateway relaying Twilio Media Streams untouched, `telnyx` the gateway translating Telnyx's dialect both ways. " +
        "CPU per frame = the relay process's CPU time over the window ÷ frames relayed in it (each direction's frame counted once). " +
        'Latency is one-way, from send times stamped in the frames; added = mode − direct. ' +
        `The simulators run on the same ${os.cpus().length} cores; their CPU is shown. Open-file limit ${m.nofile} (the largest size needs ~${m.fdNeed}).`,
      '',
      '| N | mode | frames/s | relay CPU | µs / frame | × tcp | lost | reordered | failed calls | c→a p50 / p99 ms | a→c p50 / p99 ms | added p99 (worse direction) | carrier sim CPU | assistant sim CPU | relay RSS |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    const goals = ['', '| goal | measured | |', '|---|---:|---|'];
    for (const r of m.results) {
      for (const mode of m.modes) {
        const x = r.by[mode];
        rows.push(
          `| ${r.n.toLocaleString('en-US')} | ${mode} | ${n0(x.framesPerSec)} | ${mode === 'direct' ? '' : `${fmt(x.relayCpu * 100)}%`} | ${mode === 'direct' ? '' : ms(x.usPerFrame)} | ${mode === 'direct' || mode === 'tcp' ? '' : ms(x.vsTcp)} | ` +
            `${x.lostC2A + x.lostA2C} | ${x.reorderedC2A + x.reorderedA2C} | ${x.failedCalls} | ${ms(x.c2a.p50)} / ${ms(x.c2a.p99)} | ${ms(x.a2c.p50)} / ${ms(x.a2c.p99)} | ${mode === 'direct' ? '' : ms(x.worstAddedP99)} | ` +
            `${fmt(x.carrierSimCpu * 100)}% | ${fmt(x.assistantSimCpu * 100)}% | ${mode === 'direct' ? '' : mb(x.relayRss)} |`,
        );
      }
      for (const mode of ['twilio', 'telnyx']) {
        const x = r.by[mode];
        if (!x) continue;
        goals.push(
          `| ${mode}: CPU per frame ≤ ${m.goalRatio} × raw TCP relay at ${r.n} calls | ${ms(x.vsTcp)} × (${ms(x.usPerFrame)} vs ${ms(r.by.tcp?.usPerFrame)} µs) | ${verdict(x.vsTcp <= m.goalRatio)} |`,
        );
        goals.push(
          `| ${mode}: 0 lost or reordered, 0 failed calls, added p99 ≤ ${m.goalAddedP99} ms at ${r.n} calls | ${x.lost} lost, ${x.reordered} reordered, ${x.failedCalls} failed, ${ms(x.worstAddedP99)} ms | ${verdict(x.holds)} |`,
        );
      }
    }
    rows.push(...goals);
    sections.push(['Media relay', rows.join('\n')]);
    console.log(`\nMedia relay\n${rows.join('\n')}`);
    note('after media');
  }

  if (which.includes('purchase')) {
    console.error('\n[purchase] purchases per second, plan limits enforced');
    const rs = await purchaseBench({ quick });
    const rows = [
      '| inventory | teams | purchases/s | p50 ms | p99 ms | errors |',
      '|---:|---:|---:|---:|---:|---:|',
      ...rs.map((r) => `| ${r.inventory.toLocaleString('en-US')} | ${r.teams} | ${n0(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} |`),
    ];
    const by = (inv, teams) => rs.find((r) => r.inventory === inv && r.teams === teams)?.rps;
    rows.push('', '| goal | measured | |', '|---|---:|---|');
    for (const inv of [20_000, 200_000])
      if (by(inv, 50))
        rows.push(`| ≥ 1,000 purchases/s for 50 teams, ${inv.toLocaleString('en-US')} inventory | ${n0(by(inv, 50))} | ${verdict(by(inv, 50) >= 1000)} |`);
    if (by(200_000, 50))
      rows.push(
        `| unchanged between 20k and 200k inventory (50 teams) | ${fmt(by(200_000, 50) / by(20_000, 50), 2)} × | ${verdict(by(200_000, 50) / by(20_000, 50) >= 0.9)} |`,
      );
    sections.push(['Purchase path', rows.join('\n')]);
    console.log(`\nPurchase path\n${rows.join('\n')}`);
    note('after purchase');
  }
  if (which.includes('cluster')) {
    console.error('\n[cluster] SWITCHBOARD_WORKERS=1 against 2: routing saturation (SQLite, PostgreSQL) and the Twilio media relay');
    const c = await clusterBench({ quick, pgUrl: pg.url, pgCpu: pg.cpuSec });
    const [one, two] = c.workerCounts;
    const pct = (x) => `${fmt(x * 100)}%`;
    const rows = [
      `Every core for the gateway: \`SWITCHBOARD_WORKERS=${one}\` (one process) against \`=${two}\` (a primary and ${two} workers sharing the port; node:cluster deals out connections). ` +
        `Routing: the saturation load of *Inbound routing* (50 connections, distinct signed calls, 1,000 numbers, LOG_LEVEL=info into a drained pipe), ${c.rounds} alternating round(s) of ${c.seconds} s, medians. ` +
        `Media: ${c.calls} Twilio calls relayed at 50 frames/s each way, ${c.mediaRounds} alternating round(s); at a fixed call count frames/s is the offered load unless the relay falls behind, so CPU per frame is the figure. ` +
        `Server CPU is summed over the primary and every worker (pids from the primary's listening line), as a share of one core; the load generators run on the same ${os.cpus().length} cores and their CPU is shown.`,
      '',
      '| store | workers | processes | req/s | p50 ms | p99 ms | errors | server CPU | µs CPU / request | PostgreSQL CPU | load generator CPU | calls / group commit | RSS (sum) | log lines / request |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const [store, by] of Object.entries(c.routing))
      for (const [w, x] of Object.entries(by))
        rows.push(
          `| ${store === 'pg' ? 'PostgreSQL' : 'SQLite'} | ${w} | ${x.processes} | ${n0(x.rps)} | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ${x.errors} | ${pct(x.cpu)} | ${fmt(x.usPerRequest)} | ${store === 'pg' ? pct(x.dbCpu) : ''} | ${pct(x.loadgenCpu)} | ${fmt(x.callsPerCommit, 1)} | ${mb(x.rss)} | ${fmt(x.logLinesPerRequest, 2)} |`,
        );
    rows.push(
      '',
      '| workers | calls | frames/s | server CPU | µs / frame | lost | reordered | failed calls | c→a p50 / p99 ms | a→c p50 / p99 ms | carrier sim CPU | assistant sim CPU | RSS (sum) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const [w, x] of Object.entries(c.media))
      rows.push(
        `| ${w} | ${c.calls} | ${n0(x.framesPerSec)} | ${pct(x.relayCpu)} | ${fmt(x.usPerFrame, 2)} | ${x.lostC2A + x.lostA2C} | ${x.reorderedC2A + x.reorderedA2C} | ${x.failedCalls} | ` +
          `${fmt(x.c2a.p50, 2)} / ${fmt(x.c2a.p99, 2)} | ${fmt(x.a2c.p50, 2)} / ${fmt(x.a2c.p99, 2)} | ${pct(x.carrierSimCpu)} | ${pct(x.assistantSimCpu)} | ${mb(x.relayRss)} |`,
      );
    // No goal was set for the ratio: it is reported, with what limits it here.
    rows.push('', '| goal | measured | |', '|---|---:|---|');
    const verdicts = [];
    for (const [store, by] of Object.entries(c.routing)) {
      const a = by[one],
        b = by[two];
      const name = store === 'pg' ? 'PostgreSQL' : 'SQLite';
      rows.push(
        `| ${name}: webhooks/s with ${two} workers ÷ ${one} | ${fmt(b.rps / a.rps, 2)} × (${b.runs.join(', ')} vs ${a.runs.join(', ')} req/s) | no goal set: reported |`,
      );
      rows.push(
        `| ${name}: zero errors, one log line per webhook, with ${two} workers | ${b.errors} errors, ${fmt(b.logLinesPerRequest, 2)} lines | ${verdict(b.errors === 0 && Math.abs(b.logLinesPerRequest - 1) < 0.05)} |`,
      );
      verdicts.push(`${name} ${fmt(b.rps / a.rps, 2)} × the webhooks/s at ${fmt(b.usPerRequest / a.usPerRequest, 2)} × the server CPU per webhook`);
    }
    if (!c.routing.pg) rows.push(`| PostgreSQL: webhooks/s with ${two} workers ÷ ${one} | not measured | ${pg.why} |`);
    const m1 = c.media[one],
      m2 = c.media[two];
    rows.push(`| media: frames/s with ${two} workers ÷ ${one} at ${c.calls} calls | ${fmt(m2.framesPerSec / m1.framesPerSec, 2)} × | no goal set: reported |`);
    rows.push(
      `| media: CPU per frame with ${two} workers ÷ ${one} | ${fmt(m2.usPerFrame / m1.usPerFrame, 2)} × (${fmt(m2.usPerFrame, 2)} vs ${fmt(m1.usPerFrame, 2)} µs) | no goal set: reported |`,
    );
    rows.push(
      `| media: 0 lost or reordered, 0 failed calls, with ${two} workers | ${m2.lostC2A + m2.lostA2C} lost, ${m2.reorderedC2A + m2.reorderedA2C} reordered, ${m2.failedCalls} failed | ${verdict(m2.lostC2A + m2.lostA2C + m2.reorderedC2A + m2.reorderedA2C + m2.failedCalls === 0)} |`,
    );
    const lg = Object.values(c.routing)
      .map((by) => pct(by[two].loadgenCpu))
      .join(', ');
    rows.push(
      '',
      `Verdict: ${two} workers ÷ ${one}: routing ${verdicts.join(', ')}; media CPU per frame ${fmt(m2.usPerFrame / m1.usPerFrame, 2)} ×. ` +
        `On ${os.cpus().length} cores shared with the load generator (${lg} of a core at saturation) and, for PostgreSQL, the database, a second worker has no idle core to take: ` +
        'this measures what cluster mode costs and gives here, not what it gives on a machine with cores to spare. ' +
        'Each worker is a whole gateway, with its own group commit (see calls per commit), its own routing cache to fill and its own JIT warm-up: where the extra CPU per webhook is expected to go (not profiled).',
    );
    sections.push(['Cluster mode', rows.join('\n')]);
    console.log(`\nCluster mode\n${rows.join('\n')}`);
    note('after cluster');
  }

  if (which.includes('instances')) {
    if (!pg.url) {
      const rows = [`Not measured: several instances share a database only on PostgreSQL, and this run has none (${pg.why}).`];
      sections.push(['Instances on one PostgreSQL database', rows.join('\n')]);
      console.log(`\nInstances on one PostgreSQL database\n${rows.join('\n')}`);
    } else {
      console.error('\n[instances] 3 gateway processes on one PostgreSQL database: reassignment seen everywhere, and purchases');
      const x = await instancesBench({ quick, pgUrl: pg.url });
      const re = x.reassign;
      const one = x.purchases[1],
        many = x.purchases[x.instances];
      const rows = [
        `${x.instances} gateway processes on one PostgreSQL database, each its own port. ` +
          `Reassignment: ${re.alternations} PATCHes (\`/api/assistants/:id/telephony/phone-numbers\`, moving one number between two assistants) through a rotating instance, each followed by two signed inbound calls through every instance, the other two first (${re.calls} calls), ` +
          `the assistant each was routed to read back from its call record through another instance. The second call at an instance is answered from its cache (the hits below, one per PATCH at each), so every instance holds the number when the next PATCH comes. ` +
          `A routing PATCH returns once every live instance acknowledged dropping the entry. ` +
          `Purchases: ${x.teams} enterprise teams, 20 connections dealt out over the instances, ${x.rounds} alternating round(s) of ${x.seconds} s against 1 instance on the same database, medians.`,
        '',
        '| PATCHes | PATCH p50 ms | p99 ms | max ms | calls checked | misroutes | failed requests | routing cache hits per instance |',
        '|---:|---:|---:|---:|---:|---:|---:|---|',
        `| ${re.alternations} | ${fmt(re.patchP50, 2)} | ${fmt(re.patchP99, 2)} | ${fmt(re.patchMax, 1)} | ${re.calls} | ${re.misroutes} | ${re.failures} | ${re.cacheHits.join(', ')} |`,
        '',
        "| instances | purchases/s | p50 ms | p99 ms | errors | gateways' CPU (sum) |",
        '|---:|---:|---:|---:|---:|---:|',
        ...Object.entries(x.purchases).map(([k, p]) => `| ${k} | ${n0(p.rps)} | ${fmt(p.p50, 1)} | ${fmt(p.p99, 1)} | ${p.errors} | ${fmt(p.cpu * 100)}% |`),
        '',
        '| goal | measured | |',
        '|---|---:|---|',
        `| 0 misroutes: a call after a PATCH through another instance goes to the new assistant | ${re.misroutes} of ${re.calls} calls (${re.failures} failed requests) | ${verdict(re.misroutes === 0 && re.failures === 0)} |`,
        `| PATCH latency (write + every instance's acknowledgement) | p50 ${fmt(re.patchP50, 2)} ms, p99 ${fmt(re.patchP99, 2)} ms | no goal set: reported |`,
        `| purchases/s, ${x.instances} instances ÷ 1 (${x.teams} teams) | ${fmt(many.rps / one.rps, 2)} × (${many.runs.join(', ')} vs ${one.runs.join(', ')}) | no goal set: reported |`,
        `| zero purchase errors | ${one.errors + many.errors} | ${verdict(one.errors + many.errors === 0)} |`,
      ];
      sections.push(['Instances on one PostgreSQL database', rows.join('\n')]);
      console.log(`\nInstances on one PostgreSQL database\n${rows.join('\n')}`);
    }
    note('after instances');
  }
} finally {
  await pg.stop?.();
}

const minutes = (performance.now() - began) / 60_000;
console.error(`\nbench took ${minutes.toFixed(1)} min; load average (1/5/15 min) ${loads.join('; ')}`);
if (!quick && chosen.length === 0) {
  const md = [
    '# Benchmark results',
    '',
    `Latest full run: ${date}, ${minutes.toFixed(1)} min. Machine: ${machine}. ${pgLine}`,
    '',
    `Load average (1 / 5 / 15 min) on this shared machine during the run: ${loads.join('; ')}. Other engineers' test suites were running, so only figures side by side with their baselines from the same run mean anything.`,
    '',
    'Run with `npm run bench`; every figure is a median over alternating rounds, compared with baselines measured in the same run.',
    ...sections.flatMap(([title, body]) => ['', `## ${title}`, '', body]),
    '',
    // Profiles, what was tried, what is left: written by hand, kept across runs.
    readFileSync(fileURLToPath(new URL('./NOTES.md', import.meta.url)), 'utf8'),
  ].join('\n');
  writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), md);
  console.error('wrote bench/RESULTS.md');
}
