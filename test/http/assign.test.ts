// PATCH /api/assistants/:id/telephony/phone-numbers (api.md section 3,
// "Assign and unassign"): set semantics, moves, isolation, atomicity.
import { ON_SIM } from '../helpers/provider-under-test.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let a: Team;
let b: Team;
/** Four active numbers of team a, one of team b. */
let na: string[];
let nb: string;

beforeAll(async () => {
  t = await startGateway();
  a = await createTeam(t, 'assign-a', 'pro');
  b = await createTeam(t, 'assign-b', 'starter');
  const nums = await availableNumbers(t, 'US', 6, { areaCode: '415' });
  na = [];
  for (const e of nums.slice(0, 5)) na.push(await buyActive(t, a, e));
  nb = await buyActive(t, b, nums[5]!);
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true, messageString: true });

async function newAssistant(team: Team, name: string, gw = t): Promise<string> {
  const res = await gw.api.post('/api/assistants').set(team.auth).send({ name, mediaUrl: 'wss://agent.example.com/stream' }).expect(201);
  return res.body.assistant.id as string;
}

const assign = (assistantId: string, team: Team, phoneNumberIds: unknown, accountSlug = team.slug, gw = t) =>
  gw.api.patch(`/api/assistants/${assistantId}/telephony/phone-numbers`).set(team.auth).send({ accountSlug, phoneNumberIds });

async function idsOn(assistantId: string, team: Team = a, gw = t): Promise<string[]> {
  const res = await gw.api.get(`/api/assistants/${assistantId}`).set(team.auth).expect(200);
  return [...(res.body.assistant.phoneNumberIds as string[])].sort();
}

async function numberOf(id: string, team: Team = a, gw = t) {
  return (await gw.api.get(`/api/phone-numbers/${id}`).set(team.auth).expect(200)).body.phoneNumber as { assistantId: string | null; status: string };
}

const sorted = (xs: string[]) => [...xs].sort();

