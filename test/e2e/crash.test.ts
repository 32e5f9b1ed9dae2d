// Crash safety (issue 5, "Reliability"): the real process on a database file,
// mixed traffic, SIGKILL at a random moment, a restart on the same file, and
// the invariants that must survive any kill point:
//   - PRAGMA integrity_check is ok (on the killed file, and after the restart);
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
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseTwiml } from '../helpers/carrier.js';
import { CONNECTED, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';
import { api, gatewayHooks, sleep, spawnGateway, tempDir, until as pollUntil, type Gateway } from './server.js';
import { PLAN_LIMITS, must, prng, runTraffic, voice, type Answered, type Plan, type TeamCtx, type TrafficLog } from './traffic.js';

const ADMIN = 'sb_admin_e2e_crash_0123456789abcdef';
const TWILIO = 'tw_e2e_crash_token';
const PROVISION_MS = 300;

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
});

const launch = (dbPath: string): Promise<Gateway> => spawnGateway(envFor(dbPath), { outputTail: 4000 });
async function start(dbPath: string): Promise<Gateway> {
  const p = await launch(dbPath);
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
    await must(200, api(p.base, team.token, 'PATCH', `/api/assistants/${team.assistantIds[0]}/telephony/phone-numbers`, { accountSlug: team.slug, phoneNumberIds: mine }), 'assign');
  }
  // Dialled numbers nobody can hold: not in the inventory.
  const unknown = ['+12025550100', '+14165550199', '+19995550123'];
  return { teams, pool, unknown, held: pool.slice(0, k) };
}

type Row = Record<string, any>;

