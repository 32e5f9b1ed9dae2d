// GET /api/calls and /api/calls/:id (api.md section 5, Calls): newest first,
// keyset cursor pagination, filters, team isolation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { assign, CARRIER_ENV, callSid, newAssistant, parseTwiml, twilioStatus, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { ADMIN_TOKEN, availableNumbers, bearer, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let clock: ManualClock;
let t1: Team;
let t2: Team;
let a1: string;
let a2: string;
let n1: { id: string; e164: string };
let n2: { id: string; e164: string };
let other: { team: Team; assistant: string; num: { id: string; e164: string } };
/** Team 1's seven calls, oldest first: [callId, sid]. */
const mine: Array<{ id: string; sid: string }> = [];
let otherCall: string;
let noRouteCall: string;

async function call(to: string): Promise<{ id: string; sid: string }> {
  const sid = callSid();
  const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: to }));
  expect(res.status, res.text).toBe(200);
  clock.advance(1000);
  const tw = parseTwiml(res.text);
  if (tw.callId) return { id: tw.callId, sid };
  const row = (await t.sql.get('SELECT id FROM calls WHERE carrier_call_id = ?', sid)) as { id: string };
  return { id: row.id, sid };
}

beforeAll(async () => {
  clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  t = await startGateway({ env: { ...CARRIER_ENV }, clock });
  t1 = await createTeam(t, 'calls-one', 'pro');
  t2 = await createTeam(t, 'calls-two', 'pro');
  a1 = await newAssistant(t, t1, 'a1');
  a2 = await newAssistant(t, t1, 'a2');
  const nums = await availableNumbers(t, 'US', 3);
  n1 = { id: await buyActive(t, t1, nums[0]!), e164: nums[0]! };
  n2 = { id: await buyActive(t, t1, nums[1]!), e164: nums[1]! };
  await assign(t, t1, a1, [n1.id]);
  await assign(t, t1, a2, [n2.id]);
  const oa = await newAssistant(t, t2, 'other');
  const on = { id: await buyActive(t, t2, nums[2]!), e164: nums[2]! };
  await assign(t, t2, oa, [on.id]);
  other = { team: t2, assistant: oa, num: on };

  // Seven calls for team 1: a1 gets 0, 2, 4, 6; a2 gets 1, 3, 5. Interleaved with others' calls.
  for (let i = 0; i < 7; i++) {
    mine.push(await call(i % 2 === 0 ? n1.e164 : n2.e164));
    if (i === 2) otherCall = (await call(on.e164)).id;
    if (i === 4) noRouteCall = (await call('+14155559999')).id;
  }
  // Two of them complete.
  for (const i of [1, 4]) {
    const r = await twilioStatus(t, { CallSid: mine[i]!.sid, CallStatus: 'completed', CallDuration: '10' });
    expect(r.status).toBeLessThan(300);
  }
});
afterAll(async () => {
  await t?.close();
});

const ids = (body: { calls: Array<{ id: string }> }) => body.calls.map((c) => c.id);
const newestFirst = (xs: Array<{ id: string }>) => [...xs].reverse().map((x) => x.id);

