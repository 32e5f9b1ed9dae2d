// A number's life after purchase (api.md section 3, "List, read, release" and
// "Statuses"): release, admin suspend/reactivate, trial expiry (also when the
// process was down at the moment of expiry). Real SQLite file, ManualClock.
import { ON_SIM, RELEASED_NUMBERS_RETURN } from '../helpers/provider-under-test.js';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  availableNumbers,
  buyActive,
  createTeam,
  eventually,
  expectApiError,
  getNumber,
  numbersHeld,
  offered,
  startGateway,
  type TestGateway,
} from '../helpers/gateway.js';

const DAY = 24 * 60 * 60 * 1000;

type Res = { status: number; body: any };
type Team = { id: string; slug: string; auth: Record<string, string> };

const expectError = (res: Res, status: number, code: string) => expectApiError(res, status, code, { messageNonEmpty: true });

async function assistantWith(t: TestGateway, team: Team, ids: string[]): Promise<string> {
  const a = await t.api
    .post('/api/assistants')
    .set(team.auth)
    .send({ teamId: team.id, name: 'Reception', mediaUrl: 'wss://agent.example.com/stream' })
    .expect(201);
  const id = a.body.assistant.id as string;
  const r = await t.api.patch(`/api/assistants/${id}/telephony/phone-numbers`).set(team.auth).send({ accountSlug: team.slug, phoneNumberIds: ids });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.assistant.phoneNumberIds).toEqual(ids);
  return id;
}

async function phoneNumberIdsOf(t: TestGateway, team: Team, assistantId: string): Promise<string[]> {
  return (await t.api.get(`/api/assistants/${assistantId}`).set(team.auth).expect(200)).body.assistant.phoneNumberIds;
}

describe('release and suspend', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('DELETE releases: unassigned, back in search, buyable by another team, not counted; DELETE again is still 200', async () => {
    const a = await createTeam(t, 'rel-a', 'free');
    const b = await createTeam(t, 'rel-b', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '617' });
    const id = await buyActive(t, a, e164!);
    const asst = await assistantWith(t, a, [id]);
    expect(await offered(t, e164!)).toBe(false);
    expect(await numbersHeld(t, a)).toBe(1);

    const del = await t.api.delete(`/api/phone-numbers/${id}`).set(a.auth);
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.phoneNumber).toMatchObject({ id, phoneNumber: e164, status: 'released', assistantId: null });
    expect(await phoneNumberIdsOf(t, a, asst)).toEqual([]);
    expect(await offered(t, e164!)).toBe(RELEASED_NUMBERS_RETURN);
    expect(await numbersHeld(t, a)).toBe(0);
    expect(await getNumber(t, a, id)).toMatchObject({ status: 'released', assistantId: null });

    // The free team may buy again at once: the released number does not count.
    const [next] = await availableNumbers(t, 'US', 1, { areaCode: '619' });
    const again = await t.api.post('/api/phone-numbers/purchase').set(a.auth).send({ phoneNumber: next, teamId: a.id });
    expect(again.status, JSON.stringify(again.body)).toBe(201);

    // Another team buys the released number; it is a new number record for
    // them. (Twilio keeps a released number a while: team b takes another.)
    const bid = await buyActive(t, b, RELEASED_NUMBERS_RETURN ? e164! : (await availableNumbers(t, 'US', 1, { areaCode: '617' }))[0]!);
    expect(bid).not.toBe(id);
    expect(await getNumber(t, b, bid)).toMatchObject({ ...(RELEASED_NUMBERS_RETURN ? { phoneNumber: e164 } : {}), teamId: b.id, status: 'active' });
    expect(await getNumber(t, a, id)).toMatchObject({ status: 'released' });
    expect(await offered(t, e164!)).toBe(false);

    // Releasing again is idempotent and does not touch team b's number.
    const again2 = await t.api.delete(`/api/phone-numbers/${id}`).set(a.auth);
    expect(again2.status).toBe(200);
    expect(again2.body.phoneNumber).toMatchObject({ id, status: 'released' });
    expect(await getNumber(t, b, bid)).toMatchObject({ status: 'active' });
    expect(await numbersHeld(t, b)).toBe(1);
  });

  it('admin suspends and reactivates; a team token may not; a suspended number keeps its assistant', async () => {
    const team = await createTeam(t, 'susp', 'starter');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '702' });
    const id = await buyActive(t, team, e164!);
    const asst = await assistantWith(t, team, [id]);

    expectError(await t.api.patch(`/api/phone-numbers/${id}`).set(team.auth).send({ status: 'suspended' }), 403, 'FORBIDDEN');
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });

    const s = await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'suspended' });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.phoneNumber).toMatchObject({ id, status: 'suspended', assistantId: asst });
    expect(await phoneNumberIdsOf(t, team, asst)).toEqual([id]);
    // Suspended still counts against the plan and is not offered.
    expect(await numbersHeld(t, team)).toBe(1);
    expect(await offered(t, e164!)).toBe(false);
    // Suspending twice is harmless.
    expect((await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'suspended' })).body.phoneNumber.status).toBe('suspended');
    // A suspended number cannot be newly assigned.
    const other = await t.api
      .post('/api/assistants')
      .set(team.auth)
      .send({ teamId: team.id, name: 'Other', mediaUrl: 'wss://agent.example.com/other' })
      .expect(201);
    expectError(
      await t.api
        .patch(`/api/assistants/${other.body.assistant.id}/telephony/phone-numbers`)
        .set(team.auth)
        .send({ accountSlug: team.slug, phoneNumberIds: [id] }),
      409,
      'NUMBER_NOT_ACTIVE',
    );
    expectError(await t.api.patch(`/api/phone-numbers/${id}`).set(team.auth).send({ status: 'active' }), 403, 'FORBIDDEN');

    const r = await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'active' });
    expect(r.status).toBe(200);
    expect(r.body.phoneNumber).toMatchObject({ status: 'active', assistantId: asst });
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'active', assistantId: asst });

    // suspended → released is the operator's call (a team gets 409
    // NUMBER_SUSPENDED, see suspension.test.ts); released → suspended is not allowed.
    await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'suspended' }).expect(200);
    expectError(await t.api.delete(`/api/phone-numbers/${id}`).set(team.auth), 409, 'NUMBER_SUSPENDED');
    const del = await t.api.delete(`/api/phone-numbers/${id}`).set(t.admin).expect(200);
    expect(del.body.phoneNumber).toMatchObject({ status: 'released', assistantId: null });
    expectError(await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'suspended' }), 409, 'INVALID_STATUS_TRANSITION');
    expectError(await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'active' }), 409, 'INVALID_STATUS_TRANSITION');
    expect(await getNumber(t, team, id)).toMatchObject({ status: 'released' });
  });

  // Needs a purchase that stays `purchasing`: the simulated carrier's timer.
  it.skipIf(!ON_SIM)('a purchasing number cannot be suspended (409 INVALID_STATUS_TRANSITION)', async () => {
    const slow = await startGateway({ env: { SIM_PROVISION_MS: '600000' } });
    try {
      const team = await createTeam(slow, 'slow-susp', 'starter');
      const [e164] = await availableNumbers(slow, 'US', 1, { areaCode: '713' });
      const p = await slow.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e164, teamId: team.id }).expect(201);
      const id = p.body.phoneNumber.id as string;
      expectError(await slow.api.patch(`/api/phone-numbers/${id}`).set(slow.admin).send({ status: 'suspended' }), 409, 'INVALID_STATUS_TRANSITION');
      expectError(await slow.api.patch(`/api/phone-numbers/${id}`).set(slow.admin).send({ status: 'active' }), 409, 'INVALID_STATUS_TRANSITION');
      expect(await getNumber(slow, team, id)).toMatchObject({ status: 'purchasing' });
    } finally {
      await slow.close();
    }
  });
});