describe('set semantics', () => {
  it('assigns the listed numbers and answers 200 { assistant } with them', async () => {
    const x = await newAssistant(a, 'set-1');
    const res = await assign(x, a, [na[0], na[1]]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body)).toEqual(['assistant']);
    expect(res.body.assistant.id).toBe(x);
    expect(sorted(res.body.assistant.phoneNumberIds)).toEqual(sorted([na[0]!, na[1]!]));
    expect((await numberOf(na[0]!)).assistantId).toBe(x);
    expect((await numberOf(na[1]!)).assistantId).toBe(x);
    await assign(x, a, []).expect(200);
  });

  it('numbers not in the list become unassigned; [] unassigns all', async () => {
    const x = await newAssistant(a, 'set-2');
    await assign(x, a, [na[0], na[1], na[2]]).expect(200);

    const res = await assign(x, a, [na[1]]).expect(200);
    expect(res.body.assistant.phoneNumberIds).toEqual([na[1]]);
    expect(await idsOn(x)).toEqual([na[1]]);
    expect(await numberOf(na[0]!)).toMatchObject({ assistantId: null, status: 'active' });
    expect(await numberOf(na[2]!)).toMatchObject({ assistantId: null, status: 'active' });
    expect((await numberOf(na[1]!)).assistantId).toBe(x);

    const empty = await assign(x, a, []).expect(200);
    expect(empty.body.assistant.phoneNumberIds).toEqual([]);
    expect(await idsOn(x)).toEqual([]);
    expect(await numberOf(na[1]!)).toMatchObject({ assistantId: null, status: 'active' });
  });

  it('does not touch numbers on other assistants that are not listed', async () => {
    const x = await newAssistant(a, 'set-3x');
    const y = await newAssistant(a, 'set-3y');
    await assign(y, a, [na[3]]).expect(200);
    await assign(x, a, [na[0]]).expect(200);
    await assign(x, a, []).expect(200);
    expect((await numberOf(na[3]!)).assistantId).toBe(y);
    expect(await idsOn(y)).toEqual([na[3]]);
    await assign(y, a, []).expect(200);
  });

  it('duplicates in the list are fine', async () => {
    const x = await newAssistant(a, 'dups');
    const res = await assign(x, a, [na[0], na[0], na[1], na[0]]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(sorted(res.body.assistant.phoneNumberIds)).toEqual(sorted([na[0]!, na[1]!]));
    expect(await idsOn(x)).toEqual(sorted([na[0]!, na[1]!]));
    await assign(x, a, []).expect(200);
  });

  it('the admin may assign too', async () => {
    const x = await newAssistant(a, 'by-admin');
    const res = await t.api
      .patch(`/api/assistants/${x}/telephony/phone-numbers`)
      .set(t.admin)
      .send({ accountSlug: a.slug, phoneNumberIds: [na[4]] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.assistant.phoneNumberIds).toEqual([na[4]]);
    await assign(x, a, []).expect(200);
  });
});

describe('moving a number between assistants', () => {
  it('listing a number that is on A for B moves it: A no longer has it', async () => {
    const x = await newAssistant(a, 'move-a');
    const y = await newAssistant(a, 'move-b');
    await assign(x, a, [na[0], na[1]]).expect(200);

    const res = await assign(y, a, [na[0]]).expect(200);
    expect(res.body.assistant.phoneNumberIds).toEqual([na[0]]);
    expect(await idsOn(x)).toEqual([na[1]]);
    expect(await idsOn(y)).toEqual([na[0]]);
    expect((await numberOf(na[0]!)).assistantId).toBe(y);

    // The number is on exactly one assistant.
    const list = await t.api.get('/api/assistants').set(a.auth).expect(200);
    const holders = (list.body.assistants as Array<{ id: string; phoneNumberIds: string[] }>).filter((s) => s.phoneNumberIds.includes(na[0]!));
    expect(holders.map((h) => h.id)).toEqual([y]);

    await assign(x, a, []).expect(200);
    await assign(y, a, []).expect(200);
  });
});

describe('isolation', () => {
  it('an accountSlug of another team is 404 and changes nothing', async () => {
    const x = await newAssistant(a, 'iso-slug');
    await assign(x, a, [na[0]]).expect(200);
    expectError(await assign(x, a, [], b.slug), 404, 'NOT_FOUND');
    expectError(await assign(x, a, [na[1]], 'no-such-team'), 404, 'NOT_FOUND');
    expect(await idsOn(x)).toEqual([na[0]]);
    // The admin naming the wrong team for this assistant is 404 too.
    const admin = await t.api
      .patch(`/api/assistants/${x}/telephony/phone-numbers`)
      .set(t.admin)
      .send({ accountSlug: b.slug, phoneNumberIds: [nb] });
    expectError(admin, 404, 'NOT_FOUND');
    expect(await idsOn(x)).toEqual([na[0]]);
    expect((await numberOf(nb, b)).assistantId).toBeNull();
    await assign(x, a, []).expect(200);
  });

  it("another team's assistant is 404", async () => {
    const theirs = await newAssistant(b, 'iso-theirs');
    expectError(await assign(theirs, a, [na[0]]), 404, 'NOT_FOUND');
    expectError(await assign(theirs, a, [], b.slug), 404, 'NOT_FOUND');
    expect(await idsOn(theirs, b)).toEqual([]);
    expect((await numberOf(na[0]!)).assistantId).toBeNull();
  });

  it('a number of another team is 404 and nothing changes (atomic)', async () => {
    const x = await newAssistant(a, 'iso-number');
    // Starting state: x holds na[1]; na[0] is unassigned.
    await assign(x, a, [na[1]]).expect(200);

    const res = await assign(x, a, [na[0], nb]);
    expectError(res, 404, 'NOT_FOUND');
    expect(res.body.error.message).toContain(nb);
    expect(res.body.error.message).not.toContain(na[0]);

    expect(await numberOf(na[0]!)).toMatchObject({ assistantId: null, status: 'active' });
    expect((await numberOf(na[1]!)).assistantId).toBe(x);
    expect(await idsOn(x)).toEqual([na[1]]);
    expect((await numberOf(nb, b)).assistantId).toBeNull();

    // An id that exists nowhere is the same 404.
    expectError(await assign(x, a, [na[0], 'no-such-number']), 404, 'NOT_FOUND');
    expect(await idsOn(x)).toEqual([na[1]]);
    await assign(x, a, []).expect(200);
  });
});

describe('numbers that are not active', () => {
  it('a released number is 409 NUMBER_NOT_ACTIVE and nothing changes', async () => {
    const team = await createTeam(t, 'assign-released', 'starter');
    const [e1, e2] = await availableNumbers(t, 'US', 2, { areaCode: '617' });
    const live = await buyActive(t, team, e1!);
    const gone = await buyActive(t, team, e2!);
    const x = await newAssistant(team, 'released');
    await t.api.delete(`/api/phone-numbers/${gone}`).set(team.auth).expect(200);
    expect((await numberOf(gone, team)).status).toBe('released');

    const res = await assign(x, team, [live, gone]);
    expectError(res, 409, 'NUMBER_NOT_ACTIVE');
    expect(res.body.error.message).toContain(gone);
    expect(await numberOf(live, team)).toMatchObject({ assistantId: null, status: 'active' });
    expect(await numberOf(gone, team)).toMatchObject({ assistantId: null, status: 'released' });
    expect(await idsOn(x, team)).toEqual([]);
  });

  it('a suspended number is 409 NUMBER_NOT_ACTIVE', async () => {
    const team = await createTeam(t, 'assign-suspended', 'starter');
    const [e1] = await availableNumbers(t, 'US', 1, { areaCode: '305' });
    const n = await buyActive(t, team, e1!);
    const x = await newAssistant(team, 'suspended');
    await t.api.patch(`/api/phone-numbers/${n}`).set(t.admin).send({ status: 'suspended' }).expect(200);
    expectError(await assign(x, team, [n]), 409, 'NUMBER_NOT_ACTIVE');
    expect(await numberOf(n, team)).toMatchObject({ assistantId: null, status: 'suspended' });
  });

  // Needs a purchase that stays `purchasing`: the simulated carrier's timer.
  it.skipIf(!ON_SIM)('a number still purchasing is 409 NUMBER_NOT_ACTIVE and nothing changes', async () => {
    const slow = await startGateway({ env: { SIM_PROVISION_MS: '100000' } });
    try {
      const team = await createTeam(slow, 'assign-purchasing', 'starter');
      const [e1] = await availableNumbers(slow, 'US', 1, { areaCode: '415' });
      const bought = await slow.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e1 }).expect(201);
      const id = bought.body.phoneNumber.id as string;
      expect(bought.body.phoneNumber.status).toBe('purchasing');
      const x = await newAssistant(team, 'purchasing', slow);

      const res = await assign(x, team, [id], team.slug, slow);
      expectError(res, 409, 'NUMBER_NOT_ACTIVE');
      expect(res.body.error.message).toContain(id);
      expect(await numberOf(id, team, slow)).toMatchObject({ assistantId: null, status: 'purchasing' });
      expect(await idsOn(x, team, slow)).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});

describe('bad bodies', () => {
  it('phoneNumberIds must be an array of ids and accountSlug is required (400 naming the field)', async () => {
    const x = await newAssistant(a, 'bad-body');
    const notArray = await assign(x, a, na[0]);
    expectError(notArray, 400, 'INVALID_REQUEST');
    expect(notArray.body.error.message).toMatch(/phoneNumberIds/);
    const numbers = await assign(x, a, [1, 2]);
    expectError(numbers, 400, 'INVALID_REQUEST');
    expect(numbers.body.error.message).toMatch(/phoneNumberIds/);
    const noSlug = await t.api.patch(`/api/assistants/${x}/telephony/phone-numbers`).set(a.auth).send({ phoneNumberIds: [] });
    expectError(noSlug, 400, 'INVALID_REQUEST');
    expect(noSlug.body.error.message).toMatch(/accountSlug/);
    expect(await idsOn(x)).toEqual([]);
  });

  it('an unknown assistant is 404', async () => {
    expectError(await assign('no-such-assistant', a, [na[0]]), 404, 'NOT_FOUND');
    expect((await numberOf(na[0]!)).assistantId).toBeNull();
  });
});
