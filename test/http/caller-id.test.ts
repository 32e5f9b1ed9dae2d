// POST /api/outbound/caller-id (api.md section 5): which of an assistant's
// numbers a campaign dialer calls from: same country first, then same area
// code, then least recently used; never an unusable number.
import { OUTBOUND_CARRIER } from '../helpers/provider-under-test.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { assertWellFormed, assign, CARRIER_ENV, newAssistant, parseTwiml } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let clock: ManualClock;
let team: Team;
let multi: string;
let de: { id: string; e164: string };
let us212: { id: string; e164: string };
let us415: { id: string; e164: string };

async function buy(country: string, filters: Record<string, unknown> = {}, tm: Team = team, gw: TestGateway = t) {
  const [e164] = await availableNumbers(gw, country, 1, filters);
  return { id: await buyActive(gw, tm, e164!), e164: e164! };
}

const callerId = (assistantId: string, to: unknown, tm: Team = team, gw: TestGateway = t) =>
  gw.api.post('/api/outbound/caller-id').set(tm.auth).send({ assistantId, to });

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  t = await startGateway({ env: { ...CARRIER_ENV }, clock });
  team = await createTeam(t, 'dialer', 'pro');
  multi = await newAssistant(t, team, 'multi');
  de = await buy('DE');
  us212 = await buy('US', { areaCode: '212' });
  us415 = await buy('US', { areaCode: '415' });
  expect(us212.e164.startsWith('+1212')).toBe(true);
  expect(us415.e164.startsWith('+1415')).toBe(true);
  await assign(t, team, multi, [de.id, us212.id, us415.id]);
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any }, status: number, code: string) => expectApiError(res, status, code);

describe('the answer', () => {
  it('has callId, callerId (E.164), phoneNumberId, assistantId and connect TwiML whose token verifies', async () => {
    clock.advance(1000);
    const res = await callerId(multi, '+4930123456');
    expect(res.status, res.text).toBe(200);
    const b = res.body;
    expect(b).toMatchObject({ callerId: de.e164, phoneNumberId: de.id, assistantId: multi });
    expect(b.callerId).toMatch(/^\+[1-9]\d{6,14}$/);
    expect(typeof b.callId).toBe('string');
    expect(b.twiml.startsWith('<?xml')).toBe(true);
    assertWellFormed(b.twiml);
    const tw = parseTwiml(b.twiml);
    expect(b.carrier).toBe(OUTBOUND_CARRIER);
    expect(tw.streamUrl).toBe(`wss://gw.example.com/media/${OUTBOUND_CARRIER}`);
    expect(tw.action).toBe(`https://gw.example.com/carriers/${OUTBOUND_CARRIER}/connect-action`);
    expect(tw.callId).toBe(b.callId);
    expect(t.gw.tokens.verify(b.callId, multi, tw.token)).toBe(true);

    const call = (await t.api.get(`/api/calls/${b.callId}`).set(team.auth).expect(200)).body.call;
    expect(call).toMatchObject({
      id: b.callId,
      teamId: team.id,
      direction: 'outbound',
      from: de.e164,
      to: '+4930123456',
      phoneNumberId: de.id,
      assistantId: multi,
      status: 'routed',
    });
    const list = await t.api.get(`/api/calls?assistantId=${multi}`).set(team.auth).expect(200);
    expect(list.body.calls.find((c: { id: string }) => c.id === b.callId)?.direction).toBe('outbound');
  });

  it('`to` written another way is normalised', async () => {
    clock.advance(1000);
    const res = await callerId(multi, '+1 (415) 555-0123').expect(200);
    expect(res.body.callerId).toBe(us415.e164);
    const call = (await t.api.get(`/api/calls/${res.body.callId}`).set(team.auth).expect(200)).body.call;
    expect(call.to).toBe('+14155550123');
  });
});

