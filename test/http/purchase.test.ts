// Buying numbers (api.md section 3, "Purchase" and "List, read, release"),
// through the HTTP API on a real SQLite file with the simulated carrier.
import { BUYS_AT_ONCE, ON_SIM } from '../helpers/provider-under-test.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { parsePhone } from '../../src/domain/phone.js';
import {
  availableNumbers,
  buyActive,
  createTeam,
  eventually,
  expectApiError,
  numbersHeld,
  offered,
  startGateway,
  type TestGateway,
} from '../helpers/gateway.js';

const DAY = 24 * 60 * 60 * 1000;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

type Res = { status: number; body: any; headers: Record<string, string> };

const expectError = (res: Res, status: number, code: string) => expectApiError(res, status, code, { messageString: true, messageNonEmpty: true });

const purchase = (t: TestGateway, team: { id: string; auth: Record<string, string> }, phoneNumber: string) =>
  t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber, teamId: team.id });

describe('purchase: provisioning', () => {
  let t: TestGateway;
  beforeAll(async () => {
    // Slow enough that "purchasing" is observable on a GET right after the 201.
    t = await startGateway({ env: { SIM_PROVISION_MS: '300' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 201 with status purchasing, then the number becomes active (at once with a provider that sells in one request)', async () => {
    const team = await createTeam(t, 'prov-ok', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '415' });
    const res = await purchase(t, team, e164!);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const n = res.body.phoneNumber;
    expect(n).toMatchObject({
      phoneNumber: e164,
      teamId: team.id,
      countryCode: 'US',
      numberType: 'local',
      city: 'San Francisco',
      state: 'CA',
      monthlyCost: { amount: 115, currency: 'USD' },
      status: 'purchasing',
      assistantId: null,
      trial: false,
      expiresAt: null,
      activatedAt: null,
    });
    expect(typeof n.id).toBe('string');
    expect(n.createdAt).toMatch(ISO);

    const right = await t.api.get(`/api/phone-numbers/${n.id}`).set(team.auth).expect(200);
    expect(right.body.phoneNumber.status).toBe(BUYS_AT_ONCE ? 'active' : 'purchasing');
    // Purchasing counts against the plan.
    expect(await numbersHeld(t, team)).toBe(1);
    expect(await offered(t, e164!)).toBe(false);

    const active = await eventually(async () => {
      const r = await t.api.get(`/api/phone-numbers/${n.id}`).set(team.auth).expect(200);
      return r.body.phoneNumber.status === 'active' ? r.body.phoneNumber : null;
    });
    expect(active.id).toBe(n.id);
    expect(active.activatedAt).toMatch(ISO);
    expect(await numbersHeld(t, team)).toBe(1);
    expect(await offered(t, e164!)).toBe(false);
  });
});

// The simulated carrier's failure knob; real providers' refusals are in test/providers/provider-flow.test.ts.
describe.skipIf(!ON_SIM)('purchase: a failed order', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startGateway({ env: { SIM_PROVISION_MS: '50', SIM_FAILURE_RATE: '1' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('becomes error, goes back to the pool and does not count against the plan', async () => {
    const team = await createTeam(t, 'prov-fail', 'free');
    const [e164, other] = await availableNumbers(t, 'US', 2, { areaCode: '212' });
    const res = await purchase(t, team, e164!);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.phoneNumber.status).toBe('purchasing');
    const id = res.body.phoneNumber.id as string;

    const failed = await eventually(async () => {
      const r = await t.api.get(`/api/phone-numbers/${id}`).set(team.auth).expect(200);
      return r.body.phoneNumber.status === 'error' ? r.body.phoneNumber : null;
    });
    expect(failed.activatedAt).toBeNull();
    expect(await offered(t, e164!)).toBe(true);
    expect(await numbersHeld(t, team)).toBe(0);

    // A free team (limit 1) with a failed number may still buy: it is not held.
    const again = await purchase(t, team, other!);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
  });
});

describe('purchase: rules', () => {
  let t: TestGateway;
  let clock: ManualClock;
  beforeAll(async () => {
    clock = new ManualClock(Date.parse('2026-03-10T12:34:56.789Z'));
    t = await startGateway({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a valid number that is not in the carrier inventory is 409 NUMBER_UNAVAILABLE', async () => {
    const team = await createTeam(t, 'not-inventory', 'starter');
    const e164 = '+14153456789';
    const parsed = parsePhone(e164);
    expect(parsed?.valid).toBe(true);
    expect(readFileSync(new URL('../../fixtures/inventory/US.csv', import.meta.url), 'utf8')).not.toContain(e164);
    expect(await offered(t, e164)).toBe(false);

    expectError(await purchase(t, team, e164), 409, 'NUMBER_UNAVAILABLE');
    expect(await numbersHeld(t, team)).toBe(0);
    const list = await t.api.get('/api/phone-numbers').query({ teamId: team.id }).set(team.auth).expect(200);
    expect(list.body.phoneNumbers).toEqual([]);
  });

  it('a number another team holds is 409 NUMBER_UNAVAILABLE, in any spelling', async () => {
    const a = await createTeam(t, 'holder-a', 'starter');
    const b = await createTeam(t, 'holder-b', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '303' });
    const id = await buyActive(t, a, e164!);
    expectError(await purchase(t, b, e164!), 409, 'NUMBER_UNAVAILABLE');
    const spaced = `+1 (${e164!.slice(2, 5)}) ${e164!.slice(5, 8)}-${e164!.slice(8)}`;
    expectError(await purchase(t, b, spaced), 409, 'NUMBER_UNAVAILABLE');
    expect(await numbersHeld(t, b)).toBe(0);
    // The holder still has it, untouched.
    const n = await t.api.get(`/api/phone-numbers/${id}`).set(a.auth).expect(200);
    expect(n.body.phoneNumber).toMatchObject({ status: 'active', teamId: a.id, phoneNumber: e164 });
  });

  it('the same team buying a number it already holds is 409 NUMBER_UNAVAILABLE', async () => {
    const a = await createTeam(t, 'holder-self', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '305' });
    await buyActive(t, a, e164!);
    expectError(await purchase(t, a, e164!), 409, 'NUMBER_UNAVAILABLE');
    expect(await numbersHeld(t, a)).toBe(1);
  });

  it('at the plan limit is 403 PLAN_LIMIT_REACHED naming the limit', async () => {
    const team = await createTeam(t, 'limit-starter', 'starter');
    const nums = await availableNumbers(t, 'US', 6, { areaCode: '312' });
    for (const e164 of nums.slice(0, 5)) expect((await purchase(t, team, e164)).status).toBe(201);
    const res = await purchase(t, team, nums[5]!);
    expectError(res, 403, 'PLAN_LIMIT_REACHED');
    expect(res.body.error.message).toMatch(/^The starter plan allows 5 numbers; this team has 5\. Upgrade the team's plan .* or release a number first\.$/);
    expect(await numbersHeld(t, team)).toBe(5);
    expect(await offered(t, nums[5]!)).toBe(true);

    const free = await createTeam(t, 'limit-free', 'free');
    const [f1, f2] = await availableNumbers(t, 'US', 2, { areaCode: '313' });
    expect((await purchase(t, free, f1!)).status).toBe(201);
    const res2 = await purchase(t, free, f2!);
    expectError(res2, 403, 'PLAN_LIMIT_REACHED');
    expect(res2.body.error.message).toMatch(/^The free plan allows 1 number; this team has 1\. Upgrade .* or release a number first\.$/);
  });

  it('on the free plan the number is a trial that expires exactly 5 days after purchase', async () => {
    const team = await createTeam(t, 'trial-team', 'free');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '404' });
    const boughtAt = clock.now();
    const res = await purchase(t, team, e164!);
    expect(res.status).toBe(201);
    expect(res.body.phoneNumber.trial).toBe(true);
    expect(res.body.phoneNumber.createdAt).toBe(new Date(boughtAt).toISOString());
    expect(res.body.phoneNumber.expiresAt).toBe(new Date(boughtAt + 5 * DAY).toISOString());
    expect(res.body.phoneNumber.expiresAt).toBe('2026-03-15T12:34:56.789Z');
    const id = res.body.phoneNumber.id as string;
    await eventually(async () => (await t.api.get(`/api/phone-numbers/${id}`).set(team.auth)).body.phoneNumber.status === 'active');
    const after = await t.api.get(`/api/phone-numbers/${id}`).set(team.auth).expect(200);
    expect(after.body.phoneNumber).toMatchObject({ trial: true, expiresAt: '2026-03-15T12:34:56.789Z' });

    // A paid plan's number is not a trial.
    const paid = await createTeam(t, 'paid-team', 'pro');
    const [p] = await availableNumbers(t, 'US', 1, { areaCode: '404' });
    const r2 = await purchase(t, paid, p!);
    expect(r2.status).toBe(201);
    expect(r2.body.phoneNumber).toMatchObject({ trial: false, expiresAt: null });
  });
});

describe('purchase: Idempotency-Key', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the same key with the same body returns the first answer again and buys once', async () => {
    const team = await createTeam(t, 'idem-same', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '503' });
    const first = await purchase(t, team, e164!).set('Idempotency-Key', 'order-1');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // Let it become active: the replay is still the first answer.
    await eventually(async () => (await t.api.get(`/api/phone-numbers/${first.body.phoneNumber.id}`).set(team.auth)).body.phoneNumber.status === 'active');

    const second = await purchase(t, team, e164!).set('Idempotency-Key', 'order-1');
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);

    // Key order in the body does not matter.
    const third = await t.api
      .post('/api/phone-numbers/purchase')
      .set(team.auth)
      .set('Idempotency-Key', 'order-1')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ teamId: team.id, phoneNumber: e164 }));
    expect(third.status).toBe(201);
    expect(third.body.phoneNumber.id).toBe(first.body.phoneNumber.id);

    const list = await t.api.get('/api/phone-numbers').query({ teamId: team.id }).set(team.auth).expect(200);
    expect(list.body.phoneNumbers.map((n: any) => n.id)).toEqual([first.body.phoneNumber.id]);
    expect(await numbersHeld(t, team)).toBe(1);
  });

  it('the same key with another body is 409 IDEMPOTENCY_CONFLICT and buys nothing', async () => {
    const team = await createTeam(t, 'idem-conflict', 'starter');
    const [a, b] = await availableNumbers(t, 'US', 2, { areaCode: '512' });
    const first = await purchase(t, team, a!).set('Idempotency-Key', 'order-2');
    expect(first.status).toBe(201);
    const res = await purchase(t, team, b!).set('Idempotency-Key', 'order-2');
    expectError(res, 409, 'IDEMPOTENCY_CONFLICT');
    expect(await numbersHeld(t, team)).toBe(1);
    expect(await offered(t, b!)).toBe(true);
    // A new key is a new purchase.
    const other = await purchase(t, team, b!).set('Idempotency-Key', 'order-3');
    expect(other.status).toBe(201);
    expect(other.body.phoneNumber.id).not.toBe(first.body.phoneNumber.id);
    expect(await numbersHeld(t, team)).toBe(2);
  });

  it('a replayed error is not cached: a key whose first try failed can be used again', async () => {
    const team = await createTeam(t, 'idem-after-error', 'free');
    const [a, b] = await availableNumbers(t, 'US', 2, { areaCode: '602' });
    await buyActive(t, team, a!);
    expectError(await purchase(t, team, b!).set('Idempotency-Key', 'order-4'), 403, 'PLAN_LIMIT_REACHED');
    await t.api.patch(`/api/teams/${team.id}`).set(t.admin).send({ plan: 'starter' }).expect(200);
    const res = await purchase(t, team, b!).set('Idempotency-Key', 'order-4');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});

