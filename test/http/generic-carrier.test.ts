// POST /carriers/generic/inbound (api.md section 4, Generic JSON endpoint):
// X-Switchboard-Signature t=,v2= over "<t>.<path>.<raw body>", a 300 s window,
// connect / reject answers, input errors, retries.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { assign, CARRIER_ENV, callSid, countCalls, GENERIC_SECRET, genericInbound, newAssistant, PUBLIC_URL } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let clock: ManualClock;
let team: Team;
let assistant: string;
let num: { id: string; e164: string };

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  t = await startGateway({ env: { ...CARRIER_ENV }, clock });
  team = await createTeam(t, 'generic', 'pro');
  assistant = await newAssistant(t, team);
  const [e164] = await availableNumbers(t, 'US', 1);
  num = { id: await buyActive(t, team, e164!), e164: e164! };
  await assign(t, team, assistant, [num.id]);
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true });

/** HMAC-SHA256 hex over "<t>.<path>.<body>", written out here independently of src/. */
const hmac = (secret: string, ts: number, body: string, path = '/carriers/generic/inbound') =>
  createHmac('sha256', secret).update(`${ts}.${path}.${body}`).digest('hex');
const nowS = () => Math.floor(clock.now() / 1000);
const cid = () => `sip-${callSid()}`;

describe('connect', () => {
  it('answers { action: connect, callId, assistantId, mediaUrl } with a token that verifies', async () => {
    const carrierCallId = cid();
    const res = await genericInbound(t, { callId: carrierCallId, from: '+12025550143', to: num.e164 });
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ action: 'connect', assistantId: assistant });
    const { callId, mediaUrl } = res.body;
    expect(typeof callId).toBe('string');
    expect(callId).not.toBe(carrierCallId);
    const u = new URL(mediaUrl);
    expect(mediaUrl.startsWith(`wss://gw.example.com/media/generic/${callId}?token=`)).toBe(true);
    expect(u.protocol).toBe('wss:');
    expect(u.host).toBe(new URL(PUBLIC_URL).host);
    expect(u.pathname).toBe(`/media/generic/${callId}`);
    expect(t.gw.tokens.verify(callId, assistant, u.searchParams.get('token'))).toBe(true);

    const call = (await t.api.get(`/api/calls/${callId}`).set(team.auth).expect(200)).body.call;
    expect(call).toMatchObject({
      carrier: 'generic',
      carrierCallId,
      direction: 'inbound',
      assistantId: assistant,
      phoneNumberId: num.id,
      status: 'routed',
      to: num.e164,
    });
  });

  it('a signature written by hand (independent of src) is accepted, and `to` may be a sip: URI', async () => {
    const body = JSON.stringify({ callId: cid(), from: 'sip:alice@example.com', to: `sip:${num.e164}@gw.example.com;user=phone` });
    const ts = nowS();
    const res = await t.api
      .post('/carriers/generic/inbound')
      .set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': `t=${ts},v2=${hmac(GENERIC_SECRET, ts, body)}` })
      .send(body);
    expect(res.status, res.text).toBe(200);
    expect(res.body.action).toBe('connect');
    expect(res.body.assistantId).toBe(assistant);
  });

  it('mediaUrl uses ws:// when the public URL is http', async () => {
    const c2 = new ManualClock(Date.now());
    const h = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_PUBLIC_URL: 'http://gw.local:9000' }, clock: c2 });
    try {
      const tm = await createTeam(h, 'generic-http', 'pro');
      const a = await newAssistant(h, tm);
      const [e164] = await availableNumbers(h, 'US', 1);
      await assign(h, tm, a, [await buyActive(h, tm, e164!)]);
      const res = await genericInbound(h, { callId: cid(), from: '+12025550143', to: e164 }).expect(200);
      expect(res.body.mediaUrl.startsWith(`ws://gw.local:9000/media/generic/${res.body.callId}?token=`)).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('reject', () => {
  it('a number nobody holds → { action: reject, reason: no_route }, recorded', async () => {
    const carrierCallId = cid();
    const res = await genericInbound(t, { callId: carrierCallId, from: '+12025550143', to: '+14155559999' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ action: 'reject', reason: 'no_route' });
    expect(res.body.mediaUrl).toBeUndefined();
    const row = await t.sql.get('SELECT status, reason FROM calls WHERE carrier_call_id = ?', carrierCallId);
    expect(row).toEqual({ status: 'rejected', reason: 'no_route' });
  });

  it('a call with no `from` (anonymous caller) is routed and recorded with an empty from', async () => {
    const carrierCallId = cid();
    const res = await genericInbound(t, { callId: carrierCallId, to: '+14155559998' });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ action: 'reject', reason: 'no_route' });
    const row = await t.sql.get('SELECT from_number FROM calls WHERE carrier_call_id = ?', carrierCallId);
    expect(row).toEqual({ from_number: '' });
  });

  it('an unassigned number → reason unassigned', async () => {
    const [e164] = await availableNumbers(t, 'US', 1);
    await buyActive(t, team, e164!);
    const res = await genericInbound(t, { callId: cid(), from: '+12025550143', to: e164 }).expect(200);
    expect(res.body).toMatchObject({ action: 'reject', reason: 'unassigned' });
  });
});

