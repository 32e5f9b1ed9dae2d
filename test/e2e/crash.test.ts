// Crash safety (issue 5, "Reliability"): the real process on a database (a
// SQLite file, or PostgreSQL in the integration tier's postgres project),
// mixed traffic, SIGKILL at a random moment, a restart on the same database,
// and the invariants that must survive any kill point:
//   - the database is intact (on the killed database, and after the restart):
//     SQLite's integrity_check and foreign_key_check; on PostgreSQL, which
//     outlives its client, no session of the killed process left, every index
//     consistent with its table (amcheck), no row breaking a foreign key;
//   - every call that received a connect or reject answer has its call record
//     (exactly one, with the id the TwiML carried);
//   - no number is held twice, or assigned across teams or to a number that
//     is not held; no team holds more than its plan allows;
//   - every number left `purchasing` reaches `active` or `error`;
//   - routing after the restart matches the assignments in the database.
//
// The kill points come from a seeded PRNG. Every round prints its seed; to
// replay one, run with SWITCHBOARD_CRASH_SEED=<seed> (one round per seed,
// comma-separated). SWITCHBOARD_CRASH_ROUNDS changes the number of rounds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseTwiml } from '../helpers/carrier.js';
import { ORDER_GRACE_MS } from '../../src/services/numbers/provisioning.js';
import { DIALECT, testSql, type TestSql } from '../helpers/db.js';
import { CONNECTED, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';
import { api, e2eDb, gatewayHooks, sleep, spawnGateway, until as pollUntil, type Gateway } from './server.js';
import { PLAN_LIMITS, must, prng, runTraffic, voice, type Answered, type Plan, type TeamCtx, type TrafficLog } from './traffic.js';

const ADMIN = 'sb_admin_e2e_crash_0123456789abcdef';
const TWILIO = 'tw_e2e_crash_token';
const PROVISION_MS = 300;
const SWEEP_MS = 1000;
/** The sweeper's lease at SWEEP_MS (src/gateway.ts: 3 sweeps, at least 5 s): a killed holder's lapses this long after its last sweep. */
const SWEEPER_LEASE_MS = 5000;

const seeds: number[] = process.env.SWITCHBOARD_CRASH_SEED
  ? process.env.SWITCHBOARD_CRASH_SEED.split(',').map((s) => Number(s.trim()) >>> 0)
  : (() => {
      const n = Number(process.env.SWITCHBOARD_CRASH_ROUNDS ?? 6);
      const base = (Date.now() ^ (process.pid << 16)) >>> 0;
      return Array.from({ length: n }, (_, i) => (base + i * 0x9e3779b1) >>> 0);
    })();

let fake: FakeAssistant;

gatewayHooks({ timeoutMs: 90_000 });
beforeAll(async () => {
  fake = await fakeAssistant({ echo: true });
}, 90_000);

afterAll(async () => {
  await fake?.close();
});

const envFor = (dbPath: string): Record<string, string> => ({
  SWITCHBOARD_DB: dbPath,
  SWITCHBOARD_ADMIN_TOKEN: ADMIN,
  TWILIO_AUTH_TOKEN: TWILIO,
  SIM_PROVISION_MS: String(PROVISION_MS),
  SWITCHBOARD_API_RATE: '100000',
  SWITCHBOARD_API_BURST: '100000',
  SWITCHBOARD_AUTH_FAILURE_LIMIT: '100000',
  SWITCHBOARD_DRAIN_MS: '0',
  SWITCHBOARD_SWEEP_MS: String(SWEEP_MS),
});

const launch = (dbPath: string, name: string): Promise<Gateway> => spawnGateway(envFor(dbPath), { name, outputTail: 4000 });
async function start(dbPath: string, name: string): Promise<Gateway> {
  const p = await launch(dbPath, name);
  await p.waitListening({ killOnTimeout: true });
  return p;
}

/** Polls every 20 ms until fn is true; throws with `what` after timeoutMs. */
const until = (fn: () => boolean | Promise<boolean>, what: string, timeoutMs: number) => pollUntil(fn, what, timeoutMs, 20);

/** Teams (starter, free, pro), two assistants each pointing at the fake assistant, a few active assigned numbers. */
async function setUp(p: Gateway, round: number) {
  const plans: Plan[] = ['starter', 'free', 'pro'];
  const teams: TeamCtx[] = [];
  for (const plan of plans) {
    const slug = `${plan}-${round}`;
    const t = await must(201, api(p.base, ADMIN, 'POST', '/api/teams', { name: slug, slug, plan }), `team ${slug}`);
    const assistantIds: string[] = [];
    for (const name of ['a', 'b']) {
      const a = await must(201, api(p.base, t.token, 'POST', '/api/assistants', { teamId: t.team.id, name, mediaUrl: fake.url }), 'assistant');
      assistantIds.push(a.assistant.id);
    }
    teams.push({ id: t.team.id, slug, plan, token: t.token, assistantIds });
  }
  const pool: string[] = [];
  for (const countryCode of ['US', 'CA']) {
    const s = await must(200, api(p.base, ADMIN, 'POST', '/api/phone-numbers/search', { filters: { countryCode, limit: 15 } }), 'search');
    pool.push(...(s.numbers as Array<{ phoneNumber: string }>).map((n) => n.phoneNumber));
  }
  // Some numbers active and assigned before the traffic starts.
  const initial: Array<[TeamCtx, number]> = [
    [teams[0]!, 2],
    [teams[1]!, 1],
    [teams[2]!, 4],
  ];
  let k = 0;
  const bought: Array<{ team: TeamCtx; id: string }> = [];
  for (const [team, n] of initial) {
    for (let i = 0; i < n; i++) {
      const b = await must(201, api(p.base, team.token, 'POST', '/api/phone-numbers/purchase', { phoneNumber: pool[k++], teamId: team.id }), 'purchase');
      bought.push({ team, id: b.phoneNumber.id });
    }
  }
  await until(
    async () => (await api(p.base, ADMIN, 'GET', '/api/phone-numbers?status=purchasing')).body.phoneNumbers.length === 0,
    'the first numbers to be provisioned',
    5000,
  );
  for (const team of teams) {
    const mine = bought.filter((b) => b.team === team).map((b) => b.id);
    await must(
      200,
      api(p.base, team.token, 'PATCH', `/api/assistants/${team.assistantIds[0]}/telephony/phone-numbers`, { accountSlug: team.slug, phoneNumberIds: mine }),
      'assign',
    );
  }
  // Dialled numbers nobody can hold: not in the inventory.
  const unknown = ['+12025550100', '+14165550199', '+19995550123'];
  return { teams, pool, unknown, held: pool.slice(0, k) };
}

type Row = Record<string, any>;

/**
 * PostgreSQL outlives the killed process, and so may the server sessions it
 * had: a statement in progress (a COMMIT already sent, say) still finishes.
 * The database is what the kill left only once they are gone; waits for that
 * (and fails if one lingers). Call it while no gateway runs on the database.
 * SQLite: the file is final when the process is.
 */
async function killedSessionsGone(sql: TestSql, what: string): Promise<void> {
  if (DIALECT === 'sqlite') return;
  const left = () =>
    sql.all<Row>(
      "SELECT pid, application_name, state, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'switchboard%'",
    );
  await until(async () => (await left()).length === 0, `the killed process's sessions to end (${what})`, 5000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await left())}`);
  });
}

/** Databases amcheck was installed in (the check needs a connection that may write). */
const amchecked = new Set<string>();

/**
 * What is broken in the database; [] when nothing is.
 * SQLite: integrity_check (a kill must never corrupt the file).
 * PostgreSQL: every btree index must agree with its table (amcheck's
 * bt_index_check with heapallindexed: each row is found through each index).
 */
async function integrityProblems(target: string, sql: TestSql): Promise<string[]> {
  if (DIALECT === 'sqlite') {
    const rows = await sql.all<{ integrity_check: string }>('PRAGMA integrity_check');
    return rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
  }
  if (!amchecked.has(target)) {
    const rw = testSql(target);
    try {
      await rw.run('CREATE EXTENSION IF NOT EXISTS amcheck');
    } finally {
      await rw.close();
    }
    amchecked.add(target);
  }
  const problems: string[] = [];
  const indexes = await sql.all<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_am am ON am.oid = c.relam WHERE n.nspname = 'public' AND am.amname = 'btree' ORDER BY 1`,
  );
  if (indexes.length === 0) problems.push('no index to check');
  for (const { name } of indexes) {
    try {
      await sql.get('SELECT bt_index_check(?::regclass, true)', `public.${name}`);
    } catch (err) {
      problems.push(`index ${name}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * Rows whose foreign key names no row; [] when none.
 * SQLite: foreign_key_check. PostgreSQL: the same check, spelt out for each
 * foreign key constraint in the schema (MATCH SIMPLE: a key with a NULL in it
 * refers to nothing).
 */
async function foreignKeyProblems(sql: TestSql): Promise<Row[]> {
  if (DIALECT === 'sqlite') return sql.all('PRAGMA foreign_key_check');
  const fks = await sql.all<{ name: string; child: string; parent: string; cols: string[]; refs: string[] }>(
    `SELECT c.conname AS name, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS cols,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS refs
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'f' AND n.nspname = 'public' ORDER BY 1`,
  );
  if (fks.length === 0) return [{ problem: 'no foreign key to check' }];
  const out: Row[] = [];
  for (const fk of fks) {
    const q = (id: string) => `"${id.replaceAll('"', '""')}"`;
    const notNull = fk.cols.map((col) => `x.${q(col)} IS NOT NULL`).join(' AND ');
    const match = fk.cols.map((col, i) => `y.${q(fk.refs[i]!)} = x.${q(col)}`).join(' AND ');
    const orphans = Number(await sql.value(`SELECT count(*) FROM ${fk.child} x WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${fk.parent} y WHERE ${match})`));
    if (orphans) out.push({ table: fk.child, parent: fk.parent, constraint: fk.name, orphans });
  }
  return out;
}

/** A read-only look at the database: what the killed process left behind. */
async function inspectKilled(target: string, sql: TestSql, answered: TrafficLog['answered']) {
  try {
    const integrity = await integrityProblems(target, sql);
    const fk = await foreignKeyProblems(sql);
    const purchasing = await sql.all<Row>("SELECT id, e164, order_id FROM phone_numbers WHERE status = 'purchasing'");
    const missing: TrafficLog['answered'] = [];
    for (const a of answered) if (!(await sql.get("SELECT 1 FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?", a.sid))) missing.push(a);
    return { integrity, fk, purchasing, missing };
  } finally {
    await sql.close();
  }
}

interface RoundReport {
  seed: number;
  killDelayMs: number;
  answered: number;
  connects: number;
  voiceSent: number;
  purchases: Record<string, number>;
  purchasingAtKill: number;
  secondKill: string | null;
  bridges: number;
  checks: string[];
}
const reports: RoundReport[] = [];

async function round(seed: number, index: number): Promise<RoundReport> {
  const rng = prng(seed);
  const { target: dbPath, sql } = await e2eDb('switchboard-crash-');
  const checks: string[] = [];
  const procs: Gateway[] = [];

  /** For a failure message: what the database and the processes' logs say about these numbers. */
  const story = async (e164s: string[]): Promise<string> => {
    const out: Row[] = [];
    for (const e164 of e164s) {
      const numbers = await sql.all<Row>(
        'SELECT id, status, order_id, failure_reason, created_at, updated_at FROM phone_numbers WHERE e164 = ? ORDER BY created_at',
        e164,
      );
      const hold = await sql.value('SELECT order_id FROM sim_inventory WHERE e164 = ?', e164);
      const orders = await sql.all<Row>('SELECT id, status, outcome, ready_at, created_at FROM sim_orders WHERE e164 = ? ORDER BY created_at', e164);
      const keys = [e164, ...numbers.map((n) => n.id as string), ...orders.map((o) => o.id as string)];
      const logs = procs.flatMap((p) => p.lines.filter((l) => keys.some((k) => JSON.stringify(l).includes(k))).map((l) => `${p.name}: ${JSON.stringify(l)}`));
      out.push({ e164, numbers, carrierHold: hold ?? null, orders, logs });
    }
    return JSON.stringify(out, null, 1);
  };

  // ------------------------------------------------------------ run and kill
  const p1 = await start(dbPath, 'process 1');
  procs.push(p1);
  const { teams, pool, unknown, held } = await setUp(p1, index);
  // Two calls answered up front, so live bridges are streaming when the kill comes.
  const preAnswered: Answered[] = [];
  for (const to of [pool[0]!, pool[2]!]) {
    const sid = rng.callSid();
    const v = await voice(p1.base, TWILIO, sid, to);
    const tw = parseTwiml(v.text);
    expect(tw.callId, v.text).not.toBeNull();
    preAnswered.push({ sid, to, kind: 'connect', callId: tw.callId, token: tw.token, streamUrl: tw.streamUrl });
  }
  const killDelayMs = rng.int(300, 1500);
  let killed = false;
  const trafficDone = runTraffic(
    { base: p1.base, adminToken: ADMIN, twilioToken: TWILIO, teams, pool, held, unknown, preAnswered, rng: prng(seed ^ 0x5bd1e995), maxBridges: 6 },
    () => killed,
  );
  await sleep(killDelayMs);
  process.kill(p1.child.pid!, 'SIGKILL');
  killed = true;
  const exit = await p1.exited;
  let lastKill = exit.at;
  expect(exit.signal).toBe('SIGKILL');
  const traffic = await trafficDone;

  // ------------------------------------------------------------ the database as the kill left it
  await killedSessionsGone(sql, 'after the kill');
  const raw = await inspectKilled(dbPath, sql, traffic.answered);
  expect(raw.integrity, 'integrity of the killed database').toEqual([]);
  expect(raw.fk, 'foreign keys in the killed database').toEqual([]);
  checks.push('integrity(killed db)', 'foreign keys(killed db)');
  expect(
    raw.missing.map((a) => a.sid),
    'answered calls without a record in the killed database',
  ).toEqual([]);
  checks.push('answered→record(killed db)');

  // ------------------------------------------------------------ a second kill, during the restart
  // Half the rounds also kill the first restart at a random moment of its start-up
  // (migrations, recovery of the purchases left over, the first sweep, just after listening).
  let secondKill: string | null = null;
  if (rng.chance(0.5)) {
    const ms = rng.int(50, 1200);
    const pk = await launch(dbPath, 'restart killed');
    procs.push(pk);
    await sleep(ms);
    process.kill(pk.child.pid!, 'SIGKILL');
    lastKill = (await pk.exited).at;
    const listened = pk.lines.some((l) => l.msg === 'switchboard listening');
    const recovered = pk.lines.find((l) => l.msg === 'purchases left from the last run');
    secondKill = `${ms}ms after spawn (${listened ? 'after listening' : recovered ? 'after recovery' : 'during start-up'})`;
    await killedSessionsGone(sql, 'after the second kill');
    const again = await inspectKilled(dbPath, sql, traffic.answered);
    expect(again.integrity, 'integrity after the second kill').toEqual([]);
    expect(again.fk, 'foreign keys after the second kill').toEqual([]);
    expect(
      again.missing.map((a) => a.sid),
      'answered calls without a record after the second kill',
    ).toEqual([]);
    checks.push('integrity+records(second kill)');
  }

  // ------------------------------------------------------------ restart on the same database
  const p2 = await start(dbPath, 'restart');
  procs.push(p2);
  try {
    // Every number left purchasing settles. Provisioning takes 300 ms and the 60 s deadline
    // is far, but the restart settles what the carrier already confirmed (and what it never
    // received) in its recovery sweep, which waits for the killed process's sweeper lease
    // to lapse; and a number whose order was never placed (killed between the purchase's
    // commit and the carrier order) waits ORDER_GRACE_MS from its purchase, since another
    // instance might still be placing it (src/services/numbers/provisioning.ts). Those are
    // rare on SQLite, where the steps are microseconds apart, and common on PostgreSQL.
    const orderless = await sql.all<{ created_at: number }>("SELECT created_at FROM phone_numbers WHERE status = 'purchasing' AND order_id IS NULL");
    const settleBy = Math.max(
      Date.now() + 3000,
      lastKill + SWEEPER_LEASE_MS + 2 * SWEEP_MS + 1000,
      ...orderless.map((n) => Number(n.created_at) + ORDER_GRACE_MS + 2 * SWEEP_MS + 1000),
    );
    await until(
      async () => {
        const r = await api(p2.base, ADMIN, 'GET', '/api/phone-numbers?status=purchasing');
        return r.status === 200 && r.body.phoneNumbers.length === 0;
      },
      'every purchasing number to become active or error after the restart',
      settleBy - Date.now(),
    ).catch(async (err: Error) => {
      const left = await sql.all<{ e164: string }>("SELECT e164 FROM phone_numbers WHERE status = 'purchasing'");
      throw new Error(`${err.message}\n${await story(left.map((r) => r.e164))}`);
    });
    for (const n of raw.purchasing) {
      const r = await must(200, api(p2.base, ADMIN, 'GET', `/api/phone-numbers/${n.id}`), 'number');
      expect(['active', 'error'], `number ${n.e164} left purchasing by the kill`).toContain(r.phoneNumber.status);
    }
    checks.push(`purchasing→settled(${raw.purchasing.length})`);

    expect(await integrityProblems(dbPath, sql), 'integrity after the restart').toEqual([]);
    expect(await foreignKeyProblems(sql), 'foreign keys after the restart').toEqual([]);
    checks.push('integrity(after restart)');

    // Every answered call: exactly one record; a connect's record is the call the TwiML named.
    const bySid = (sid: string) => sql.all<Row>("SELECT * FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?", sid);
    for (const a of traffic.answered) {
      const rows = await bySid(a.sid);
      expect(rows.length, `records for answered call ${a.sid} (${a.kind} to ${a.to})`).toBe(1);
      const row = rows[0]!;
      if (a.kind === 'connect') {
        expect(row.id, `record id of connected call ${a.sid}`).toBe(a.callId);
        expect(row.assistant_id, `connected call ${a.sid} is pinned`).not.toBeNull();
        expect(row.status).not.toBe('rejected');
      } else {
        expect(row.status, `rejected call ${a.sid}`).toBe('rejected');
        expect(row.reason).not.toBeNull();
      }
    }
    checks.push(`answered→record(${traffic.answered.length})`);

    // Holding: one holder per number, assignments within the team and only on held numbers, plan limits.
    expect(
      await sql.all("SELECT e164, count(*) AS n FROM phone_numbers WHERE status IN ('purchasing','active','suspended') GROUP BY e164 HAVING count(*) > 1"),
      'numbers held twice',
    ).toEqual([]);
    expect(
      await sql.all('SELECT p.id FROM phone_numbers p JOIN assistants a ON a.id = p.assistant_id WHERE a.team_id <> p.team_id'),
      'numbers assigned to another team’s assistant',
    ).toEqual([]);
    expect(
      await sql.all("SELECT id, status FROM phone_numbers WHERE assistant_id IS NOT NULL AND status NOT IN ('active','suspended')"),
      'assigned numbers that are not held',
    ).toEqual([]);
    const heldBy = async (teamId: string) =>
      Number(await sql.value("SELECT count(*) FROM phone_numbers WHERE team_id = ? AND status IN ('purchasing','active','suspended')", teamId));
    for (const t of teams) {
      const held = await heldBy(t.id);
      expect(held, `${t.slug} holds more than its plan allows`).toBeLessThanOrEqual(PLAN_LIMITS[t.plan]);
    }
    // The API view agrees: each number is listed on at most one assistant, and on the one the row names.
    const listed = new Map<string, string>();
    for (const t of teams) {
      const as = await must(200, api(p2.base, ADMIN, 'GET', `/api/assistants?teamId=${t.id}`), 'assistants');
      for (const a of as.assistants as Array<{ id: string; phoneNumberIds: string[] }>) {
        for (const id of a.phoneNumberIds) {
          expect(listed.has(id), `number ${id} listed on two assistants`).toBe(false);
          listed.set(id, a.id);
        }
      }
    }
    const assignedRows = await sql.all<Row>('SELECT id, assistant_id FROM phone_numbers WHERE assistant_id IS NOT NULL');
    expect(new Map(assignedRows.map((r) => [r.id as string, r.assistant_id as string]))).toEqual(listed);
    checks.push('single holder', 'single assistant', 'plan limits');

    // The carrier's side agrees: every active number is held at the carrier by its order,
    // and no inventory hold is left without a holder (a failed or released number goes back to the pool).
    const unheld = await sql.all<{ e164: string }>(
      "SELECT p.e164 FROM phone_numbers p WHERE p.status IN ('active','suspended') AND NOT EXISTS (SELECT 1 FROM sim_inventory s WHERE s.e164 = p.e164 AND s.order_id = p.order_id)",
    );
    expect(unheld, `active numbers the carrier does not hold for us\n${unheld.length ? await story(unheld.map((r) => r.e164)) : ''}`).toEqual([]);
    // (An order the gateway no longer wants is given back when the carrier confirms it, just after the start.)
    const leaked = () =>
      sql.all(
        "SELECT s.e164, s.order_id FROM sim_inventory s WHERE s.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.e164 = s.e164 AND p.status IN ('purchasing','active','suspended'))",
      );
    await until(async () => (await leaked()).length === 0, 'carrier holds with no holder to be given back', 3000).catch(() => {});
    const leftHeld = await leaked();
    expect(
      leftHeld,
      `carrier holds with no holder (numbers that never go back to the pool)\n${leftHeld.length ? await story(leftHeld.map((r) => r.e164 as string)) : ''}`,
    ).toEqual([]);
    checks.push('carrier holds');

    // Routing after the restart matches the database, for every number the traffic could dial.
    // (The comparison sorts as a boolean on PostgreSQL and as 0/1 on SQLite: held rows first on both.)
    const entry = (e164: string) =>
      sql.get<Row>(
        `SELECT p.id, p.status, p.assistant_id, a.media_url FROM phone_numbers p LEFT JOIN assistants a ON a.id = p.assistant_id
          WHERE p.e164 = ? ORDER BY p.status IN ('purchasing','active','suspended') DESC, p.created_at DESC LIMIT 1`,
        e164,
      );
    let routed = 0;
    let mediaChecked = 0;
    const checkOne = async (e164: string) => {
      const n = await entry(e164);
      const sid = rng.callSid();
      const v = await voice(p2.base, TWILIO, sid, e164);
      expect(v.status, v.text).toBe(200);
      const tw = parseTwiml(v.text);
      const rec = (await bySid(sid))[0];
      expect(rec, `record of the post-restart call to ${e164}`).toBeDefined();
      const expected = !n
        ? 'no_route'
        : n.status === 'active'
          ? n.assistant_id
            ? 'connect'
            : 'unassigned'
          : n.status === 'suspended'
            ? 'suspended'
            : n.status === 'released'
              ? 'released'
              : 'not_active';
      if (expected === 'connect') {
        expect(tw.callId, `${e164} is active on assistant ${n!.assistant_id}: ${v.text}`).toBe(rec!.id);
        expect(rec!.assistant_id, `the call to ${e164} is pinned to the assistant in the database`).toBe(n!.assistant_id);
        expect(rec!.media_url).toBe(n!.media_url);
        expect(rec!.phone_number_id).toBe(n!.id);
        if (mediaChecked < 2) {
          mediaChecked++;
          await expectBridged(tw.streamUrl!, tw.callId!, tw.token!, sid);
        }
      } else {
        expect(tw.reject, `${e164} should be rejected (${expected}): ${v.text}`).toBe('rejected');
        expect(rec!.status).toBe('rejected');
        expect(rec!.reason, `reject reason for ${e164}`).toBe(expected);
      }
      routed++;
    };
    // Four webhooks at a time: each is its own call, checked against the row it dialled.
    const dial = [...pool, ...unknown];
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = w; i < dial.length; i += 4) await checkOne(dial[i]!);
      }),
    );
    checks.push(`routing=db(${routed} numbers, ${mediaChecked} bridged)`);

    // A client retries its keyed purchases after the restart: a 201 that arrived is replayed
    // (same number), and a purchase committed before the kill is never bought twice.
    const stored = (scope: string, key: string) => sql.value<string | undefined>('SELECT body FROM idempotency_keys WHERE scope = ? AND key = ?', scope, key);
    let retried = 0;
    for (const k of traffic.keyed) {
      const team = teams.find((t) => t.id === k.teamId)!;
      const committed = await stored(`team:${k.teamId}`, k.key);
      const r = await api(p2.base, team.token, 'POST', '/api/phone-numbers/purchase', { phoneNumber: k.e164, teamId: k.teamId }, { 'Idempotency-Key': k.key });
      if (k.status === 201) {
        expect(committed, `the 201 for key ${k.key} arrived, so its key is stored`).toBeDefined();
        expect(r.status, r.text).toBe(201);
        expect(r.body.phoneNumber.id, `retry of key ${k.key}`).toBe(k.id);
      }
      if (committed) {
        expect(r.status, r.text).toBe(201);
        expect(r.body.phoneNumber.id, `retry of committed key ${k.key}`).toBe((JSON.parse(committed) as { id: string }).id);
      }
      retried++;
    }
    for (const t of teams) {
      const held = await heldBy(t.id);
      expect(held, `${t.slug} holds more than its plan allows after the retries`).toBeLessThanOrEqual(PLAN_LIMITS[t.plan]);
    }
    expect(await sql.all("SELECT e164 FROM phone_numbers WHERE status IN ('purchasing','active','suspended') GROUP BY e164 HAVING count(*) > 1")).toEqual([]);
    checks.push(`idempotent retries(${retried})`);
  } finally {
    await sql.close();
  }
  p2.child.kill('SIGKILL');
  await p2.exited;

  return {
    seed,
    killDelayMs,
    answered: traffic.answered.length,
    connects: traffic.answered.filter((a) => a.kind === 'connect').length,
    voiceSent: traffic.voiceSent,
    purchases: traffic.purchases,
    purchasingAtKill: raw.purchasing.length,
    secondKill,
    bridges: traffic.bridgesOpened,
    checks,
  };
}

