// Status callbacks (api.md section 4): /carriers/twilio/status and
// /carriers/generic/status update the call record; late, duplicate and
// out-of-order callbacks never move a call backwards. And connect-action:
// <Hangup/>, or an apology first when the assistant could not be reached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  assign,
  CARRIER_ENV,
  callSid,
  countCalls,
  genericInbound,
  genericStatus,
  newAssistant,
  parseTwiml,
  twilioConnectAction,
  twilioStatus,
  twilioVoice,
  voiceParams,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let clock: ManualClock;
let team: Team;
let assistant: string;
let e164: string;

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  t = await startGateway({ env: { ...CARRIER_ENV }, clock });
  team = await createTeam(t, 'status', 'pro');
  assistant = await newAssistant(t, team);
  [e164] = (await availableNumbers(t, 'US', 1)) as [string];
  await assign(t, team, assistant, [await buyActive(t, team, e164)]);
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any }, status: number, code: string) => expectApiError(res, status, code);

/** Routes a new Twilio call; returns its CallSid and gateway call id. */
async function newTwilioCall(to = e164): Promise<{ sid: string; callId: string }> {
  const sid = callSid();
  const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: to }));
  expect(res.status, res.text).toBe(200);
  const row = (await t.sql.get('SELECT id FROM calls WHERE carrier_call_id = ?', sid)) as { id: string };
  return { sid, callId: row.id };
}

const getCall = async (id: string) => (await t.api.get(`/api/calls/${id}`).set(team.auth).expect(200)).body.call;

const status = (sid: string, CallStatus: string, extra: Record<string, string> = {}) => twilioStatus(t, { CallSid: sid, CallStatus, ...extra });

describe('twilio status callbacks', () => {
  it('ringing → in-progress → completed (CallDuration 42): completed, durationSec 42, endedAt set', async () => {
    const { sid, callId } = await newTwilioCall();
    expect((await status(sid, 'ringing', { SequenceNumber: '0' })).status).toBeLessThan(300);
    expect((await getCall(callId)).status).toBe('routed');
    clock.advance(1000);
    expect((await status(sid, 'in-progress', { SequenceNumber: '1' })).status).toBeLessThan(300);
    const mid = await getCall(callId);
    expect(mid.status).toBe('in-progress');
    expect(mid.endedAt).toBeNull();
    clock.advance(42_000);
    const done = await status(sid, 'completed', { SequenceNumber: '2', CallDuration: '42', Timestamp: 'Tue, 06 Jan 2026 10:00:00 +0000' });
    expect(done.status).toBeLessThan(300);
    const call = await getCall(callId);
    expect(call.status).toBe('completed');
    expect(call.durationSec).toBe(42);
    expect(call.endedAt).toBe(new Date(clock.now()).toISOString());
    expect(call.reason).toBeNull();
  });

  it('out of order: completed, then a late in-progress → stays completed', async () => {
    const { sid, callId } = await newTwilioCall();
    await status(sid, 'completed', { CallDuration: '7', SequenceNumber: '2' });
    const first = await getCall(callId);
    clock.advance(5000);
    await status(sid, 'in-progress', { SequenceNumber: '1' });
    await status(sid, 'ringing', { SequenceNumber: '0' });
    const after = await getCall(callId);
    expect(after).toEqual(first);
    expect(after.status).toBe('completed');
    expect(after.durationSec).toBe(7);
  });

  it('a duplicate completed changes nothing (durationSec and endedAt stay)', async () => {
    const { sid, callId } = await newTwilioCall();
    await status(sid, 'completed', { CallDuration: '42', SequenceNumber: '3' });
    const first = await getCall(callId);
    clock.advance(60_000);
    await status(sid, 'completed', { CallDuration: '99', SequenceNumber: '3' });
    await status(sid, 'completed', { CallDuration: '99', SequenceNumber: '4' });
    const after = await getCall(callId);
    expect(after).toEqual(first);
    expect(after.durationSec).toBe(42);
  });

  it('a different terminal status after completed does not flip it to failed', async () => {
    const { sid, callId } = await newTwilioCall();
    await status(sid, 'completed', { CallDuration: '3' });
    await status(sid, 'failed');
    await status(sid, 'busy');
    expect(await getCall(callId)).toMatchObject({ status: 'completed', reason: null, durationSec: 3 });
  });

  it.each(['busy', 'no-answer', 'failed', 'canceled'])('%s → failed, with the carrier status as reason', async (s) => {
    const { sid, callId } = await newTwilioCall();
    await status(sid, 'ringing');
    const res = await status(sid, s, { CallDuration: '0' });
    expect(res.status).toBeLessThan(300);
    const call = await getCall(callId);
    expect(call.status).toBe('failed');
    expect(call.reason).toBe(s);
    expect(call.endedAt).not.toBeNull();
    expect(call.durationSec).toBe(0);
  });

  it('a rejected call stays rejected (with its reason) whatever the carrier says', async () => {
    const { sid, callId } = await newTwilioCall('+14155559999');
    await status(sid, 'completed', { CallDuration: '0' });
    const call = await getCall(callId).catch(async () => (await t.api.get(`/api/calls/${callId}`).set(t.admin).expect(200)).body.call);
    expect(call.status).toBe('rejected');
    expect(call.reason).toBe('no_route');
  });

  it('unknown CallSid → 404; nothing created', async () => {
    const before = await countCalls(t);
    expectError(await status(callSid(), 'completed', { CallDuration: '1' }), 404, 'NOT_FOUND');
    expect(await countCalls(t)).toBe(before);
  });

  it('unsigned or wrongly signed → 403 and the record is untouched', async () => {
    const { sid, callId } = await newTwilioCall();
    const before = await getCall(callId);
    expectError(await twilioStatus(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '5' }, { authToken: null }), 403, 'INVALID_SIGNATURE');
    expectError(await twilioStatus(t, { CallSid: sid, CallStatus: 'completed' }, { authToken: 'wrong' }), 403, 'INVALID_SIGNATURE');
    expectError(
      await twilioStatus(t, { CallSid: sid, CallStatus: 'completed' }, { signParams: { CallSid: sid, CallStatus: 'ringing' } }),
      403,
      'INVALID_SIGNATURE',
    );
    expect(await getCall(callId)).toEqual(before);
  });

  it('an unknown CallStatus → 400 naming it; missing CallStatus → 400', async () => {
    const { sid, callId } = await newTwilioCall();
    const r1 = await status(sid, 'exploded');
    expectError(r1, 400, 'INVALID_REQUEST');
    expect(r1.body.error.message).toContain('exploded');
    expectError(await twilioStatus(t, { CallSid: sid }), 400, 'INVALID_REQUEST');
    expect((await getCall(callId)).status).toBe('routed');
  });
});

