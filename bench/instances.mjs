/**
 * Benchmark 6: three gateway instances on one PostgreSQL database, each its
 * own process, as they run behind a load balancer (PostgreSQL only: SQLite
 * instances share a file, so one machine; cluster.mjs measures that).
 *
 *   reassign   `alternations` times: a PATCH through one instance (rotating)
 *              moves the seeded number to the other of two assistants, then
 *              two signed inbound calls through each instance, the two
 *              *other* instances first and the writer last. The first call at
 *              an instance finds its cached entry dropped and reads the
 *              database; the second is answered from the cache it refilled
 *              (the hits are counted), so every instance holds the number in
 *              its cache when the next PATCH comes. Which assistant each call
 *              was routed to is read back from its call record through
 *              another instance. A routing PATCH returns only once every
 *              live instance acknowledged dropping the number's entry
 *              (src/store/pg/routing.ts), so its latency is the write plus
 *              that round trip, and a call routed to the previous assistant
 *              is a misroute: there must be none.
 *   purchases  50 enterprise teams buying distinct numbers from the simulated
 *              carrier's inventory, 20 connections dealt out over the 3
 *              instances (lib/purchase-load.mjs), against the same with 1
 *              instance, alternating rounds on one database, medians.
 *
 * Everything on this machine's cores: the three instances, PostgreSQL and the
 * load generator. Three instances do not add cores; what they add is
 * processes contending for the same database rows and locks.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Histogram } from './lib/media-sim.mjs';
import { createDatabase, dropDatabase } from './lib/postgres.mjs';
import { BENCH_ADMIN_TOKEN, freePort, gatewayEnv, median, runJson, startServer } from './lib/proc.mjs';
import { INVENTORY_FIRST, benchNumber, seed } from './lib/seed.mjs';
import { createTeams } from './purchase.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const AUTH = 'bench_twilio_auth_token';
const GATEWAY = here('../dist/src/main.js');
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` gateway processes on `db`, started together; each answers on its own port. */
async function startInstances(db, n) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const port = await freePort();
      const extra = { SIM_PROVISION_MS: '200', SWITCHBOARD_API_RATE: '1000000', SWITCHBOARD_API_BURST: '1000000', SWITCHBOARD_DRAIN_MS: '2000' };
      const srv = await startServer(GATEWAY, gatewayEnv({ port, dbPath: db, authToken: AUTH, extra }), { ready: '/readyz' });
      return { ...srv, name: String.fromCharCode(65 + i), port, base: `http://127.0.0.1:${port}` };
    }),
  );
}

const stopAll = (insts) => Promise.all(insts.map((s) => s.stop()));

async function api(inst, method, path, body) {
  const r = await fetch(inst.base + path, {
    method,
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, text, body: json };
}

let sids = 0;
const sidPrefix = randomBytes(8).toString('hex');

/**
 * A signed Twilio voice webhook for a new call to `to`, signed with the
 * instance's own public URL (as Twilio signs with the URL it posts to); the
 * call id from the answer's <Parameter name="callId">.
 */
async function voiceCall(inst, to) {
  const p = {
    AccountSid: ACCOUNT,
    ApiVersion: '2010-04-01',
    CallSid: 'CA' + sidPrefix + (sids++).toString(16).padStart(16, '0'),
    CallStatus: 'ringing',
    Caller: '+12125550123',
    Direction: 'inbound',
    From: '+12125550123',
    FromCountry: 'US',
    To: to,
    ToCountry: 'US',
  };
  const url = `${inst.base}/carriers/twilio/voice`;
  let data = url;
  for (const k of Object.keys(p).sort()) data += k + p[k];
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': createHmac('sha1', AUTH).update(data).digest('base64') },
    body: new URLSearchParams(p).toString(),
  });
  const text = await r.text();
  return { status: r.status, text, callId: /<Parameter\s+name="callId"\s+value="([^"]*)"/.exec(text)?.[1] ?? null };
}

/** The seeded team's two assistants and its one number. */
async function seeded(db) {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    const a = await c.query(`SELECT id FROM assistants ORDER BY name`);
    const n = await c.query(`SELECT id, assistant_id FROM phone_numbers WHERE e164 = $1`, [benchNumber(0)]);
    return { assistants: a.rows.map((r) => r.id), numberId: n.rows[0].id, current: n.rows[0].assistant_id };
  } finally {
    await c.end();
  }
}

/** Each instance's routing cache hits so far, from its own /metrics. */
async function cacheHits(insts) {
  const out = [];
  for (const inst of insts) {
    const m = await (await fetch(`${inst.base}/metrics`)).text();
    out.push(Number(/^switchboard_routing_cache_hits_total (\d+)/m.exec(m)?.[1] ?? NaN));
  }
  return out;
}

