// A Telnyx call and a Twilio call take the same path through the gateway
// (issue 12): the same routing, media, pinning, status, apology and drain
// scenarios run for both carriers, each driven in its own dialect (Twilio:
// X-Twilio-Signature and Media Streams; Telnyx: Ed25519 and its snake_case
// media frames), and the assistant sees the same Twilio Media Streams
// conversation either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import {
  CARRIER_ENV,
  assign,
  callRow,
  countCalls,
  newAssistant,
  parseTwiml,
  telnyxCallId,
  telnyxConnectAction,
  telnyxStatus,
  telnyxVoice,
  telnyxVoiceParams,
  twilioConnectAction,
  twilioStatus,
  twilioVoice,
  voiceParams,
  callSid,
  type Params,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import {
  CONNECTED,
  STREAM_SID,
  TELNYX_CONNECTED,
  TELNYX_STREAM_ID,
  carrierSocket,
  fakeAssistant,
  mediaFrame,
  relayed,
  telnyxMediaFrame,
  telnyxStart,
  telnyxStop,
  twilioStart,
  type FakeAssistant,
} from '../helpers/media.js';

interface Driver {
  name: 'twilio' | 'telnyx';
  newCallId(): string;
  voice(t: TestGateway, params: Params, o?: { sign?: boolean }): Promise<{ status: number; text: string; body: any }>;
  voiceParams(p: Params): Params;
  status(t: TestGateway, p: Params): Promise<{ status: number; text: string }>;
  connectAction(t: TestGateway, sid: string): Promise<{ status: number; text: string }>;
  /** The carrier's opening frames for a call (connected, start). */
  opening(callId: string, token: string, sid: string): string[];
  /** The carrier's n-th frame after the opening (sequence numbers from 2 for Telnyx, 3 for Twilio). */
  media(seq: number): string;
  stop(seq: number, sid: string): string;
  streamSid: string;
  /** The field of a frame sent to the carrier that names the stream, if its dialect has one. */
  sendsStreamSid: boolean;
}

const DRIVERS: Driver[] = [
  {
    name: 'twilio',
    newCallId: callSid,
    voice: (t, params, o = {}) => twilioVoice(t, params, o.sign === false ? { authToken: null } : {}),
    voiceParams,
    status: (t, p) => twilioStatus(t, p),
    connectAction: (t, sid) => twilioConnectAction(t, { CallSid: sid, CallStatus: 'in-progress' }),
    opening: (callId, token, sid) => [CONNECTED, twilioStart(callId, token, sid)],
    media: mediaFrame,
    stop: (seq, sid) =>
      JSON.stringify({ event: 'stop', sequenceNumber: String(seq), streamSid: STREAM_SID, stop: { accountSid: 'AC' + '2'.repeat(32), callSid: sid } }),
    streamSid: STREAM_SID,
    sendsStreamSid: true,
  },
  {
    name: 'telnyx',
    newCallId: telnyxCallId,
    voice: (t, params, o = {}) => telnyxVoice(t, params, o.sign === false ? { sign: false } : {}),
    voiceParams: telnyxVoiceParams,
    status: (t, p) => telnyxStatus(t, { AccountSid: '4b5f0a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b', ...p }),
    connectAction: (t, sid) => telnyxConnectAction(t, { CallSid: sid, CallStatus: 'completed' }),
    opening: (callId, token, sid) => [TELNYX_CONNECTED, telnyxStart(callId, token, sid)],
    media: telnyxMediaFrame,
    stop: (seq, sid) => telnyxStop(seq, sid),
    streamSid: TELNYX_STREAM_ID,
    sendsStreamSid: false,
  },
];