describe('signature', () => {
  const body = () => JSON.stringify({ callId: cid(), from: '+12025550143', to: num.e164 });
  const post = (raw: string, sig: string | undefined) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (sig !== undefined) headers['X-Switchboard-Signature'] = sig;
    return t.api.post('/carriers/generic/inbound').set(headers).send(raw);
  };

  it.each([
    ['301 s in the past', -301],
    ['301 s in the future', 301],
    ['an hour in the past', -3600],
  ])('a timestamp %s → 403, no call record', async (_n, offset) => {
    const before = await countCalls(t);
    const raw = body();
    const ts = nowS() + offset;
    expectError(await post(raw, `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw)}`), 403, 'INVALID_SIGNATURE');
    expect(await countCalls(t)).toBe(before);
  });

  it.each([-299, 299])('a timestamp %i s off is still inside the window → 200', async (offset) => {
    const raw = body();
    const ts = nowS() + offset;
    const res = await post(raw, `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw)}`);
    expect(res.status, res.text).toBe(200);
  });

  it('the window follows the gateway clock', async () => {
    const raw = body();
    const ts = nowS();
    const sig = `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw)}`;
    clock.advance(400_000);
    try {
      expectError(await post(raw, sig), 403, 'INVALID_SIGNATURE');
    } finally {
      clock.advance(-400_000);
    }
    expect((await post(raw, sig)).status).toBe(200);
  });

  it('wrong secret → 403; missing header → 403; garbage header → 403', async () => {
    const before = await countCalls(t);
    const raw = body();
    const ts = nowS();
    expectError(await post(raw, `t=${ts},v2=${hmac('another-secret', ts, raw)}`), 403, 'INVALID_SIGNATURE');
    expectError(await post(raw, undefined), 403, 'INVALID_SIGNATURE');
    expectError(await post(raw, 'garbage'), 403, 'INVALID_SIGNATURE');
    expectError(await post(raw, `v2=${hmac(GENERIC_SECRET, ts, raw)}`), 403, 'INVALID_SIGNATURE');
    expectError(await post(raw, `t=${ts}`), 403, 'INVALID_SIGNATURE');
    // Signed with another t than the one in the header.
    expectError(await post(raw, `t=${ts - 1},v2=${hmac(GENERIC_SECRET, ts, raw)}`), 403, 'INVALID_SIGNATURE');
    expect(await countCalls(t)).toBe(before);
  });

  it('tampered body → 403 (even a whitespace change)', async () => {
    const before = await countCalls(t);
    const raw = body();
    const ts = nowS();
    const sig = `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw)}`;
    expectError(await post(raw.replace(num.e164, '+14155559999'), sig), 403, 'INVALID_SIGNATURE');
    expectError(await post(raw.replace(',', ', '), sig), 403, 'INVALID_SIGNATURE');
    expect(await countCalls(t)).toBe(before);
  });

  it('several v2 values (secret rotation): accepted when one of them is right', async () => {
    const raw = body();
    const ts = nowS();
    const good = hmac(GENERIC_SECRET, ts, raw);
    const old = hmac('the-old-secret', ts, raw);
    const r1 = await post(raw, `t=${ts},v2=${old},v2=${good}`);
    expect(r1.status, r1.text).toBe(200);
    expect(r1.body.action).toBe('connect');
    const r2 = await post(body(), `t=${ts},v2=${old},v2=${'0'.repeat(64)}`);
    expectError(r2, 403, 'INVALID_SIGNATURE');
  });
});

