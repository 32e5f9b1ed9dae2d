// GET /api/audit-events?teamId= : every change to a team's numbers and plan,
// with who did it (admin, team:<id>, system), newest first, cursor paginated,
// isolated per team (another team's is 404), all teams for the admin.
//
// The clock is moved between actions so every event has its own time and the
// expected order is exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TRIAL_MS } from '../../src/domain/plans.js';
import { newAssistant } from '../helpers/carrier.js';
import { availableNumbers, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';

interface Event {
  id: string;
  teamId: string;
  actor: string;
  action: string;
  phoneNumberId: string | null;
  phoneNumber: string | null;
  assistantId: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

let t: TestGateway;
let clock: ManualClock;
let a: Awaited<ReturnType<typeof createTeam>>;
let b: Awaited<ReturnType<typeof createTeam>>;
let n1 = '';
let n1e164 = '';
let n2 = '';
let asstX = '';
let asstY = '';
/** What we did, oldest first: [action, actor, phoneNumberId]. */
const expected: Array<[string, string, string | null]> = [];

const tick = () => clock.advance(1000);

/** Purchases as `who`, and waits for the (system) activation, each at its own time. */
async function purchase(
  team: { id: string; auth: Record<string, string> },
  auth: Record<string, string>,
  actor: string,
): Promise<{ id: string; e164: string }> {
  const [e164] = await availableNumbers(t, 'US', 1);
  tick();
  const res = await t.api.post('/api/phone-numbers/purchase').set(auth).send({ phoneNumber: e164, teamId: team.id }).expect(201);
  const id = res.body.phoneNumber.id as string;
  expected.push(['number.purchase', actor, id]);
  // The simulated carrier activates after SIM_PROVISION_MS (400 ms) of real time; the
  // clock moves first, so the activation is strictly later.
  tick();
  await eventually(async () => (await t.api.get(`/api/phone-numbers/${id}`).set(t.admin)).body.phoneNumber.status === 'active');
  expected.push(['number.activate', 'system', id]);
  return { id, e164: e164! };
}

async function list(query: string, auth: Record<string, string>) {
  return t.api.get(`/api/audit-events${query}`).set(auth);
}

/** Walks every page with `limit` per page. */
async function allPages(teamId: string, limit: number, auth = t.admin): Promise<{ events: Event[]; pages: number }> {
  const events: Event[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await list(`?teamId=${teamId}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, auth);
    expect(res.status, res.text).toBe(200);
    expect(res.body.events.length).toBeLessThanOrEqual(limit);
    events.push(...res.body.events);
    cursor = res.body.nextCursor;
    pages++;
    if (pages > 50) throw new Error('pagination does not end');
  } while (cursor);
  return { events, pages };
}

beforeAll(async () => {
  clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  t = await startGateway({ clock, env: { SIM_PROVISION_MS: '400' } });
  a = await createTeam(t, 'audit-a', 'free');
  b = await createTeam(t, 'audit-b', 'starter');
  const actorA = `team:${a.id}`;

  // purchase (team) + activate (system)
  ({ id: n1, e164: n1e164 } = await purchase(a, a.auth, actorA));
  asstX = await newAssistant(t, a, 'x');
  asstY = await newAssistant(t, a, 'y');

  // assign (team), then reassign (admin)
  tick();
  await t.api
    .patch(`/api/assistants/${asstX}/telephony/phone-numbers`)
    .set(a.auth)
    .send({ accountSlug: a.slug, phoneNumberIds: [n1] })
    .expect(200);
  expected.push(['number.assign', actorA, n1]);
  tick();
  await t.api
    .patch(`/api/assistants/${asstY}/telephony/phone-numbers`)
    .set(t.admin)
    .send({ accountSlug: a.slug, phoneNumberIds: [n1] })
    .expect(200);
  expected.push(['number.reassign', 'admin', n1]);

  // suspend, reactivate (admin only)
  tick();
  await t.api.patch(`/api/phone-numbers/${n1}`).set(t.admin).send({ status: 'suspended' }).expect(200);
  expected.push(['number.suspend', 'admin', n1]);
  tick();
  await t.api.patch(`/api/phone-numbers/${n1}`).set(t.admin).send({ status: 'active' }).expect(200);
  expected.push(['number.reactivate', 'admin', n1]);

  // expiry of the free plan's trial number (system, at the sweep)
  clock.advance(TRIAL_MS + 1000);
  expect((await t.gw.services.sweeper.sweep()).expired).toBe(1);
  expected.push(['number.expire', 'system', n1]);

  // plan change (admin)
  tick();
  await t.api.patch(`/api/teams/${a.id}`).set(t.admin).send({ plan: 'starter' }).expect(200);
  expected.push(['team.plan_change', 'admin', null]);

  // another purchase, then its release (team)
  ({ id: n2 } = await purchase(a, a.auth, actorA));
  tick();
  await t.api.delete(`/api/phone-numbers/${n2}`).set(a.auth).expect(200);
  expected.push(['number.release', actorA, n2]);

  // Team B's own history, bought by the admin.
  await purchase(b, t.admin, 'admin');
}, 30_000);
afterAll(async () => {
  await t?.close();
});

describe('GET /api/audit-events', () => {
  it("lists every change to the team's numbers and plan, newest first, with its actor", async () => {
    const res = await list(`?teamId=${a.id}`, a.auth);
    expect(res.status, res.text).toBe(200);
    // Numbers and plan (token events have their own test: security/tokens.test.ts).
    const events = (res.body.events as Event[]).filter((e) => !e.action.startsWith('token.'));
    const mine = expected.slice(0, -2); // the last two (team B's purchase and activation) are not A's
    expect(events.map((e) => [e.action, e.actor, e.phoneNumberId])).toEqual([...mine].reverse());
    expect(res.body.nextCursor).toBeNull();
    for (const e of events) {
      expect(e.teamId).toBe(a.id);
      expect(e.id).toEqual(expect.any(String));
      expect(new Date(e.createdAt).toISOString()).toBe(e.createdAt);
    }
    const times = events.map((e) => Date.parse(e.createdAt));
    // Newest first; two events of one request (a purchase a provider settles at once) may share a millisecond.
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThanOrEqual(times[i - 1]!);
  });

  it('each kind of action is there: purchase, activate, assign, reassign, release, suspend, reactivate, expiry, plan change', async () => {
    const events = (await list(`?teamId=${a.id}`, t.admin)).body.events as Event[];
    const actions = new Set(events.map((e) => e.action));
    for (const want of [
      'number.purchase',
      'number.activate',
      'number.assign',
      'number.reassign',
      'number.release',
      'number.suspend',
      'number.reactivate',
      'number.expire',
      'team.plan_change',
    ]) {
      expect(actions, want).toContain(want);
    }
    const actors = new Set(events.map((e) => e.actor));
    expect(actors).toEqual(new Set(['admin', `team:${a.id}`, 'system']));
  });

  it('events say what they are about', async () => {
    const events = (await list(`?teamId=${a.id}`, t.admin)).body.events as Event[];
    const by = (action: string) => events.find((e) => e.action === action)!;
    expect(by('number.assign')).toMatchObject({ phoneNumberId: n1, phoneNumber: n1e164, assistantId: asstX });
    expect(by('number.reassign')).toMatchObject({ phoneNumberId: n1, assistantId: asstY, details: { fromAssistantId: asstX } });
    expect(by('team.plan_change')).toMatchObject({ phoneNumberId: null, details: { from: 'free', to: 'starter' } });
    expect(by('number.expire').details).toMatchObject({ expiresAt: expect.any(String) });
    expect(events.find((e) => e.action === 'number.purchase' && e.phoneNumberId === n1)!.details).toMatchObject({ trial: true });
    expect(events.find((e) => e.action === 'number.purchase' && e.phoneNumberId === n2)!.details).toMatchObject({ trial: false });
  });

  it('paginates with a cursor: pages of 3 add up to the whole list, in order, without overlap', async () => {
    const whole = (await list(`?teamId=${a.id}&limit=200`, t.admin)).body.events as Event[];
    // A's number and plan events, and the creation of its first token.
    expect(whole.length).toBe(expected.length - 2 + 1);
    const { events, pages } = await allPages(a.id, 3);
    expect(pages).toBe(Math.ceil(whole.length / 3) + (whole.length % 3 === 0 ? 1 : 0));
    expect(events.map((e) => e.id)).toEqual(whole.map((e) => e.id));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // The team's own token pages the same way.
    expect((await allPages(a.id, 4, a.auth)).events.map((e) => e.id)).toEqual(whole.map((e) => e.id));
  });

  it('a page holds only events older than the cursor, even when several share a time', async () => {
    // Two events at the same instant (assign + unassign in one request).
    const extra = await newAssistant(t, b, 'same-time');
    const { events: bEvents } = await allPages(b.id, 200);
    const bNumber = bEvents.find((e) => e.action === 'number.purchase')!.phoneNumberId!;
    tick();
    await t.api
      .patch(`/api/assistants/${extra}/telephony/phone-numbers`)
      .set(b.auth)
      .send({ accountSlug: b.slug, phoneNumberIds: [bNumber] })
      .expect(200);
    await t.api.delete(`/api/assistants/${extra}`).set(b.auth).expect(204);
    await t.api
      .patch(`/api/assistants/${await newAssistant(t, b, 'other')}/telephony/phone-numbers`)
      .set(b.auth)
      .send({ accountSlug: b.slug, phoneNumberIds: [bNumber] })
      .expect(200);
    const whole = (await list(`?teamId=${b.id}`, t.admin)).body.events as Event[];
    const paged = (await allPages(b.id, 1)).events;
    expect(paged.map((e) => e.id)).toEqual(whole.map((e) => e.id));
  });

  it('a cursor it did not issue is 400; a bad limit is 400', async () => {
    for (const q of ['cursor=nonsense', `cursor=${Buffer.from('x:y').toString('base64url')}`, 'limit=0', 'limit=201', 'limit=abc']) {
      const res = await list(`?teamId=${a.id}&${q}`, t.admin);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
  });

  it("is isolated per team: another team's events are 404; without teamId a team sees only its own", async () => {
    const other = await list(`?teamId=${a.id}`, b.auth);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('NOT_FOUND');
    expect(JSON.stringify(other.body)).not.toContain(n1);
    const own = (await list('', b.auth)).body.events as Event[];
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((e) => e.teamId === b.id)).toBe(true);
    const ownA = (await list('', a.auth)).body.events as Event[];
    expect(ownA.every((e) => e.teamId === a.id)).toBe(true);
    // An unknown team is 404 for the admin too.
    expect((await list('?teamId=no-such-team', t.admin)).status).toBe(404);
  });

  it('the admin sees every team without teamId, still newest first', async () => {
    const all = (await list('?limit=200', t.admin)).body.events as Event[];
    const teams = new Set(all.map((e) => e.teamId));
    expect(teams).toEqual(new Set([a.id, b.id]));
    const aCount = ((await list(`?teamId=${a.id}&limit=200`, t.admin)).body.events as Event[]).length;
    const bCount = ((await list(`?teamId=${b.id}&limit=200`, t.admin)).body.events as Event[]).length;
    expect(all.length).toBe(aCount + bCount);
    const times = all.map((e) => Date.parse(e.createdAt));
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThanOrEqual(times[i - 1]!);
  });

  it('needs a token', async () => {
    expect((await t.api.get(`/api/audit-events?teamId=${a.id}`)).status).toBe(401);
  });
});
