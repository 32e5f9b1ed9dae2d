// Two real gateway processes on ONE database (docs/architecture.md, "The
// routing table"; a SQLite file, or PostgreSQL in the integration tier's
// postgres project): they start together on a new database (concurrent
// migration and inventory load), and a write through either one takes effect
// at once in the other: routing_changes (seen through PRAGMA data_version on
// SQLite, LISTEN/NOTIFY on PostgreSQL) drop the other process's warm cache
// entry before its next lookup. Media tokens are keyed by the server secret
// stored in the database, so a token issued by one process opens a stream at
// the other.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { callSid } from '../helpers/carrier.js';
import { DIALECT } from '../helpers/db.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';
import { twilioVoiceCall } from './calls.js';
import { ROOT, api as request, e2eDb, gatewayHooks, spawnGateway, until, type E2eDb, type Gateway } from './server.js';

const ADMIN = 'sb_admin_e2e_multi_0123456789abcdef';
const TWILIO = 'tw_e2e_multi_token';
const ALTERNATIONS = 120;

const fakes: FakeAssistant[] = [];

/**
 * A new database with nothing in it: SQLite, a file in a folder that does not
 * exist yet (both processes create it); PostgreSQL, an empty database (not a
 * copy of the template): both processes migrate it and load the inventory.
 */
const newDb = (): Promise<E2eDb> => e2eDb('switchboard-multi-', { dir: 'data', empty: true });

/**
 * Spawns a gateway on the database; does not wait for it. No SWITCHBOARD_SECRET: the
 * processes share the one stored in the database. adminToken null: none
 * configured, the first start generates one.
 */
function spawnOn(name: string, db: E2eDb, adminToken: string | null = ADMIN): Promise<Gateway> {
  return spawnGateway(
    {
      SWITCHBOARD_DB: db.target,
      ...(adminToken ? { SWITCHBOARD_ADMIN_TOKEN: adminToken } : {}),
      TWILIO_AUTH_TOKEN: TWILIO,
      SIM_PROVISION_MS: '0',
      SWITCHBOARD_API_RATE: '1000000',
      SWITCHBOARD_API_BURST: '1000000',
    },
    { name },
  );
}

/** Two gateways spawned at the same moment on one new database; both must come up. */
async function startPair(adminToken: string | null = ADMIN): Promise<[Gateway, Gateway, E2eDb]> {
  const db = await newDb();
  const [p1, p2] = await Promise.all([spawnOn('process 1', db, adminToken), spawnOn('process 2', db, adminToken)]);
  await Promise.all([p1.waitListening(), p2.waitListening()]);
  return [p1, p2, db];
}

const api = (p: Gateway, method: string, path: string, body?: unknown, token = ADMIN) => request(p.base, token, method, path, body);

/** A signed Twilio voice webhook to p, signed with p's own public URL (as Twilio does). */
const voice = (p: Gateway, to: string, sid?: string) => twilioVoiceCall(p, TWILIO, to, sid);

