// Carrier retries (api.md section 4): the same CallSid gets the same answer
// and never a second call record: sequentially, in parallel, after the number
// was reassigned, and after a gateway restart on the same database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, CARRIER_ENV, callSid, countCalls, genericInbound, newAssistant, parseTwiml, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let team: Team;
let a: string;
let b: string;
let num: { id: string; e164: string };

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  team = await createTeam(t, 'retries', 'pro');
  a = await newAssistant(t, team, 'A');
  b = await newAssistant(t, team, 'B');
  const [e164] = await availableNumbers(t, 'US', 1);
  num = { id: await buyActive(t, team, e164!), e164: e164! };
  await assign(t, team, a, [num.id]);
});
afterAll(async () => {
  await t?.close();
});

describe('same CallSid twice', () => {
  it('sequentially: byte-identical TwiML, one call record', async () => {
    const p = voiceParams({ To: num.e164 });
    const first = await twilioVoice(t, p);
    expect(first.status, first.text).toBe(200);
    const tw = parseTwiml(first.text);
    expect(t.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
    // Twilio's retry: same parameters, possibly a later CallStatus is not sent; same CallSid.
    const second = await twilioVoice(t, p);
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(await countCalls(t, 'carrier_call_id = ?', p.CallSid)).toBe(1);
  });

  it('10 in parallel: all identical, one call record', async () => {
    const p = voiceParams({ To: num.e164 });
    const before = await countCalls(t);
    const res = await Promise.all(Array.from({ length: 10 }, () => twilioVoice(t, p)));
    for (const r of res) expect(r.status, r.text).toBe(200);
    const texts = new Set(res.map((r) => r.text));
    expect(texts.size).toBe(1);
    const tw = parseTwiml(res[0]!.text);
    expect(t.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
    expect(await countCalls(t, 'carrier_call_id = ?', p.CallSid)).toBe(1);
    expect(await countCalls(t)).toBe(before + 1);
  });

  it('a rejected call retried is rejected again, one record', async () => {
    const p = voiceParams({ To: '+14155559999' });
    const r1 = await twilioVoice(t, p);
    const r2 = await twilioVoice(t, p);
    expect(parseTwiml(r1.text).reject).toBe('rejected');
    expect(r2.text).toBe(r1.text);
    expect(await countCalls(t, 'carrier_call_id = ?', p.CallSid)).toBe(1);
  });

  it('a retry after the number was reassigned still gets the original assistant', async () => {
    const p = voiceParams({ To: num.e164 });
    const first = parseTwiml((await twilioVoice(t, p)).text);
    expect(t.gw.tokens.verify(first.callId!, a, first.token)).toBe(true);
    await assign(t, team, b, [num.id]);
    try {
      // A new call goes to B...
      const fresh = parseTwiml((await twilioVoice(t, voiceParams({ To: num.e164 }))).text);
      expect(t.gw.tokens.verify(fresh.callId!, b, fresh.token)).toBe(true);
      // ...the retry of the first one stays on A.
      const retry = await twilioVoice(t, p);
      const tw = parseTwiml(retry.text);
      expect(tw.callId).toBe(first.callId);
      expect(tw.token).toBe(first.token);
      expect(t.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
      const call = (await t.api.get(`/api/calls/${first.callId}`).set(t.admin).expect(200)).body.call;
      expect(call.assistantId).toBe(a);
      expect(await countCalls(t, 'carrier_call_id = ?', p.CallSid)).toBe(1);
    } finally {
      await assign(t, team, a, [num.id]);
    }
  });

  it('the same carrier call id on two carriers is two different calls', async () => {
    const sid = callSid();
    const tw = parseTwiml((await twilioVoice(t, voiceParams({ CallSid: sid, To: num.e164 }))).text);
    const g = await genericInbound(t, { callId: sid, from: '+12025550143', to: num.e164 }).expect(200);
    expect(g.body.action).toBe('connect');
    expect(g.body.callId).not.toBe(tw.callId);
    expect(await countCalls(t, 'carrier_call_id = ?', sid)).toBe(2);
  });
});

describe('after a restart on the same database', () => {
  it('the retry gets the same callId and token (from the durable record), no second record', async () => {
    const g1 = await startGateway({ env: { ...CARRIER_ENV }, keepDir: true });
    let g2: TestGateway | undefined;
    try {
      const tm = await createTeam(g1, 'retry-restart', 'pro');
      const x = await newAssistant(g1, tm, 'X');
      const y = await newAssistant(g1, tm, 'Y');
      const [e164] = await availableNumbers(g1, 'US', 1);
      const id = await buyActive(g1, tm, e164!);
      await assign(g1, tm, x, [id]);
      const p = voiceParams({ To: e164! });
      const rejectP = voiceParams({ To: '+14155559999' });
      const first = await twilioVoice(g1, p);
      const firstReject = await twilioVoice(g1, rejectP);
      const tw1 = parseTwiml(first.text);
      // Reassigned before the restart: the retry must not follow the new assignment.
      await assign(g1, tm, y, [id]);
      await g1.close();

      g2 = await startGateway({ env: { ...CARRIER_ENV }, dbPath: g1.dbPath });
      const again = await twilioVoice(g2, p);
      expect(again.status, again.text).toBe(200);
      expect(again.text).toBe(first.text);
      const tw2 = parseTwiml(again.text);
      expect(tw2.callId).toBe(tw1.callId);
      expect(g2.gw.tokens.verify(tw2.callId!, x, tw2.token)).toBe(true);
      expect(await countCalls(g2, 'carrier_call_id = ?', p.CallSid)).toBe(1);

      const rejectAgain = await twilioVoice(g2, rejectP);
      expect(rejectAgain.text).toBe(firstReject.text);
      expect(await countCalls(g2, 'carrier_call_id = ?', rejectP.CallSid)).toBe(1);
      const row = (await g2.sql.get('SELECT reason FROM calls WHERE carrier_call_id = ?', rejectP.CallSid)) as { reason: string };
      expect(row.reason).toBe('no_route');

      // In parallel after the restart, too.
      const par = await Promise.all(Array.from({ length: 5 }, () => twilioVoice(g2!, p)));
      for (const r of par) expect(r.text).toBe(first.text);
      expect(await countCalls(g2, 'carrier_call_id = ?', p.CallSid)).toBe(1);
    } finally {
      await g2?.close();
    }
  });
});