describe('generic status callbacks', () => {
  async function newGenericCall(): Promise<{ cid: string; callId: string }> {
    const cid = `sip-${callSid()}`;
    const res = await genericInbound(t, { callId: cid, from: '+12025550143', to: e164 }).expect(200);
    expect(res.body.action).toBe('connect');
    return { cid, callId: res.body.callId };
  }

  it('in-progress → completed (durationSec 42)', async () => {
    const { cid, callId } = await newGenericCall();
    const r1 = await genericStatus(t, { callId: cid, status: 'in-progress' });
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ callId, status: 'in-progress', changed: true });
    clock.advance(42_000);
    const r2 = await genericStatus(t, { callId: cid, status: 'completed', durationSec: 42 });
    expect(r2.body).toMatchObject({ callId, status: 'completed', changed: true });
    const call = await getCall(callId);
    expect(call).toMatchObject({ status: 'completed', durationSec: 42, carrier: 'generic', carrierCallId: cid });
    expect(call.endedAt).toBe(new Date(clock.now()).toISOString());
  });

  it('late in-progress and duplicate completed change nothing', async () => {
    const { cid, callId } = await newGenericCall();
    await genericStatus(t, { callId: cid, status: 'completed', durationSec: 42 }).expect(200);
    const first = await getCall(callId);
    const late = await genericStatus(t, { callId: cid, status: 'in-progress' }).expect(200);
    expect(late.body).toMatchObject({ status: 'completed', changed: false });
    const dup = await genericStatus(t, { callId: cid, status: 'completed', durationSec: 43 }).expect(200);
    expect(dup.body.changed).toBe(false);
    expect(await getCall(callId)).toEqual(first);
  });

  it('busy / no-answer → failed with reason', async () => {
    for (const s of ['busy', 'no-answer']) {
      const { cid, callId } = await newGenericCall();
      await genericStatus(t, { callId: cid, status: s }).expect(200);
      expect(await getCall(callId)).toMatchObject({ status: 'failed', reason: s });
    }
  });

  it('unknown callId → 404; unsigned → 403; a Twilio CallSid is not a generic call', async () => {
    expectError(await genericStatus(t, { callId: 'nope', status: 'completed' }), 404, 'NOT_FOUND');
    const { cid, callId } = await newGenericCall();
    expectError(await genericStatus(t, { callId: cid, status: 'completed' }, { secret: null }), 403, 'INVALID_SIGNATURE');
    expectError(await genericStatus(t, { callId: cid, status: 'completed' }, { secret: 'wrong-secret' }), 403, 'INVALID_SIGNATURE');
    expect((await getCall(callId)).status).toBe('routed');
    const tw = await newTwilioCall();
    expectError(await genericStatus(t, { callId: tw.sid, status: 'completed' }), 404, 'NOT_FOUND');
  });

  it('bad input: wrong status → 400, negative durationSec → 400', async () => {
    const { cid } = await newGenericCall();
    expectError(await genericStatus(t, { callId: cid, status: 'exploded' }), 400, 'INVALID_REQUEST');
    const r = await genericStatus(t, { callId: cid, status: 'completed', durationSec: -1 });
    expectError(r, 400, 'INVALID_REQUEST');
    expect(r.body.error.message).toContain('durationSec');
  });
});

describe('connect-action', () => {
  it('answers <Hangup/> TwiML normally', async () => {
    const { sid } = await newTwilioCall();
    const res = await twilioConnectAction(t, { CallSid: sid, CallStatus: 'in-progress' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.text.startsWith('<?xml')).toBe(true);
    const tw = parseTwiml(res.text);
    expect(tw.hangup).toBe(true);
    expect(tw.say).toBeNull();
    expect(res.text).toMatch(/<Response><Hangup\/><\/Response>$/);
  });

  it('answers <Say>…</Say><Hangup/> when the assistant could not be reached', async () => {
    const { sid, callId } = await newTwilioCall();
    // The media bridge sets this; it is built later.
    await t.sql.run("UPDATE calls SET reason = 'assistant_unreachable', status = 'failed' WHERE id = ?", callId);
    const res = await twilioConnectAction(t, { CallSid: sid, CallStatus: 'in-progress' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    const tw = parseTwiml(res.text);
    expect(tw.say).toBeTruthy();
    expect(tw.say!.length).toBeGreaterThan(10);
    expect(res.text).toMatch(/<Response><Say>[^<]+<\/Say><Hangup\/><\/Response>$/);
  });

  it('unsigned → 403', async () => {
    const { sid } = await newTwilioCall();
    expectError(await twilioConnectAction(t, { CallSid: sid }, { authToken: null }), 403, 'INVALID_SIGNATURE');
  });
});