describe('choice', () => {
  it('+49… picks the DE number, every time (country beats least recently used)', async () => {
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      expect((await callerId(multi, '+493012345678').expect(200)).body.callerId).toBe(de.e164);
    }
  });

  it('+1415… picks the 415 number (local presence), every time', async () => {
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      expect((await callerId(multi, '+14155550123').expect(200)).body.callerId).toBe(us415.e164);
    }
  });

  it('+1212… picks the 212 number', async () => {
    clock.advance(1000);
    expect((await callerId(multi, '+12125550123').expect(200)).body.callerId).toBe(us212.e164);
  });

  it('+1312… picks a US number, alternating between the two (least recently used)', async () => {
    const picked: string[] = [];
    for (let i = 0; i < 6; i++) {
      clock.advance(1000);
      picked.push((await callerId(multi, '+13125550123').expect(200)).body.callerId);
    }
    for (const p of picked) expect([us212.e164, us415.e164]).toContain(p);
    for (let i = 1; i < picked.length; i++) expect(picked[i], picked.join(' ')).not.toBe(picked[i - 1]);
    // The 212 number was used last before this run, so the 415 one comes first.
    expect(picked[0]).toBe(us415.e164);
  });

  it('alternates even when the clock does not move (several calls in one millisecond)', async () => {
    const picked: string[] = [];
    for (let i = 0; i < 4; i++) picked.push((await callerId(multi, '+13125550123').expect(200)).body.callerId);
    for (let i = 1; i < picked.length; i++) expect(picked[i], picked.join(' ')).not.toBe(picked[i - 1]);
  });

  it('in parallel, the two US numbers share the load evenly', async () => {
    clock.advance(1000);
    const res = await Promise.all(Array.from({ length: 10 }, () => callerId(multi, '+13125550123')));
    const counts = new Map<string, number>();
    for (const r of res) {
      expect(r.status).toBe(200);
      counts.set(r.body.callerId, (counts.get(r.body.callerId) ?? 0) + 1);
    }
    expect(counts.get(us212.e164)).toBe(5);
    expect(counts.get(us415.e164)).toBe(5);
    expect(new Set(res.map((r) => r.body.callId)).size).toBe(10);
  });

  it('a country with no number of its own falls back to any number (here: a Swiss callee)', async () => {
    clock.advance(1000);
    const res = await callerId(multi, '+41445554433').expect(200);
    expect([de.e164, us212.e164, us415.e164]).toContain(res.body.callerId);
  });
});

describe('no usable caller ID → 409 NO_CALLER_ID', () => {
  it('an assistant with no numbers', async () => {
    const a = await newAssistant(t, team, 'empty');
    expectError(await callerId(a, '+14155550123'), 409, 'NO_CALLER_ID');
  });

  it('its only number is suspended (and it works again once reactivated)', async () => {
    const a = await newAssistant(t, team, 'suspended');
    const n = await buy('US');
    await assign(t, team, a, [n.id]);
    await t.api.patch(`/api/phone-numbers/${n.id}`).set(t.admin).send({ status: 'suspended' }).expect(200);
    expectError(await callerId(a, '+14155550123'), 409, 'NO_CALLER_ID');
    await t.api.patch(`/api/phone-numbers/${n.id}`).set(t.admin).send({ status: 'active' }).expect(200);
    expect((await callerId(a, '+14155550123').expect(200)).body.callerId).toBe(n.e164);
  });

  it('its only number was released', async () => {
    const a = await newAssistant(t, team, 'released');
    const n = await buy('US');
    await assign(t, team, a, [n.id]);
    await t.api.delete(`/api/phone-numbers/${n.id}`).set(team.auth).expect(200);
    expectError(await callerId(a, '+14155550123'), 409, 'NO_CALLER_ID');
  });

  it('its only number is an expired trial (before any sweep)', async () => {
    const c = new ManualClock(Date.now());
    const g = await startGateway({ env: { ...CARRIER_ENV }, clock: c });
    try {
      const free = await createTeam(g, 'dialer-free', 'free');
      const a = await newAssistant(g, free, 'trial');
      const n = await buy('US', {}, free, g);
      await assign(g, free, a, [n.id]);
      expect((await callerId(a, '+14155550123', free, g).expect(200)).body.callerId).toBe(n.e164);
      c.advance(5 * 24 * 60 * 60_000);
      expectError(await callerId(a, '+14155550123', free, g), 409, 'NO_CALLER_ID');
      // No outbound call was recorded for the refused request.
      const calls = (await g.api.get('/api/calls').set(free.auth).expect(200)).body.calls;
      expect(calls).toHaveLength(1);
    } finally {
      await g.close();
    }
  });
});

describe('bad requests', () => {
  it("another team's assistant → 404", async () => {
    const other = await createTeam(t, 'dialer-other', 'pro');
    expectError(await callerId(multi, '+14155550123', other), 404, 'NOT_FOUND');
    expectError(await callerId('00000000-0000-0000-0000-000000000000', '+14155550123'), 404, 'NOT_FOUND');
  });

  it.each(['12', 'not a number', '+999', '+1415555012345678'])('invalid `to` %j → 400 INVALID_PHONE_NUMBER', async (to) => {
    const res = await callerId(multi, to);
    expectError(res, 400, 'INVALID_PHONE_NUMBER');
    expect(res.body.error.message).toContain('to');
  });

  it('missing fields → 400 naming them', async () => {
    const r1 = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: multi });
    expect(r1.status).toBe(400);
    expect(r1.body.error.message).toContain('to');
    const r2 = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ to: '+14155550123' });
    expect(r2.status).toBe(400);
    expect(r2.body.error.message).toContain('assistantId');
  });
});