/** The restarted gateway accepts the pre-restart style token and bridges to the fake assistant. */
async function expectBridged(streamUrl: string, callId: string, token: string, sid: string) {
  const before = fake.connections.length;
  const ws = new WebSocket(streamUrl);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(CONNECTED);
  ws.send(twilioStart(callId, token, sid));
  ws.send(mediaFrame(3));
  await until(() => fake.received.slice(before).some((frames) => frames.some((f) => f.includes(callId))), 'the bridged start message at the assistant', 3000);
  ws.close(1000);
}

describe('crash safety: SIGKILL under mixed traffic, restart on the same database', () => {
  it.each(seeds.map((seed, i) => [i + 1, seed] as const))(
    'round %i (seed %i): the invariants hold after a kill at a random moment',
    async (i, seed) => {
      let r: RoundReport;
      try {
        r = await round(seed, i);
      } catch (err) {
        console.log(`crash round ${i} FAILED; replay with SWITCHBOARD_CRASH_SEED=${seed}`);
        throw err;
      }
      reports.push(r);
      console.log(
        `crash round ${i}: seed=${r.seed} killAt=${r.killDelayMs}ms voice=${r.voiceSent} answered=${r.answered} (connect ${r.connects}) ` +
          `purchases=${JSON.stringify(r.purchases)} purchasingAtKill=${r.purchasingAtKill} bridges=${r.bridges} secondKill=${r.secondKill ?? 'none'}\n  checks: ${r.checks.join(', ')}`,
      );
      expect(r.voiceSent, 'the traffic ran').toBeGreaterThan(0);
    },
    60_000,
  );

  it('the rounds, together, killed the process with answered calls and purchases in flight', () => {
    // Not every kill point lands mid-purchase or after the first answers; over the rounds some
    // should, or the invariants above were checked on nothing. (Needs 3 rounds: not for a replay of one seed.)
    if (reports.length < 3) return;
    const summary = JSON.stringify(reports.map((r) => ({ answered: r.answered, purchasingAtKill: r.purchasingAtKill })));
    expect(
      reports.reduce((n, r) => n + r.answered, 0),
      summary,
    ).toBeGreaterThan(0);
    expect(
      reports.some((r) => r.purchasingAtKill > 0),
      summary,
    ).toBe(true);
  });
});