describe('trial expiry', () => {
  it('releases the trial number 5 days after purchase, not 4', async () => {
    const clock = new ManualClock(Date.parse('2026-02-01T09:00:00Z'));
    const t = await startGateway({ clock });
    try {
      const team = await createTeam(t, 'trial', 'free');
      const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '305' });
      const id = await buyActive(t, team, e164!);
      const asst = await assistantWith(t, team, [id]);

      clock.advance(4 * DAY);
      expect(await t.gw.services.sweeper.sweep()).toMatchObject({ expired: 0 });
      expect(await getNumber(t, team, id)).toMatchObject({ status: 'active', assistantId: asst });
      expect(await offered(t, e164!)).toBe(false);

      clock.advance(DAY - 1);
      expect(await t.gw.services.sweeper.sweep()).toMatchObject({ expired: 0 });
      expect(await getNumber(t, team, id)).toMatchObject({ status: 'active' });

      clock.advance(1); // exactly purchase time + 5 days
      expect(await t.gw.services.sweeper.sweep()).toMatchObject({ expired: 1 });
      expect(await getNumber(t, team, id)).toMatchObject({ status: 'released', assistantId: null });
      expect(await phoneNumberIdsOf(t, team, asst)).toEqual([]);
      expect(await offered(t, e164!)).toBe(RELEASED_NUMBERS_RETURN);
      expect(await numbersHeld(t, team)).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('the periodic sweeper expires trials by itself', async () => {
    const clock = new ManualClock(Date.parse('2026-02-01T09:00:00Z'));
    const t = await startGateway({ clock, env: { SWITCHBOARD_SWEEP_MS: '50' } });
    try {
      const team = await createTeam(t, 'trial-auto', 'free');
      const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '312' });
      const id = await buyActive(t, team, e164!);
      clock.advance(5 * DAY + 1);
      await eventually(async () => (await getNumber(t, team, id)).status === 'released', 3000);
      expect(await offered(t, e164!)).toBe(RELEASED_NUMBERS_RETURN);
    } finally {
      await t.close();
    }
  });

  it('an expiry missed while the process was down is applied when it starts again', async () => {
    const clock = new ManualClock(Date.parse('2026-02-01T09:00:00Z'));
    const first = await startGateway({ clock, keepDir: true });
    let dir = first.dir;
    try {
      const team = await createTeam(first, 'trial-down', 'free');
      const [e164] = await availableNumbers(first, 'US', 1, { areaCode: '404' });
      const id = await buyActive(first, team, e164!);
      await first.close();

      clock.advance(6 * DAY);
      const second = await startGateway({ clock, dbPath: first.dbPath, keepDir: true });
      dir = second.dir;
      try {
        // No sweep by hand: start() caught up.
        expect(await getNumber(second, team, id)).toMatchObject({ status: 'released', assistantId: null });
        expect(await offered(second, e164!)).toBe(true);
        expect(await numbersHeld(second, team)).toBe(0);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