describe.each(DRIVERS)('$name calls', (d) => {
  let t: TestGateway;
  let base: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let numberId: string;
  let e164: string;
  let unknown: string;
  let assistant: FakeAssistant;
  let other: FakeAssistant;
  let assistantId: string;
  let otherId: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    team = await createTeam(t, `parity-${d.name}`, 'pro');
    [e164, unknown] = (await availableNumbers(t, 'US', 2)) as [string, string];
    numberId = await buyActive(t, team, e164);
    assistant = await fakeAssistant({ echo: true });
    other = await fakeAssistant();
    assistantId = await newAssistant(t, team, 'first', assistant.url);
    otherId = await newAssistant(t, team, 'second', other.url);
    await assign(t, team, assistantId, [numberId]);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await assistant.close();
    await other.close();
    await t.close().catch(() => {});
  });

  async function call(to = e164) {
    const sid = d.newCallId();
    const res = await d.voice(t, d.voiceParams({ CallSid: sid, To: to }));
    expect(res.status, res.text).toBe(200);
    return { sid, res, tw: parseTwiml(res.text) };
  }

  /** A routed call whose stream is open: the assistant has its connected and start. */
  async function bridge(to: FakeAssistant | null = assistant) {
    const { sid, tw } = await call();
    const n = to?.connections.length ?? 0;
    const c = await carrierSocket(`${base}/media/${d.name}`);
    sockets.push(c.ws);
    for (const f of d.opening(tw.callId!, tw.token!, sid)) c.ws.send(f);
    if (to) await eventually(() => (to.received[n]?.length ?? 0) >= 2);
    return { sid, callId: tw.callId!, token: tw.token!, c, heard: () => to!.received[n]! };
  }

  it('routes the dialled number to its assistant, with a stream back to /media/<carrier>', async () => {
    const { sid, tw, res } = await call();
    expect(res.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Connect action=/);
    expect(tw.action).toBe(`${t.gw.publicUrl()}/carriers/${d.name}/connect-action`);
    expect(tw.streamUrl).toBe(`${t.gw.publicUrl().replace(/^http/, 'ws')}/media/${d.name}`);
    expect(await callRow(t, sid)).toMatchObject({ carrier: d.name, status: 'routed', assistant_id: assistantId, to_number: e164 });
  });

  it('rejects a number nobody holds, and records it', async () => {
    const { sid, tw } = await call(unknown);
    expect(tw.reject).toBe('rejected');
    expect(await callRow(t, sid)).toMatchObject({ carrier: d.name, status: 'rejected', reason: 'no_route' });
  });

  it('answers a retried webhook exactly as the first time, with one record', async () => {
    const sid = d.newCallId();
    const first = await d.voice(t, d.voiceParams({ CallSid: sid, To: e164 }));
    const again = await d.voice(t, d.voiceParams({ CallSid: sid, To: e164 }));
    expect(again.text).toBe(first.text);
    expect(await countCalls(t, 'carrier_call_id = ?', sid)).toBe(1);
  });

  it('refuses an unsigned webhook with 403 and records nothing', async () => {
    const before = await countCalls(t);
    const res = await d.voice(t, d.voiceParams({ To: e164 }), { sign: false });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('INVALID_SIGNATURE');
    expect(await countCalls(t)).toBe(before);
  });

  it('bridges the audio: the assistant hears Twilio Media Streams, the carrier hears its own dialect', async () => {
    const { sid, callId, token, c, heard } = await bridge();
    const frames = Array.from({ length: 50 }, (_, i) => d.media(i + 3));
    for (const f of frames) c.ws.send(f);
    // connected + start + 50 media reach the assistant; its echo of each comes back.
    await eventually(() => heard().length >= 52 && c.received.length >= 50, 5000);
    const seen = heard().map((m) => JSON.parse(m));
    expect(seen[0]).toMatchObject({ event: 'connected', protocol: 'Call' });
    expect(seen[1]).toMatchObject({
      event: 'start',
      streamSid: d.streamSid,
      start: { streamSid: d.streamSid, callSid: sid, customParameters: { callId }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
    });
    // The media token stays with the gateway.
    expect(seen[1].start.customParameters.token).toBeUndefined();
    const sent = frames.map((f) => JSON.parse(f));
    expect(seen.slice(2).map((m) => [m.event, m.sequenceNumber, m.streamSid, m.media.payload, m.media.chunk, m.media.timestamp])).toEqual(
      sent.map((m) => ['media', m.sequenceNumber ?? m.sequence_number, d.streamSid, m.media.payload, m.media.chunk, m.media.timestamp]),
    );
    // The echo, a mark and a clear from the assistant reach the carrier in its dialect.
    const a = assistant.connections.at(-1)!;
    a.send(JSON.stringify({ event: 'mark', streamSid: d.streamSid, mark: { name: 'greeting-done' } }));
    a.send(JSON.stringify({ event: 'clear', streamSid: d.streamSid }));
    await eventually(() => c.received.length >= 52);
    const back = c.received.map((m) => JSON.parse(m));
    expect(back.slice(0, 50).map((m) => m.media.payload)).toEqual(sent.map((m) => m.media.payload));
    expect(back[50]).toMatchObject({ event: 'mark', mark: { name: 'greeting-done' } });
    expect(back[51]).toMatchObject({ event: 'clear' });
    for (const m of back) expect('streamSid' in m).toBe(d.sendsStreamSid);
    if (d.name === 'twilio') {
      // Zero-copy: Twilio's frames reach the assistant byte for byte (but the token).
      expect(heard().slice(0, 52)).toEqual(relayed([...d.opening(callId, token, sid), ...frames]));
    }
    c.ws.send(d.stop(53, sid));
    c.ws.close();
    await eventually(async () => (await callRow(t, sid))?.end_reason === 'carrier_hangup');
    expect(await callRow(t, sid)).toMatchObject({ status: 'completed', end_reason: 'carrier_hangup' });
  });

  it('keeps a live call on its assistant through a reassignment; the next call goes to the new one', async () => {
    const { sid, c, heard } = await bridge();
    const connectionsBefore = assistant.connections.length;
    await assign(t, team, otherId, [numberId]);
    c.ws.send(d.media(3));
    await eventually(() => heard().length >= 3);
    expect(other.received.length).toBe(0);
    const next = await call();
    expect(await callRow(t, next.sid)).toMatchObject({ assistant_id: otherId });
    expect(await callRow(t, sid)).toMatchObject({ assistant_id: assistantId });
    expect(assistant.connections.length).toBe(connectionsBefore);
    c.ws.close();
    await assign(t, team, assistantId, [numberId]);
  });

  it('status callbacks move the record forward, never back, and bring the duration', async () => {
    const { sid } = await call();
    expect((await d.status(t, { CallSid: sid, CallStatus: 'in-progress', SequenceNumber: '1' })).status).toBe(204);
    expect(await callRow(t, sid)).toMatchObject({ status: 'in-progress', carrier_status: 'answered' });
    await d.status(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '42', SequenceNumber: '2' });
    await d.status(t, { CallSid: sid, CallStatus: 'ringing', SequenceNumber: '0' }); // late
    expect(await callRow(t, sid)).toMatchObject({ status: 'completed', carrier_status: 'completed', duration_sec: 42 });
    const bad = await d.status(t, { CallSid: sid, CallStatus: 'exploded' });
    expect(bad.status).toBe(400);
  });

  it('an unreachable assistant: the stream closes 1011 assistant_unreachable, and the connect-action apologises', async () => {
    const goneId = await newAssistant(t, team, `gone-${d.name}`, 'ws://127.0.0.1:9/stream');
    await assign(t, team, goneId, [numberId]);
    try {
      const { sid, c } = await bridge(null);
      expect(await c.closed).toEqual({ code: 1011, reason: 'assistant_unreachable' });
      expect(await callRow(t, sid)).toMatchObject({ status: 'failed', end_reason: 'assistant_unreachable' });
      const after = parseTwiml((await d.connectAction(t, sid)).text);
      expect(after.say).toMatch(/cannot be reached/);
      expect(after.hangup).toBe(true);
    } finally {
      await assign(t, team, assistantId, [numberId]);
    }
  });

  it('a normal end: the connect-action hangs up', async () => {
    const { sid, c } = await bridge();
    c.ws.close();
    await eventually(async () => (await callRow(t, sid))?.end_reason === 'carrier_hangup');
    const after = parseTwiml((await d.connectAction(t, sid)).text);
    expect(after).toMatchObject({ say: null, hangup: true });
  });

  it('drain: new calls get 503 while the live one runs, then it is closed 1001 gateway_shutdown', async () => {
    const { c, heard } = await bridge();
    const drained = t.gw.drain(300);
    const refused = await d.voice(t, d.voiceParams({ To: e164 }));
    expect(refused.status).toBe(503);
    c.ws.send(d.media(3));
    await eventually(() => heard().length >= 3);
    expect(await c.closed).toEqual({ code: 1001, reason: 'gateway_shutdown' });
    expect(await drained).toEqual({ closedLive: 1 });
  });
});