describe('listing and reading numbers', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists the team numbers, with status and assistant filters, and never another team', async () => {
    const team = await createTeam(t, 'lister', 'starter');
    const other = await createTeam(t, 'other-lister', 'starter');
    const nums = await availableNumbers(t, 'US', 4, { areaCode: '612' });
    const [n1, n2, n3] = [await buyActive(t, team, nums[0]!), await buyActive(t, team, nums[1]!), await buyActive(t, team, nums[2]!)];
    const o1 = await buyActive(t, other, nums[3]!);

    const asst = await t.api
      .post('/api/assistants')
      .set(team.auth)
      .send({ teamId: team.id, name: 'Front desk', mediaUrl: 'wss://agent.example.com/stream' })
      .expect(201);
    const assistantId = asst.body.assistant.id as string;
    await t.api
      .patch(`/api/assistants/${assistantId}/telephony/phone-numbers`)
      .set(team.auth)
      .send({ accountSlug: team.slug, phoneNumberIds: [n1] })
      .expect(200);
    const rel = await t.api.delete(`/api/phone-numbers/${n3}`).set(team.auth).expect(200);
    expect(rel.body.phoneNumber.status).toBe('released');

    const ids = (r: { body: any }) => (r.body.phoneNumbers as Array<{ id: string }>).map((x) => x.id).sort();

    const seed = await t.api.get('/api/phone-numbers/purchase').query({ teamId: team.id }).set(team.auth).expect(200);
    expect(ids(seed)).toEqual([n1, n2, n3].sort());
    for (const n of seed.body.phoneNumbers) expect(n.teamId).toBe(team.id);

    const all = await t.api.get('/api/phone-numbers').query({ teamId: team.id }).set(team.auth).expect(200);
    expect(ids(all)).toEqual([n1, n2, n3].sort());

    const active = await t.api.get('/api/phone-numbers').query({ teamId: team.id, status: 'active' }).set(team.auth).expect(200);
    expect(ids(active)).toEqual([n1, n2].sort());
    const released = await t.api.get('/api/phone-numbers').query({ teamId: team.id, status: 'released' }).set(team.auth).expect(200);
    expect(ids(released)).toEqual([n3]);
    const onAssistant = await t.api.get('/api/phone-numbers').query({ teamId: team.id, assistantId }).set(team.auth).expect(200);
    expect(ids(onAssistant)).toEqual([n1]);
    expect(onAssistant.body.phoneNumbers[0].assistantId).toBe(assistantId);
    const both = await t.api.get('/api/phone-numbers').query({ teamId: team.id, status: 'active', assistantId }).set(team.auth).expect(200);
    expect(ids(both)).toEqual([n1]);
    const none = await t.api.get('/api/phone-numbers').query({ teamId: team.id, status: 'suspended' }).set(team.auth).expect(200);
    expect(none.body.phoneNumbers).toEqual([]);

    // A team token may leave teamId out: its own team.
    const own = await t.api.get('/api/phone-numbers').set(team.auth).expect(200);
    expect(ids(own)).toEqual([n1, n2, n3].sort());
    expect(ids(own)).not.toContain(o1);

    // The admin sees any team's list by naming it.
    const adminView = await t.api.get('/api/phone-numbers').query({ teamId: other.id }).set(t.admin).expect(200);
    expect(ids(adminView)).toEqual([o1]);

    expectError(await t.api.get('/api/phone-numbers').query({ teamId: team.id, status: 'bogus' }).set(team.auth), 400, 'INVALID_REQUEST');
  });

  it("another team's teamId or number id with a team token is 404", async () => {
    const a = await createTeam(t, 'iso-a', 'starter');
    const b = await createTeam(t, 'iso-b', 'starter');
    const [ea, eb] = await availableNumbers(t, 'US', 2, { areaCode: '615' });
    const ida = await buyActive(t, a, ea!);
    await buyActive(t, b, eb!);

    expectError(await t.api.get('/api/phone-numbers/purchase').query({ teamId: a.id }).set(b.auth), 404, 'NOT_FOUND');
    expectError(await t.api.get('/api/phone-numbers').query({ teamId: a.id }).set(b.auth), 404, 'NOT_FOUND');
    expectError(await t.api.get(`/api/phone-numbers/${ida}`).set(b.auth), 404, 'NOT_FOUND');
    expectError(await t.api.delete(`/api/phone-numbers/${ida}`).set(b.auth), 404, 'NOT_FOUND');
    const [spare] = await availableNumbers(t, 'US', 1, { areaCode: '615' });
    expectError(await purchase(t, { id: a.id, auth: b.auth }, spare!), 404, 'NOT_FOUND');

    // Nothing changed for team a; an unknown id is the same 404.
    const still = await t.api.get(`/api/phone-numbers/${ida}`).set(a.auth).expect(200);
    expect(still.body.phoneNumber.status).toBe('active');
    expect(await numbersHeld(t, a)).toBe(1);
    expectError(await t.api.get('/api/phone-numbers/00000000-0000-4000-8000-000000000000').set(a.auth), 404, 'NOT_FOUND');
    // The admin may read it.
    const admin = await t.api.get(`/api/phone-numbers/${ida}`).set(t.admin).expect(200);
    expect(admin.body.phoneNumber.teamId).toBe(a.id);
  });
});