describe('listing', () => {
  it('newest first', async () => {
    const res = await t.api.get(`/api/calls?teamId=${t1.id}`).set(t1.auth).expect(200);
    expect(ids(res.body)).toEqual(newestFirst(mine));
    expect(res.body.nextCursor).toBeNull();
    const times = res.body.calls.map((c: { createdAt: string }) => Date.parse(c.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(res.body.calls[0]).toMatchObject({ teamId: t1.id, direction: 'inbound', carrier: 'twilio' });
  });

  it('a team token without teamId lists its own team only', async () => {
    const res = await t.api.get('/api/calls').set(t1.auth).expect(200);
    expect(ids(res.body)).toEqual(newestFirst(mine));
  });

  it('limit 3 → three pages (3, 3, 1), no duplicates, nextCursor null at the end', async () => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/calls?teamId=${t1.id}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.api.get(q).set(t1.auth).expect(200);
      pages.push(ids(res.body));
      cursor = res.body.nextCursor;
      expect(pages.length).toBeLessThan(10);
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(newestFirst(mine));
    expect(new Set(pages.flat()).size).toBe(7);
  });

  it('a call arriving between pages neither duplicates nor shifts the next page', async () => {
    const g = await startGateway({ env: { ...CARRIER_ENV }, clock: new ManualClock(Date.parse('2026-03-02T00:00:00Z')) });
    try {
      const gc = g.clock as ManualClock;
      const tm = await createTeam(g, 'calls-live', 'pro');
      const a = await newAssistant(g, tm);
      const [e164] = await availableNumbers(g, 'US', 1);
      await assign(g, tm, a, [await buyActive(g, tm, e164!)]);
      const made: string[] = [];
      const place = async () => {
        const tw = parseTwiml((await twilioVoice(g, voiceParams({ To: e164! }))).text);
        gc.advance(1000);
        made.push(tw.callId!);
      };
      for (let i = 0; i < 4; i++) await place();
      const p1 = await g.api.get('/api/calls?limit=2').set(tm.auth).expect(200);
      await place();
      const p2 = await g.api.get(`/api/calls?limit=2&cursor=${p1.body.nextCursor}`).set(tm.auth).expect(200);
      expect([...ids(p1.body), ...ids(p2.body)]).toEqual([made[3], made[2], made[1], made[0]]);
    } finally {
      await g.close();
    }
  });

  it('filters: assistantId, phoneNumberId, status, and combined', async () => {
    const byA1 = await t.api.get(`/api/calls?assistantId=${a1}`).set(t1.auth).expect(200);
    expect(ids(byA1.body)).toEqual(newestFirst(mine.filter((_, i) => i % 2 === 0)));
    const byN2 = await t.api.get(`/api/calls?phoneNumberId=${n2.id}`).set(t1.auth).expect(200);
    expect(ids(byN2.body)).toEqual(newestFirst(mine.filter((_, i) => i % 2 === 1)));
    const completed = await t.api.get(`/api/calls?teamId=${t1.id}&status=completed`).set(t1.auth).expect(200);
    expect(ids(completed.body)).toEqual([mine[4]!.id, mine[1]!.id]);
    for (const c of completed.body.calls) expect(c).toMatchObject({ status: 'completed', durationSec: 10 });
    const routed = await t.api.get(`/api/calls?teamId=${t1.id}&status=routed`).set(t1.auth).expect(200);
    expect(ids(routed.body)).toEqual(newestFirst(mine.filter((_, i) => i !== 1 && i !== 4)));
    const both = await t.api.get(`/api/calls?assistantId=${a1}&status=completed`).set(t1.auth).expect(200);
    expect(ids(both.body)).toEqual([mine[4]!.id]);
    const none = await t.api.get(`/api/calls?assistantId=${a1}&phoneNumberId=${n2.id}`).set(t1.auth).expect(200);
    expect(none.body).toEqual({ calls: [], nextCursor: null });
  });

  it('filters with pagination', async () => {
    const p1 = await t.api.get(`/api/calls?assistantId=${a1}&limit=3`).set(t1.auth).expect(200);
    expect(p1.body.calls).toHaveLength(3);
    const p2 = await t.api.get(`/api/calls?assistantId=${a1}&limit=3&cursor=${p1.body.nextCursor}`).set(t1.auth).expect(200);
    expect([...ids(p1.body), ...ids(p2.body)]).toEqual(newestFirst(mine.filter((_, i) => i % 2 === 0)));
    expect(p2.body.nextCursor).toBeNull();
  });

  it('bad query: invalid cursor → 400 naming cursor; bad status/limit → 400', async () => {
    for (const c of ['garbage', 'bm90LWEtY3Vyc29y', '', '%00']) {
      const res = await t.api.get(`/api/calls?cursor=${c}`).set(t1.auth);
      if (c === '') continue; // an empty cursor may reasonably mean "from the start"
      expect(res.status, `${c}: ${res.text}`).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
      expect(res.body.error.message).toContain('cursor');
    }
    const s = await t.api.get('/api/calls?status=ringing').set(t1.auth);
    expect(s.status).toBe(400);
    expect(s.body.error.message).toContain('status');
    expect((await t.api.get('/api/calls?limit=0').set(t1.auth)).status).toBe(400);
    expect((await t.api.get('/api/calls?limit=abc').set(t1.auth)).status).toBe(400);
  });

  it('needs a bearer token', async () => {
    expect((await t.api.get('/api/calls')).status).toBe(401);
    expect((await t.api.get(`/api/calls/${mine[0]!.id}`)).status).toBe(401);
  });
});

describe('team isolation', () => {
  it("another team's call → 404 (never 403), and absent from this team's listing", async () => {
    const res = await t.api.get(`/api/calls/${otherCall}`).set(t1.auth);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    const list = await t.api.get('/api/calls?limit=200').set(t1.auth).expect(200);
    expect(ids(list.body)).not.toContain(otherCall);
    // Its own team sees it.
    const own = await t.api.get(`/api/calls/${otherCall}`).set(other.team.auth).expect(200);
    expect(own.body.call).toMatchObject({ id: otherCall, teamId: t2.id, assistantId: other.assistant, phoneNumberId: other.num.id });
  });

  it("listing another team's calls → 404, exactly as for a team that does not exist", async () => {
    for (const q of [`teamId=${t2.id}`, 'teamId=no-such-team']) {
      const res = await t.api.get(`/api/calls?${q}`).set(t1.auth);
      expect(res.status, q).toBe(404);
      expect(res.body, q).toEqual({ error: { code: 'NOT_FOUND', message: 'Team not found.' } });
    }
  });

  it("filtering by another team's assistant or number answers exactly as for an id that never existed: 200 []", async () => {
    // No existence oracle: the two answers are byte for byte the same.
    for (const [name, theirs] of [
      ['assistantId', other.assistant],
      ['phoneNumberId', other.num.id],
    ] as const) {
      const foreign = await t.api.get(`/api/calls?${name}=${theirs}`).set(t1.auth);
      const unknown = await t.api.get(`/api/calls?${name}=00000000-0000-4000-8000-000000000000`).set(t1.auth);
      expect(foreign.status, name).toBe(200);
      expect(foreign.text, name).toBe(unknown.text);
      expect(foreign.body).toEqual({ calls: [], nextCursor: null });
    }
    // The phone-number listing's assistant filter likewise.
    const foreign = await t.api.get(`/api/phone-numbers?assistantId=${other.assistant}`).set(t1.auth);
    const unknown = await t.api.get('/api/phone-numbers?assistantId=00000000-0000-4000-8000-000000000000').set(t1.auth);
    expect(foreign.status).toBe(200);
    expect(foreign.text).toBe(unknown.text);
    expect(foreign.body).toEqual({ phoneNumbers: [] });
    // Their own team sees their calls through the same filters.
    const own = await t.api.get(`/api/calls?assistantId=${other.assistant}`).set(other.team.auth).expect(200);
    expect(ids(own.body)).toContain(otherCall);
  });

  it('no_route calls (no team) are visible to the admin only', async () => {
    const admin = await t.api.get(`/api/calls/${noRouteCall}`).set(bearer(ADMIN_TOKEN)).expect(200);
    expect(admin.body.call).toMatchObject({ teamId: null, status: 'rejected', reason: 'no_route', assistantId: null, phoneNumberId: null });
    expect((await t.api.get(`/api/calls/${noRouteCall}`).set(t1.auth)).status).toBe(404);
    expect((await t.api.get(`/api/calls/${noRouteCall}`).set(t2.auth)).status).toBe(404);
    const all = await t.api.get('/api/calls?limit=200').set(t.admin).expect(200);
    expect(ids(all.body)).toContain(noRouteCall);
    expect(ids(all.body)).toContain(otherCall);
    expect(all.body.calls).toHaveLength(9);
    for (const tm of [t1, t2]) {
      const l = await t.api.get('/api/calls?limit=200').set(tm.auth).expect(200);
      expect(ids(l.body)).not.toContain(noRouteCall);
    }
  });

  it('an unknown call id → 404', async () => {
    expect((await t.api.get('/api/calls/00000000-0000-0000-0000-000000000000').set(t.admin)).status).toBe(404);
  });
});
