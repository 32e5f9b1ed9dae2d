// Pinning (api.md sections 2-4): a call stays on the assistant it was routed
// to until it ends — through a reassignment of its number, the number's
// release and the assistant's deletion — even when its media stream opens
// only after the change. New calls follow the new assignment at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, assign, callSid, newAssistant, parseTwiml, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

type Carrier = Awaited<ReturnType<typeof carrierSocket>>;

describe('calls stay pinned to the assistant they were routed to', () => {
  let t: TestGateway;
  let base: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let A: FakeAssistant;
  let B: FakeAssistant;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    team = await createTeam(t, 'pinning', 'pro');
    A = await fakeAssistant({ echo: true });
    B = await fakeAssistant({ echo: true });
  });
  afterAll(async () => {
    await A.close();
    await B.close();
    await t.close();
  });

  async function twilioCall(to: string) {
    const sid = callSid();
    const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: to }));
    expect(res.status).toBe(200);
    const tw = parseTwiml(res.text);
    return { sid, callId: tw.callId, token: tw.token, reject: tw.reject };
  }

  /** Opens the media stream for a routed call; resolves once an assistant has the start message. */
  async function stream(call: { sid: string; callId: string | null; token: string | null }): Promise<Carrier> {
    const total = () => A.received.length + B.received.length;
    const before = total();
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(call.callId!, call.token!, call.sid));
    await eventually(() => total() === before + 1 && [...A.received, ...B.received].some((r) => r.length >= 2 && r[1]!.includes(call.callId!)));
    return c;
  }

  /** Which fake server (and which of its connections) holds this call's stream. */
  function whereIs(callId: string): { server: 'A' | 'B'; frames: string[] } {
    const hit = (f: FakeAssistant) => f.received.find((r) => r[1]?.includes(`"callId":"${callId}"`));
    const a = hit(A);
    const b = hit(B);
    if (a && b) throw new Error(`call ${callId} reached both assistants`);
    if (a) return { server: 'A', frames: a };
    if (b) return { server: 'B', frames: b };
    throw new Error(`call ${callId} reached no assistant`);
  }

  /** Sends frames seq..seq+n-1 and checks they all arrive at `server`, and their echoes come back. */
  async function flows(c: Carrier, callId: string, server: 'A' | 'B', seq: number, n = 20) {
    const { frames } = whereIs(callId);
    const before = frames.length;
    const echoes = c.received.length;
    const sent: string[] = [];
    for (let i = seq; i < seq + n; i++) {
      sent.push(mediaFrame(i));
      c.ws.send(mediaFrame(i));
    }
    await eventually(() => frames.length === before + n && c.received.length === echoes + n);
    expect(whereIs(callId).server).toBe(server);
    expect(frames.slice(before)).toEqual(sent);
  }

  it('keeps a live call on A through reassignment to B, release and deletion of A; new calls go to B, then are rejected', async () => {
    const [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    const numberId = await buyActive(t, team, e164);
    const aId = await newAssistant(t, team, 'A', A.url);
    const bId = await newAssistant(t, team, 'B', B.url);
    await assign(t, team, aId, [numberId]);

    // call1 is bridged to A; call2 is routed to A but its stream is not open yet.
    const call1 = await twilioCall(e164);
    const call2 = await twilioCall(e164);
    expect(t.gw.tokens.verify(call1.callId!, aId, call1.token)).toBe(true);
    expect(t.gw.tokens.verify(call2.callId!, aId, call2.token)).toBe(true);
    const c1 = await stream(call1);
    expect(whereIs(call1.callId!).server).toBe('A');
    await flows(c1, call1.callId!, 'A', 3);

    // Reassign the number to B.
    await assign(t, team, bId, [numberId]);
    await flows(c1, call1.callId!, 'A', 23);

    // The next call to the number goes to B: its token is B's, its media reaches B.
    const call3 = await twilioCall(e164);
    expect(call3.reject).toBeNull();
    expect(t.gw.tokens.verify(call3.callId!, bId, call3.token)).toBe(true);
    expect(t.gw.tokens.verify(call3.callId!, aId, call3.token)).toBe(false);
    const c3 = await stream(call3);
    expect(whereIs(call3.callId!).server).toBe('B');
    await flows(c3, call3.callId!, 'B', 3);

    // call2, routed to A before the reassignment, opens its stream only now: it still goes to A.
    const c2 = await stream(call2);
    expect(whereIs(call2.callId!).server).toBe('A');
    await flows(c2, call2.callId!, 'A', 3);

    // Release the number: live calls continue where they were.
    await t.api.delete(`/api/phone-numbers/${numberId}`).set(team.auth).expect(200);
    await flows(c1, call1.callId!, 'A', 43);
    await flows(c2, call2.callId!, 'A', 23);
    await flows(c3, call3.callId!, 'B', 23);
    // A new call to the released number is rejected.
    const call4 = await twilioCall(e164);
    expect(call4.reject).toBe('rejected');
    expect(call4.callId).toBeNull();

    // Delete A: its calls continue.
    await t.api.delete(`/api/assistants/${aId}`).set(team.auth).expect(204);
    await flows(c1, call1.callId!, 'A', 63);
    await flows(c2, call2.callId!, 'A', 43);
    expect(t.gw.liveCalls.size).toBe(3);
    expect(t.gw.liveCalls.countFor(aId)).toBe(2);
    expect(t.gw.liveCalls.countFor(bId)).toBe(1);

    // Two streams reached A, one reached B, and nothing else connected anywhere.
    expect(A.connections.length).toBe(2);
    expect(B.connections.length).toBe(1);

    for (const c of [c1, c2, c3]) c.ws.close(1000);
    await eventually(() => t.gw.liveCalls.size === 0);
    for (const call of [call1, call2, call3]) {
      const rec = (await t.api.get(`/api/calls/${call.callId}`).set(team.auth).expect(200)).body.call;
      expect(rec.status).toBe('completed');
      expect(rec.assistantId).toBe(call === call3 ? bId : aId);
    }
  });

  it('a call routed to A whose stream opens after A was deleted still goes to A', async () => {
    const [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    const numberId = await buyActive(t, team, e164);
    const aId = await newAssistant(t, team, 'A2', A.url);
    await assign(t, team, aId, [numberId]);
    const call = await twilioCall(e164);
    await t.api.delete(`/api/assistants/${aId}`).set(team.auth).expect(204);
    // The number is unassigned now: new calls are rejected.
    expect((await twilioCall(e164)).reject).toBe('rejected');

    const beforeA = A.connections.length;
    const beforeB = B.connections.length;
    const c = await stream(call);
    expect(whereIs(call.callId!).server).toBe('A');
    await flows(c, call.callId!, 'A', 3);
    expect(A.connections.length).toBe(beforeA + 1);
    expect(B.connections.length).toBe(beforeB);
    c.ws.close(1000);
    await eventually(() => t.gw.liveCalls.size === 0);
  });
});
