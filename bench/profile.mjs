/**
 * Profiles the gateway under one benchmark's load and prints where its CPU
 * time goes (self time, by function and by area), from `node --cpu-prof`.
 *
 *   node bench/profile.mjs routing [--pg] [--numbers N] [--seconds S]
 *   node bench/profile.mjs media [--telnyx] [--calls N] [--seconds S]
 *   node bench/profile.mjs purchase [--teams N] [--inventory N] [--seconds S]
 *   node bench/profile.mjs summary <file.cpuprofile>
 *
 * Profiles are written to bench/.work/profiles/ (ignored by git).
 */
import { readFileSync, readdirSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPostgres, createDatabase } from './lib/postgres.mjs';
import { freePort, gatewayEnv, runLoad, startServer } from './lib/proc.mjs';
import { seed } from './lib/seed.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const outDir = here('./.work/profiles');
mkdirSync(outDir, { recursive: true });

/** Which part of the system a frame belongs to. */
function area(url, name) {
  if (!url) return name === '(garbage collector)' ? 'GC' : name === '(program)' || name === '(idle)' ? name : `native: ${name}`;
  if (url.startsWith('node:')) {
    const m = /^node:(internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[2] ?? url}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/dist\/(.*)\.js$/.exec(url);
  return src ? src[1] : url;
}

export function summarise(file, top = 45) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // Sample counts per node, times the mean interval.
  const counts = new Map();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = p.samples.length;
  const fn = new Map();
  const areas = new Map();
  for (const [id, c] of counts) {
    const n = byId.get(id);
    const { functionName, url, lineNumber } = n.callFrame;
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + c);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + c);
    self.set(id, c);
  }
  const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
  const busy = total - (areas.get('(idle)') ?? 0);
  console.log(
    `${file}\n${total} samples, ${(((p.endTime - p.startTime) / 1e6) * (busy / total)).toFixed(1)} s busy of ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s\n\nby area (self time):`,
  );
  for (const [k, c] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${pct(c)}  ${k}`);
  console.log('\nby function (self time):');
  for (const [k, c] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(c)}  ${k}`);
}

const newest = (prefix) =>
  readdirSync(outDir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => join(outDir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];

const what = args[0];
if (what === 'summary') {
  summarise(args[1]);
} else if (what === 'routing') {
  const numbers = opt('numbers', 1000);
  const seconds = opt('seconds', 10);
  let db = join(outDir, `routing-${numbers}.db`);
  for (const ext of ['', '-wal', '-shm']) rmSync(db + ext, { force: true });
  let pg = null;
  if (args.includes('--pg')) {
    pg = await benchPostgres();
    if (!pg.url) throw new Error(pg.why);
    db = await createDatabase(pg.url);
  }
  await seed(db, { numbers });
  const port = await freePort();
  const name = `routing-${pg ? 'pg' : 'sqlite'}-${Date.now()}`;
  const srv = await startServer(here('../dist/src/main.js'), gatewayEnv({ port, dbPath: db, authToken: 'bench_twilio_auth_token' }), {
    ready: '/readyz',
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`],
  });
  try {
    const r = await runLoad(
      here('./lib/loadgen.mjs'),
      {
        port,
        publicUrl: `http://127.0.0.1:${port}`,
        authToken: 'bench_twilio_auth_token',
        numbers,
        seconds,
        warmup: 2,
        connections: 50,
        offset: Date.now() % 1e6,
      },
      srv,
    );
    console.log(
      `${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}, server CPU ${(r.cpu * 100).toFixed(0)}%`,
    );
    console.log(
      `server CPU per thread: ${Object.entries(r.threads ?? {})
        .filter(([, v]) => v > 0.001)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
        .join(', ')}`,
    );
  } finally {
    await srv.stop();
    await pg?.stop();
  }
  summarise(newest(name));
} else if (what === 'purchase') {
  const { purchaseBench } = await import('./purchase.mjs');
  const name = `purchase-${Date.now()}`;
  const r = await purchaseBench({
    inventories: [opt('inventory', 20_000)],
    teamCounts: [opt('teams', 50)],
    seconds: opt('seconds', 8),
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`],
  });
  console.log(`${Math.round(r[0].rps)} purchases/s, p50 ${r[0].p50} ms, p99 ${r[0].p99} ms, errors ${r[0].errors}`);
  summarise(newest(name));
} else if (what === 'media') {
  const { mediaBench } = await import('./media.mjs');
  process.env.CPU_PROF = outDir;
  const mode = args.includes('--telnyx') ? 'telnyx' : 'twilio';
  await mediaBench({ sizes: [opt('calls', 200)], seconds: opt('seconds', 10), rounds: 1, modes: ['direct', mode] });
  summarise(newest(`gateway-${mode}`));
} else {
  console.error('usage: node bench/profile.mjs routing [--pg] [--numbers N] [--seconds S] | media [--telnyx] [--calls N] [--seconds S] | summary <file>');
  process.exit(2);
}
