// Races (api.md section 3): parallel HTTP requests over real sockets against
// one gateway on a real SQLite file. Each race checks what the clients were
// told and what the database holds afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
let base: string;

beforeAll(async () => {
  t = await startGateway();
  // A real carrier answers over the network: give the simulated one a few
  // milliseconds of latency so that racing requests really overlap inside
  // the purchase, not only in the HTTP layer.
  const sim = t.gw.sim!;
  const quote = sim.quote.bind(sim);
  const placeOrder = sim.placeOrder.bind(sim);
  sim.quote = async (e164) => {
    await sleep(1 + Math.random() * 20);
    return quote(e164);
  };
  sim.placeOrder = async (n) => {
    await sleep(1 + Math.random() * 4);
    return placeOrder(n);
  };
  const addr = await t.gw.listen();
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(async () => {
  await t?.close();
});

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function call(method: string, path: string, auth: Record<string, string>, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...auth, ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

const sql = <T>(query: string, ...params: unknown[]): Promise<T[]> => t.sql.all<T>(query, ...params);

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

describe('purchase races', () => {
  it('a starter team firing 12 purchases at once gets exactly 5', async () => {
    const team = await createTeam(t, 'race-limit', 'starter');
    const nums = await availableNumbers(t, 'US', 12, { areaCode: '206' });
    expect(new Set(nums).size).toBe(12);

    const replies = await Promise.all(nums.map((phoneNumber) => call('POST', '/api/phone-numbers/purchase', team.auth, { phoneNumber, teamId: team.id })));
    expect(countBy(replies, (r) => `${r.status} ${r.body?.error?.code ?? r.body?.phoneNumber?.status}`)).toEqual({
      '201 purchasing': 5,
      '403 PLAN_LIMIT_REACHED': 7,
    });
    for (const r of replies.filter((r) => r.status === 403)) expect(r.body.error.message).toContain('5');

    const bought = replies.filter((r) => r.status === 201).map((r) => r.body.phoneNumber.phoneNumber as string);
    const team1 = await call('GET', `/api/teams/${team.id}`, team.auth);
    expect(team1.body.team.numbersHeld).toBe(5);
    const held = await sql<{ e164: string }>(`SELECT e164 FROM phone_numbers WHERE team_id = ? AND status IN ('purchasing','active','suspended')`, team.id);
    expect(held.map((r) => r.e164).sort()).toEqual([...bought].sort());
    // The seven refused numbers were never taken from the pool.
    const refused = nums.filter((n) => !bought.includes(n));
    const search = await call('POST', '/api/phone-numbers/search', t.admin, { filters: { countryCode: 'US', areaCode: '206', limit: 20 } });
    const offered = (search.body.numbers as Array<{ phoneNumber: string }>).map((n) => n.phoneNumber);
    for (const n of refused) expect(offered).toContain(n);
    for (const n of bought) expect(offered).not.toContain(n);
  });

  it('two teams buying the same number at the same moment: exactly one wins, 20 times over', async () => {
    const a = await createTeam(t, 'race-a', 'pro');
    const b = await createTeam(t, 'race-b', 'pro');
    const nums = await availableNumbers(t, 'US', 20, { areaCode: '213' });

    const pairs = await Promise.all(
      nums.map((phoneNumber) =>
        Promise.all([
          call('POST', '/api/phone-numbers/purchase', a.auth, { phoneNumber, teamId: a.id }),
          call('POST', '/api/phone-numbers/purchase', b.auth, { phoneNumber, teamId: b.id }),
        ]),
      ),
    );
    const wins = { a: 0, b: 0 };
    pairs.forEach(([ra, rb], i) => {
      const statuses = [ra!.status, rb!.status].sort();
      expect(statuses, `${nums[i]}: ${JSON.stringify([ra!.body, rb!.body])}`).toEqual([201, 409]);
      const loser = ra!.status === 409 ? ra! : rb!;
      expect(loser.body.error.code).toBe('NUMBER_UNAVAILABLE');
      const winner = ra!.status === 201 ? ra! : rb!;
      expect(winner.body.phoneNumber.phoneNumber).toBe(nums[i]);
      if (ra!.status === 201) wins.a++;
      else wins.b++;
    });

    // The database agrees: one holder per number, the one that was told 201.
    const rows = await sql<{ e164: string; team_id: string; n: number }>(
      `SELECT e164, team_id, count(*) OVER (PARTITION BY e164) AS n FROM phone_numbers WHERE e164 IN (${nums.map(() => '?').join(',')})`,
      ...nums,
    );
    expect(rows).toHaveLength(20);
    for (const r of rows) expect(r.n).toBe(1);
    pairs.forEach(([ra], i) => {
      const row = rows.find((r) => r.e164 === nums[i])!;
      expect(row.team_id).toBe(ra!.status === 201 ? a.id : b.id);
    });
    const ta = await call('GET', `/api/teams/${a.id}`, a.auth);
    const tb = await call('GET', `/api/teams/${b.id}`, b.auth);
    expect(ta.body.team.numbersHeld).toBe(wins.a);
    expect(tb.body.team.numbersHeld).toBe(wins.b);
    expect(wins.a + wins.b).toBe(20);
  });

  it('the same Idempotency-Key sent 10 times at once buys one number and answers the same to all', async () => {
    const team = await createTeam(t, 'race-idem', 'pro');
    const nums = await availableNumbers(t, 'US', 8, { areaCode: '214' });
    // Eight rounds, each a different key and number, so a narrow window shows.
    const rounds = await Promise.all(
      nums.map((phoneNumber, i) =>
        Promise.all(
          Array.from({ length: 10 }, () =>
            call('POST', '/api/phone-numbers/purchase', team.auth, { phoneNumber, teamId: team.id }, { 'Idempotency-Key': `same-key-10x-${i}` }),
          ),
        ),
      ),
    );
    const boughtIds: string[] = [];
    rounds.forEach((replies, i) => {
      for (const r of replies) expect(r.status, `${nums[i]}: ${JSON.stringify(r.body)}`).toBe(201);
      const ids = new Set(replies.map((r) => r.body.phoneNumber.id));
      expect(ids.size).toBe(1);
      for (const r of replies) expect(r.body).toEqual(replies[0]!.body);
      expect(replies[0]!.body.phoneNumber.phoneNumber).toBe(nums[i]);
      expect(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
      boughtIds.push(...ids);
    });

    const rows = await sql<{ id: string }>('SELECT id FROM phone_numbers WHERE team_id = ?', team.id);
    expect(rows.map((r) => r.id).sort()).toEqual(boughtIds.sort());
    for (const e164 of nums) expect(await t.providerOrders(e164), e164).toBe(1);
    const tm = await call('GET', `/api/teams/${team.id}`, team.auth);
    expect(tm.body.team.numbersHeld).toBe(8);
  });
});

describe('assignment races', () => {
  async function assistant(team: { id: string; auth: Record<string, string> }, name: string): Promise<string> {
    const r = await call('POST', '/api/assistants', team.auth, { teamId: team.id, name, mediaUrl: 'wss://agent.example.com/stream' });
    expect(r.status).toBe(201);
    return r.body.assistant.id as string;
  }
  const assign = (team: { slug: string; auth: Record<string, string> }, assistantId: string, phoneNumberIds: string[]) =>
    call('PATCH', `/api/assistants/${assistantId}/telephony/phone-numbers`, team.auth, { accountSlug: team.slug, phoneNumberIds });
  const numbersOf = async (team: { auth: Record<string, string> }, assistantId: string): Promise<string[]> =>
    ((await call('GET', `/api/assistants/${assistantId}`, team.auth)).body.assistant.phoneNumberIds as string[]).slice().sort();

  it('one number assigned to two assistants at once ends on exactly one of them', async () => {
    const team = await createTeam(t, 'race-assign', 'pro');
    const nums = await availableNumbers(t, 'US', 10, { areaCode: '215' });
    const ids: string[] = [];
    for (const e164 of nums) ids.push(await buyActive(t, team, e164));

    for (const id of ids) {
      const a1 = await assistant(team, `one-${id}`);
      const a2 = await assistant(team, `two-${id}`);
      const [r1, r2] = await Promise.all([assign(team, a1, [id]), assign(team, a2, [id])]);
      expect(r1.status, JSON.stringify(r1.body)).toBe(200);
      expect(r2.status, JSON.stringify(r2.body)).toBe(200);

      const row = await sql<{ assistant_id: string | null }>('SELECT assistant_id FROM phone_numbers WHERE id = ?', id);
      expect(row).toHaveLength(1);
      const owner = row[0]!.assistant_id;
      expect([a1, a2]).toContain(owner);
      const loser = owner === a1 ? a2 : a1;
      expect(await numbersOf(team, owner!)).toEqual([id]);
      expect(await numbersOf(team, loser)).toEqual([]);
      const num = await call('GET', `/api/phone-numbers/${id}`, team.auth);
      expect(num.body.phoneNumber.assistantId).toBe(owner);
    }
  });

  it('two overlapping assignments are applied one after the other, never mixed', async () => {
    const team = await createTeam(t, 'race-assign-mix', 'pro');
    const nums = await availableNumbers(t, 'US', 3, { areaCode: '303' });
    const [n1, n2, n3] = [await buyActive(t, team, nums[0]!), await buyActive(t, team, nums[1]!), await buyActive(t, team, nums[2]!)];
    for (let i = 0; i < 10; i++) {
      const a1 = await assistant(team, `mix-one-${i}`);
      const a2 = await assistant(team, `mix-two-${i}`);
      const [r1, r2] = await Promise.all([assign(team, a1, [n1, n2]), assign(team, a2, [n2, n3])]);
      expect([r1.status, r2.status]).toEqual([200, 200]);
      const final = [await numbersOf(team, a1), await numbersOf(team, a2)];
      const a1First = [[n1].sort(), [n2, n3].sort()];
      const a2First = [[n1, n2].sort(), [n3].sort()];
      expect([a1First, a2First]).toContainEqual(final);
      // The database says the same as the API.
      const rows = await sql<{ id: string; assistant_id: string | null }>('SELECT id, assistant_id FROM phone_numbers WHERE team_id = ?', team.id);
      const byOwner = (a: string) =>
        rows
          .filter((r) => r.assistant_id === a)
          .map((r) => r.id)
          .sort();
      expect([byOwner(a1), byOwner(a2)]).toEqual(final);
      // Clean up so the next round starts from unassigned numbers.
      await assign(team, a1, []);
      await assign(team, a2, []);
    }
  });
});