/** A call to p that must be connected; returns its gateway call id. */
async function connected(p: Gateway, to: string, what: string): Promise<string> {
  const v = await voice(p, to);
  expect(v.status, `${what}: ${v.text}`).toBe(200);
  expect(v.twiml!.reject, `${what}: ${v.text}`).toBeNull();
  expect(v.twiml!.streamUrl, what).toBe(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`);
  return v.twiml!.callId!;
}

async function readCall(p: Gateway, callId: string) {
  const r = await api(p, 'GET', `/api/calls/${callId}`);
  expect(r.status, r.text).toBe(200);
  return r.body.call as Record<string, any>;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function newFake() {
  const f = await fakeAssistant({ echo: true });
  fakes.push(f);
  return f;
}

gatewayHooks();
afterAll(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

describe('two gateway processes on one database', () => {
  it('start together on a new database: both come up, one migrates and loads the inventory, one admin token and one server secret', async () => {
    const inventoryRows = readdirSync(join(ROOT, 'fixtures', 'inventory'))
      .filter((f) => f.endsWith('.csv'))
      .reduce(
        (n, f) =>
          n +
          readFileSync(join(ROOT, 'fixtures', 'inventory', f), 'utf8')
            .split('\n')
            .filter((l) => l.length > 0).length -
          1,
        0,
      );
    expect(inventoryRows).toBeGreaterThan(1000);
    // Several rounds: the race between the two start-ups lands differently each time.
    for (let round = 0; round < 2; round++) {
      // Round 0 configures no admin token: exactly one of the two generates and prints one.
      const [p1, p2, { sql }] = await startPair(round === 0 ? null : ADMIN);
      let token = ADMIN;
      if (round === 0) {
        // Each process settles the bootstrap after it listens: one prints the
        // token, the other says one exists. Wait for both outcomes.
        const settled = (p: Gateway) =>
          p.lines.some((l) => typeof l.adminToken === 'string' || (typeof l.msg === 'string' && l.msg.startsWith('An admin token exists already')));
        await until(() => settled(p1) && settled(p2), 'both processes to settle the admin-token bootstrap', 15_000);
        const printed = [p1, p2].flatMap((p) => p.lines.filter((l) => typeof l.adminToken === 'string').map((l) => l.adminToken as string));
        expect(printed.length, 'admin tokens printed by the two processes').toBe(1);
        token = printed[0]!;
      }
      for (const p of [p1, p2]) {
        expect((await fetch(`${p.base}/readyz`)).status, p.name).toBe(200);
        const search = await api(p, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } }, token);
        expect(search.status, search.text).toBe(200);
        expect(search.body.numbers.length).toBe(1);
      }
      // Exactly one of them loaded the inventory.
      const loaders = [p1, p2].filter((p) => p.lines.some((l) => l.msg === 'loaded the simulated carrier inventory'));
      expect(loaders.length, `round ${round}`).toBe(1);
      const exits = await Promise.all([p1.stop(), p2.stop()]);
      expect(exits).toMatchObject([{ code: 0 }, { code: 0 }]);
      const count = async (q: string) => Number(await sql.value(q));
      expect(await count('SELECT count(*) FROM sim_inventory'), `round ${round}: inventory rows`).toBe(inventoryRows);
      expect(await count('SELECT count(*) FROM api_tokens WHERE team_id IS NULL'), `round ${round}: admin tokens`).toBe(1);
      expect(await count("SELECT count(*) FROM meta WHERE key = 'server_secret'"), `round ${round}: server secrets`).toBe(1);
      // Each migration applied once. drizzle keeps its journal in the database's
      // main schema on SQLite, in a schema of its own (`drizzle`) on PostgreSQL.
      const journal = DIALECT === 'postgres' ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
      const migrations = readdirSync(join(ROOT, 'db', DIALECT === 'postgres' ? 'pg' : 'sqlite', 'migrations')).filter((f) => f.endsWith('.sql')).length;
      expect(migrations).toBeGreaterThan(0);
      expect(await count(`SELECT count(*) FROM ${journal}`), `round ${round}: migrations applied`).toBe(migrations);
      await sql.close();
    }
  }, 40_000);

  it('a write through either process routes the very next call at the other: 120 alternations, no misroute; retries, release, suspend and media tokens cross processes', async () => {
    const [p1, p2, { sql }] = await startPair();
    const procs = [p1, p2] as const;
    const fakeA = await newFake();
    const fakeB = await newFake();

    const team = await api(p1, 'POST', '/api/teams', { name: 'Multi', slug: 'multi', plan: 'pro' });
    expect(team.status, team.text).toBe(201);
    const teamId = team.body.team.id as string;
    const a = await api(p1, 'POST', '/api/assistants', { teamId, name: 'A', mediaUrl: fakeA.url });
    const b = await api(p2, 'POST', '/api/assistants', { teamId, name: 'B', mediaUrl: fakeB.url });
    expect(a.status, a.text).toBe(201);
    expect(b.status, b.text).toBe(201);
    const ids = { A: a.body.assistant.id as string, B: b.body.assistant.id as string };

    const search = await api(p1, 'POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 1 } });
    const e164 = search.body.numbers[0].phoneNumber as string;
    const bought = await api(p1, 'POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId });
    expect(bought.status, bought.text).toBe(201);
    const numberId = bought.body.phoneNumber.id as string;
    await until(async () => (await api(p2, 'GET', `/api/phone-numbers/${numberId}`)).body.phoneNumber.status === 'active', 'the number to be active');

    const assignTo = async (via: Gateway, who: 'A' | 'B') => {
      const r = await api(via, 'PATCH', `/api/assistants/${ids[who]}/telephony/phone-numbers`, { accountSlug: 'multi', phoneNumberIds: [numberId] });
      expect(r.status, `${via.name} PATCH: ${r.text}`).toBe(200);
      expect(r.body.assistant.phoneNumberIds).toEqual([numberId]);
    };

    // Assign via process 1; warm both caches.
    await assignTo(p1, 'A');
    for (const p of procs) {
      const callId = await connected(p, e164, `warm-up at ${p.name}`);
      expect((await readCall(p === p1 ? p2 : p1, callId)).assistantId).toBe(ids.A);
    }

    // Reassign through one process, call the other one at once: its cache was
    // warm (two calls just routed there), and it must not serve it.
    let current: 'A' | 'B' = 'A';
    const misroutes: string[] = [];
    for (let i = 0; i < ALTERNATIONS; i++) {
      const writer = procs[i % 2]!;
      const caller = procs[(i + 1) % 2]!;
      // Warm the caller's cache with the current assignment (the second call is a cache hit).
      for (let w = 0; w < 2; w++) {
        const warm = await connected(caller, e164, `alternation ${i}: warm call ${w} at ${caller.name}`);
        if (w === 1) expect((await readCall(writer, warm)).assistantId, `alternation ${i}: warm call`).toBe(ids[current]);
      }
      const next: 'A' | 'B' = current === 'A' ? 'B' : 'A';
      await assignTo(writer, next);
      current = next;
      const callId = await connected(caller, e164, `alternation ${i}: call at ${caller.name} right after the PATCH at ${writer.name}`);
      const got = (await readCall(procs[i % 3 === 0 ? 0 : 1], callId)).assistantId;
      if (got !== ids[current])
        misroutes.push(
          `alternation ${i}: PATCH at ${writer.name} to ${current}, call at ${caller.name} went to ${got === ids.A ? 'A' : got === ids.B ? 'B' : got}`,
        );
    }
    expect(misroutes).toEqual([]);
    // The warm calls were served from memory: both caches really were warm.
    for (const p of procs) {
      const m = await (await fetch(`${p.base}/metrics`)).text();
      expect(metric(m, 'switchboard_routing_cache_hits_total'), p.name).toBeGreaterThanOrEqual(ALTERNATIONS / 2);
    }

    // A carrier retry of one CallSid reaching process 1, then process 2: the same
    // answer, one record (the unique index, not a process's memory).
    const sid = callSid();
    const first = await voice(p1, e164, sid);
    const retry = await voice(p2, e164, sid);
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(first.twiml!.callId).toBeTruthy();
    expect(retry.twiml!.callId).toBe(first.twiml!.callId);
    expect(retry.twiml!.token).toBe(first.twiml!.token);
    // And two copies arriving at both processes at the same moment.
    const sid2 = callSid();
    const [c1, c2] = await Promise.all([voice(p1, e164, sid2), voice(p2, e164, sid2)]);
    expect(c1.status).toBe(200);
    expect(c2.status).toBe(200);
    expect(c1.twiml!.callId).toBeTruthy();
    expect(c2.twiml!.callId).toBe(c1.twiml!.callId);

    // A media token issued by process 1 opens a stream at process 2.
    const routed = await voice(p1, e164);
    expect(routed.twiml!.callId, routed.text).toBeTruthy();
    const pinned = current;
    const fake = pinned === 'A' ? fakeA : fakeB;
    const conn = fake.connections.length;
    const c = await carrierSocket(`ws://127.0.0.1:${new URL(p2.base).port}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(routed.twiml!.callId!, routed.twiml!.token!, routed.sid));
    for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
    await until(() => fake.received[conn]?.length === 12 && c.received.length === 10, 'the frames to reach the assistant through process 2');
    expect(fake.received[conn]!.slice(2)).toEqual(Array.from({ length: 10 }, (_, k) => mediaFrame(3 + k)));
    expect(JSON.parse(fake.received[conn]![1]!).start.callSid).toBe(routed.sid);
    c.ws.close(1000);
    await fake.closed(conn + 1);
    await until(async () => (await readCall(p1, routed.twiml!.callId!)).status === 'completed', 'the bridged call to be completed');
    expect(await readCall(p1, routed.twiml!.callId!)).toMatchObject({ assistantId: ids[pinned], endReason: 'carrier_hangup' });

    // Suspend through process 1 (admin): process 2, warm, rejects "suspended".
    await connected(p2, e164, 'warm before suspend');
    await connected(p2, e164, 'warm before suspend');
    const susp = await api(p1, 'PATCH', `/api/phone-numbers/${numberId}`, { status: 'suspended' });
    expect(susp.status, susp.text).toBe(200);
    const s = await voice(p2, e164);
    expect(s.status).toBe(200);
    expect(s.twiml!.reject, s.text).toBe('rejected');
    const sRow = (await api(p1, 'GET', `/api/calls?teamId=${teamId}&status=rejected`)).body.calls.find((x: any) => x.carrierCallId === s.sid);
    expect(sRow).toMatchObject({ carrierCallId: s.sid, status: 'rejected', reason: 'suspended' });

    // Reactivate through process 2; process 1 routes again (and is warm).
    const react = await api(p2, 'PATCH', `/api/phone-numbers/${numberId}`, { status: 'active' });
    expect(react.status, react.text).toBe(200);
    await connected(p1, e164, 'after reactivation');
    await connected(p1, e164, 'after reactivation');

    // Release through process 2: process 1 rejects "released".
    const rel = await api(p2, 'DELETE', `/api/phone-numbers/${numberId}`);
    expect(rel.status, rel.text).toBe(200);
    expect(rel.body.phoneNumber.status).toBe('released');
    const r = await voice(p1, e164);
    expect(r.status).toBe(200);
    expect(r.twiml!.reject, r.text).toBe('rejected');
    const rRow = (await api(p2, 'GET', `/api/calls?teamId=${teamId}&status=rejected`)).body.calls.find((x: any) => x.carrierCallId === r.sid);
    expect(rRow).toMatchObject({ carrierCallId: r.sid, status: 'rejected', reason: 'released' });

    expect(await p1.stop()).toMatchObject({ code: 0 });
    expect(await p2.stop()).toMatchObject({ code: 0 });
    const count = async (q: string, ...params: unknown[]) => Number(await sql.value(q, ...params));
    expect(await count('SELECT count(*) FROM calls WHERE carrier_call_id = ?', sid)).toBe(1);
    expect(await count('SELECT count(*) FROM calls WHERE carrier_call_id = ?', sid2)).toBe(1);
    // Two warm-ups, three calls per alternation, and the nine calls after them.
    expect(await count('SELECT count(*) FROM calls')).toBe(2 + 3 * ALTERNATIONS + 9);
  }, 40_000);
});