/** Read-only look at the file: what the killed process left behind. */
function inspectKilledFile(dbPath: string, answered: TrafficLog['answered']) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: false }) as Row[];
    const fk = db.pragma('foreign_key_check') as Row[];
    const purchasing = db.prepare("SELECT id, e164, order_id FROM phone_numbers WHERE status = 'purchasing'").all() as Row[];
    const missing = answered.filter((a) => !db.prepare("SELECT 1 FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?").get(a.sid));
    return { integrity, fk, purchasing, missing };
  } finally {
    db.close();
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
  const dir = tempDir('switchboard-crash-');
  const dbPath = join(dir, 'switchboard.db');
  const checks: string[] = [];

  // ------------------------------------------------------------ run and kill
  const p1 = await start(dbPath);
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
  expect(exit.signal).toBe('SIGKILL');
  const traffic = await trafficDone;

  // ------------------------------------------------------------ the file as the kill left it
  const raw = inspectKilledFile(dbPath, traffic.answered);
  expect(raw.integrity, 'integrity_check on the killed file').toEqual([{ integrity_check: 'ok' }]);
  expect(raw.fk, 'foreign_key_check on the killed file').toEqual([]);
  checks.push('integrity(killed file)', 'foreign keys(killed file)');
  expect(raw.missing.map((a) => a.sid), 'answered calls without a record in the killed file').toEqual([]);
  checks.push('answered→record(killed file)');

  // ------------------------------------------------------------ a second kill, during the restart
  // Half the rounds also kill the first restart at a random moment of its start-up
  // (migrations, recovery of the purchases left over, the first sweep, just after listening).
  let secondKill: string | null = null;
  if (rng.chance(0.5)) {
    const ms = rng.int(50, 1200);
    const pk = await launch(dbPath);
    await sleep(ms);
    process.kill(pk.child.pid!, 'SIGKILL');
    await pk.exited;
    const listened = pk.lines.some((l) => l.msg === 'switchboard listening');
    const recovered = pk.lines.find((l) => l.msg === 'purchases left from the last run');
    secondKill = `${ms}ms after spawn (${listened ? 'after listening' : recovered ? 'after recovery' : 'during start-up'})`;
    const again = inspectKilledFile(dbPath, traffic.answered);
    expect(again.integrity, 'integrity_check after the second kill').toEqual([{ integrity_check: 'ok' }]);
    expect(again.missing.map((a) => a.sid), 'answered calls without a record after the second kill').toEqual([]);
    checks.push('integrity+records(second kill)');
  }

  // ------------------------------------------------------------ restart on the same file
  const p2 = await start(dbPath);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    // Every number left purchasing settles: provisioning takes 300 ms, the 60 s deadline is far.
    await until(
      async () => {
        const r = await api(p2.base, ADMIN, 'GET', '/api/phone-numbers?status=purchasing');
        return r.status === 200 && r.body.phoneNumbers.length === 0;
      },
      'every purchasing number to become active or error after the restart',
      3000,
    );
    for (const n of raw.purchasing) {
      const r = await must(200, api(p2.base, ADMIN, 'GET', `/api/phone-numbers/${n.id}`), 'number');
      expect(['active', 'error'], `number ${n.e164} left purchasing by the kill`).toContain(r.phoneNumber.status);
    }
    checks.push(`purchasing→settled(${raw.purchasing.length})`);

    expect(db.pragma('integrity_check', { simple: false }), 'integrity_check after the restart').toEqual([{ integrity_check: 'ok' }]);
    checks.push('integrity(after restart)');

    // Every answered call: exactly one record; a connect's record is the call the TwiML named.
    const bySid = db.prepare("SELECT * FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?");
    for (const a of traffic.answered) {
      const rows = bySid.all(a.sid) as Row[];
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
      db.prepare("SELECT e164, count(*) AS n FROM phone_numbers WHERE status IN ('purchasing','active','suspended') GROUP BY e164 HAVING count(*) > 1").all(),
      'numbers held twice',
    ).toEqual([]);
    expect(
      db.prepare('SELECT p.id FROM phone_numbers p JOIN assistants a ON a.id = p.assistant_id WHERE a.team_id <> p.team_id').all(),
      'numbers assigned to another team’s assistant',
    ).toEqual([]);
    expect(
      db.prepare("SELECT id, status FROM phone_numbers WHERE assistant_id IS NOT NULL AND status NOT IN ('active','suspended')").all(),
      'assigned numbers that are not held',
    ).toEqual([]);
    for (const t of teams) {
      const held = db.prepare("SELECT count(*) FROM phone_numbers WHERE team_id = ? AND status IN ('purchasing','active','suspended')").pluck().get(t.id) as number;
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
    const assignedRows = db.prepare('SELECT id, assistant_id FROM phone_numbers WHERE assistant_id IS NOT NULL').all() as Row[];
    expect(new Map(assignedRows.map((r) => [r.id as string, r.assistant_id as string]))).toEqual(listed);
    checks.push('single holder', 'single assistant', 'plan limits');

    // The carrier's side agrees: every active number is held at the carrier by its order,
    // and no inventory hold is left without a holder (a failed or released number goes back to the pool).
    expect(
      db
        .prepare("SELECT p.e164 FROM phone_numbers p WHERE p.status IN ('active','suspended') AND NOT EXISTS (SELECT 1 FROM sim_inventory s WHERE s.e164 = p.e164 AND s.order_id = p.order_id)")
        .all(),
      'active numbers the carrier does not hold for us',
    ).toEqual([]);
    // (An order the gateway no longer wants is given back when the carrier confirms it, just after the start.)
    const leaked = db.prepare(
      "SELECT s.e164, s.order_id FROM sim_inventory s WHERE s.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.e164 = s.e164 AND p.status IN ('purchasing','active','suspended'))",
    );
    await until(() => leaked.all().length === 0, `carrier holds with no holder to be given back: ${JSON.stringify(leaked.all())}`, 3000).catch(() => {});
    expect(leaked.all(), 'carrier holds with no holder (numbers that never go back to the pool)').toEqual([]);
    checks.push('carrier holds');

    // Routing after the restart matches the database, for every number the traffic could dial.
    const entry = db.prepare(
      `SELECT p.id, p.status, p.assistant_id, a.media_url FROM phone_numbers p LEFT JOIN assistants a ON a.id = p.assistant_id
        WHERE p.e164 = ? ORDER BY p.status IN ('purchasing','active','suspended') DESC, p.created_at DESC LIMIT 1`,
    );
    let routed = 0;
    let mediaChecked = 0;
    const checkOne = async (e164: string) => {
      const n = entry.get(e164) as Row | undefined;
      const sid = rng.callSid();
      const v = await voice(p2.base, TWILIO, sid, e164);
      expect(v.status, v.text).toBe(200);
      const tw = parseTwiml(v.text);
      const rec = bySid.get(sid) as Row | undefined;
      expect(rec, `record of the post-restart call to ${e164}`).toBeDefined();
      const expected =
        !n ? 'no_route'
        : n.status === 'active' ? (n.assistant_id ? 'connect' : 'unassigned')
        : n.status === 'suspended' ? 'suspended'
        : n.status === 'released' ? 'released'
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
    await Promise.all([0, 1, 2, 3].map(async (w) => {
      for (let i = w; i < dial.length; i += 4) await checkOne(dial[i]!);
    }));
    checks.push(`routing=db(${routed} numbers, ${mediaChecked} bridged)`);

    // A client retries its keyed purchases after the restart: a 201 that arrived is replayed
    // (same number), and a purchase committed before the kill is never bought twice.
    const stored = db.prepare('SELECT body FROM idempotency_keys WHERE scope = ? AND key = ?').pluck();
    let retried = 0;
    for (const k of traffic.keyed) {
      const team = teams.find((t) => t.id === k.teamId)!;
      const committed = stored.get(`team:${k.teamId}`, k.key) as string | undefined;
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
      const held = db.prepare("SELECT count(*) FROM phone_numbers WHERE team_id = ? AND status IN ('purchasing','active','suspended')").pluck().get(t.id) as number;
      expect(held, `${t.slug} holds more than its plan allows after the retries`).toBeLessThanOrEqual(PLAN_LIMITS[t.plan]);
    }
    expect(
      db.prepare("SELECT e164 FROM phone_numbers WHERE status IN ('purchasing','active','suspended') GROUP BY e164 HAVING count(*) > 1").all(),
    ).toEqual([]);
    checks.push(`idempotent retries(${retried})`);
  } finally {
    db.close();
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

describe('crash safety: SIGKILL under mixed traffic, restart on the same file', () => {
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
    40_000,
  );

  it('the rounds, together, killed the process with answered calls and purchases in flight', () => {
    // Not every kill point lands mid-purchase or after the first answers; over the rounds some
    // should, or the invariants above were checked on nothing. (Needs 3 rounds: not for a replay of one seed.)
    if (reports.length < 3) return;
    const summary = JSON.stringify(reports.map((r) => ({ answered: r.answered, purchasingAtKill: r.purchasingAtKill })));
    expect(reports.reduce((n, r) => n + r.answered, 0), summary).toBeGreaterThan(0);
    expect(reports.some((r) => r.purchasingAtKill > 0), summary).toBe(true);
  });
});