/** Reassignment under three instances: see the top of this file. */
async function reassign(insts, db, alternations, log) {
  const { assistants, numberId, current: first } = await seeded(db);
  const e164 = benchNumber(0);
  const patchMs = new Histogram();
  const failures = [];
  const misroutes = [];
  let current = first;
  let calls = 0;
  // Every instance's cache holds the route as seeded.
  for (const inst of insts) await voiceCall(inst, e164);
  const hits0 = await cacheHits(insts);
  const t0 = performance.now();
  for (let i = 0; i < alternations; i++) {
    const writer = insts[i % insts.length];
    const next = assistants.find((a) => a !== current);
    const t = performance.now();
    const r = await api(writer, 'PATCH', `/api/assistants/${next}/telephony/phone-numbers`, { accountSlug: 'bench', phoneNumberIds: [numberId] });
    patchMs.add(performance.now() - t);
    if (r.status !== 200) {
      failures.push(`round ${i}: PATCH at ${writer.name}: ${r.status} ${r.text.slice(0, 200)}`);
      continue;
    }
    current = next;
    for (const caller of [...insts.filter((x) => x !== writer), writer, ...insts.filter((x) => x !== writer), writer]) {
      const call = await voiceCall(caller, e164);
      calls++;
      if (call.status !== 200 || !call.callId) {
        failures.push(`round ${i}: call at ${caller.name}: ${call.status} ${call.text.slice(0, 200)}`);
        continue;
      }
      const reader = insts.find((x) => x !== caller);
      const rec = await api(reader, 'GET', `/api/calls/${call.callId}`);
      const got = rec.body?.call?.assistantId;
      if (rec.status !== 200) failures.push(`round ${i}: reading call ${call.callId} at ${reader.name}: ${rec.status}`);
      else if (got !== current) misroutes.push(`round ${i}: PATCH at ${writer.name} to ${current}, call at ${caller.name} routed to ${got}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  // The second call at each instance was answered from its cache: every instance held the entry at every PATCH.
  const hits = (await cacheHits(insts)).map((h, i) => h - hits0[i]);
  for (const f of [...failures, ...misroutes].slice(0, 5)) log(`    ${f}`);
  const h = patchMs.summary();
  return {
    alternations,
    calls,
    seconds,
    patchP50: h.p50,
    patchP99: h.p99,
    patchMax: h.max,
    misroutes: misroutes.length,
    failures: failures.length,
    cacheHits: hits,
  };
}

export async function instancesBench({ quick = false, pgUrl, alternations, rounds, seconds, teams = 50, instances = 3, log = console.error } = {}) {
  alternations ??= quick ? 40 : 200;
  rounds ??= quick ? 1 : 2;
  seconds ??= quick ? 3 : 6;
  const db = await createDatabase(pgUrl);
  try {
    // Purchases run at ~1,000/s at most here: enough inventory for every run, with room.
    const inventory = rounds * 2 * seconds * 3000;
    await seed(db, { numbers: 1, assistants: 2, inventory });

    let insts = await startInstances(db, instances);
    let re;
    try {
      re = await reassign(insts, db, alternations, log);
    } finally {
      await stopAll(insts);
    }
    log(
      `  reassign: ${re.alternations} PATCHes over ${instances} instances in ${re.seconds.toFixed(1)} s: p50 ${re.patchP50.toFixed(2)} ms  p99 ${re.patchP99.toFixed(2)} ms  max ${re.patchMax.toFixed(1)} ms; ` +
        `${re.calls} calls checked, ${re.misroutes} misroutes, ${re.failures} failures; routing cache hits per instance ${re.cacheHits.join(', ')}`,
    );

    const counts = [1, instances];
    const runs = Object.fromEntries(counts.map((k) => [k, []]));
    let tokens = null;
    let used = 0;
    for (let r = 0; r < rounds; r++) {
      for (const k of counts.map((_, i) => counts[(i + r) % counts.length])) {
        insts = await startInstances(db, k);
        try {
          tokens ??= await createTeams(insts[0].base, teams);
          const u0 = insts.map((s) => s.usage().cpuSec);
          const t0 = performance.now();
          const x = await runJson(here('./lib/purchase-load.mjs'), {
            ports: insts.map((s) => s.port),
            tokens,
            first: INVENTORY_FIRST + used,
            seconds,
            connections: 20,
          });
          const elapsed = (performance.now() - t0) / 1000;
          const cpu = insts.reduce((a, s, i) => a + s.usage().cpuSec - u0[i], 0) / elapsed;
          used += x.attempted;
          runs[k].push({ ...x, cpu });
          log(
            `  purchases round ${r + 1}, ${k} instance(s): ${Math.round(x.rps)} purchases/s  p50 ${x.p50.toFixed(1)} ms  p99 ${x.p99.toFixed(1)} ms  errors ${x.errors}  ` +
              `per instance ${x.perInstance.join(' / ')}  gateways' CPU ${(cpu * 100).toFixed(0)}%`,
          );
          // The last purchases' simulated provisioning (SIM_PROVISION_MS) completes before the stop.
          await sleep(500);
        } finally {
          await stopAll(insts);
        }
      }
    }
    const purchases = Object.fromEntries(
      counts.map((k) => [
        k,
        {
          rps: median(runs[k].map((x) => x.rps)),
          p50: median(runs[k].map((x) => x.p50)),
          p99: median(runs[k].map((x) => x.p99)),
          errors: runs[k].reduce((a, x) => a + x.errors, 0),
          cpu: median(runs[k].map((x) => x.cpu)),
          runs: runs[k].map((x) => Math.round(x.rps)),
        },
      ]),
    );
    return { instances, reassign: re, purchases, teams, rounds, seconds };
  } finally {
    await dropDatabase(pgUrl, db);
  }
}