describe('v2 binds the endpoint', () => {
  const body = () => JSON.stringify({ callId: cid(), from: '+12025550143', to: num.e164 });
  it('a body signed for /inbound is refused at /status, and the other way round (403, "does not match")', async () => {
    const raw = JSON.stringify({ callId: cid(), status: 'completed' });
    const ts = nowS();
    const forInbound = `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw, '/carriers/generic/inbound')}`;
    const res = await t.api.post('/carriers/generic/status').set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': forInbound }).send(raw);
    expectError(res, 403, 'INVALID_SIGNATURE');
    expect(res.body.error.message).toMatch(/does not match/);
    expect(res.body.error.message).toContain('/carriers/generic/status');
    const inboundRaw = body();
    const forStatus = `t=${ts},v2=${hmac(GENERIC_SECRET, ts, inboundRaw, '/carriers/generic/status')}`;
    expectError(
      await t.api.post('/carriers/generic/inbound').set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': forStatus }).send(inboundRaw),
      403,
      'INVALID_SIGNATURE',
    );
  });

  it('the query string is not part of the signed path', async () => {
    const raw = body();
    const ts = nowS();
    const sig = `t=${ts},v2=${hmac(GENERIC_SECRET, ts, raw, '/carriers/generic/inbound')}`;
    const res = await t.api.post('/carriers/generic/inbound?x=1').set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': sig }).send(raw);
    expect(res.status, res.text).toBe(200);
  });

  it('the old v1 scheme (no path) is refused, with a message showing the v2 format', async () => {
    const raw = body();
    const ts = nowS();
    const v1 = createHmac('sha256', GENERIC_SECRET).update(`${ts}.${raw}`).digest('hex');
    const res = await t.api
      .post('/carriers/generic/inbound')
      .set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': `t=${ts},v1=${v1}` })
      .send(raw);
    expectError(res, 403, 'INVALID_SIGNATURE');
    expect(res.body.error.message).toMatch(/v2=/);
  });

  it('a stale timestamp and a mismatch say which', async () => {
    const raw = body();
    const old = nowS() - 1000;
    const stale = await t.api
      .post('/carriers/generic/inbound')
      .set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': `t=${old},v2=${hmac(GENERIC_SECRET, old, raw)}` })
      .send(raw);
    expectError(stale, 403, 'INVALID_SIGNATURE');
    expect(stale.body.error.message).toMatch(/stale timestamp/);
    const ts = nowS();
    const wrong = await t.api
      .post('/carriers/generic/inbound')
      .set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': `t=${ts},v2=${hmac('nope-nope-nope', ts, raw)}` })
      .send(raw);
    expectError(wrong, 403, 'INVALID_SIGNATURE');
    expect(wrong.body.error.message).toMatch(/does not match/);
    expect(wrong.body.error.message).not.toContain(GENERIC_SECRET);
  });
});

describe('bad requests', () => {
  it('bad JSON (validly signed) → 400 INVALID_JSON', async () => {
    const res = await genericInbound(t, '{"callId": "x", ');
    expectError(res, 400, 'INVALID_JSON');
  });

  it('missing `to` → 400 naming `to`; no record', async () => {
    const before = await countCalls(t);
    const res = await genericInbound(t, { callId: cid(), from: '+12025550143' });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bto\b/);
    const r2 = await genericInbound(t, { from: '+12025550143', to: num.e164 });
    expectError(r2, 400, 'INVALID_REQUEST');
    expect(r2.body.error.message).toContain('callId');
    const r3 = await genericInbound(t, [1, 2]);
    expect(r3.status).toBe(400);
    expect(await countCalls(t)).toBe(before);
  });

  it('wrong content type → 415', async () => {
    const res = await genericInbound(t, { callId: cid(), from: '', to: num.e164 }, { contentType: 'text/plain' });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('SWITCHBOARD_WEBHOOK_SECRET unset → 503 naming it', async () => {
    const g = await startGateway({ env: { TWILIO_AUTH_TOKEN: 'x', SWITCHBOARD_PUBLIC_URL: PUBLIC_URL } });
    try {
      const res = await genericInbound(g, { callId: cid(), from: '+12025550143', to: '+14155550100' });
      expectError(res, 503, 'UNAVAILABLE');
      expect(res.body.error.message).toContain('SWITCHBOARD_WEBHOOK_SECRET');
      expect(await countCalls(g)).toBe(0);
    } finally {
      await g.close();
    }
  });
});

describe('retries', () => {
  it('the same carrier callId → the same answer, one record (sequential and parallel)', async () => {
    const carrierCallId = cid();
    const payload = { callId: carrierCallId, from: '+12025550143', to: num.e164 };
    const first = await genericInbound(t, payload).expect(200);
    clock.advance(2000); // the retry is signed later, with a new t
    const second = await genericInbound(t, payload).expect(200);
    expect(second.body).toEqual(first.body);
    const par = await Promise.all(Array.from({ length: 8 }, () => genericInbound(t, payload)));
    for (const r of par) expect(r.body).toEqual(first.body);
    expect(await countCalls(t, "carrier = 'generic' AND carrier_call_id = ?", carrierCallId)).toBe(1);
  });
});
