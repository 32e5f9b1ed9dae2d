// Interop with OpenAI's own consumer of Twilio Media Streams: an assistant
// built the way the OpenAI Agents SDK documents it (a ws server handing each
// stream to `TwilioRealtimeTransportLayer` inside a `RealtimeSession`) takes
// a signed Twilio call and a signed Telnyx call through the gateway. The
// Realtime API side is a fake on 127.0.0.1 that records what the transport
// sends and answers with audio, so the whole path is exercised both ways:
//
//   carrier socket (test) -> gateway /media/<carrier> -> assistant ws (test)
//     -> TwilioRealtimeTransportLayer -> fake Realtime server (test), and back.
//
// What it proves, per carrier: the transport gets `start` with the call's
// streamSid, callSid and callId (and never the media token); the caller's
// mu-law payloads reach the Realtime server byte for byte, in order, with
// contiguous timestamps (a gap would make the transport insert silence); the
// model's audio and the transport's marks reach the carrier with the right
// streamSid (Twilio) or in Telnyx's dialect; the carrier's mark echoes get
// back to the transport under the names it chose (observable: after a
// barge-in it truncates exactly the unplayed audio, and sends `clear`); a
// hang-up closes the Realtime leg.
//
// Loopback only. The SDK's defaults point at OpenAI: the Realtime URL
// (wss://api.openai.com/v1/realtime?model=..., openaiRealtimeWebsocket.mjs)
// is overridden by `session.connect({ url })`; the trace exporter
// (https://api.openai.com/v1/traces/ingest, installed by importing
// @openai/agents) is switched off and removed below, and any fetch to a
// non-loopback host fails the test. WebRTC/SIP transports are not used.
//
// Surprise (SDK 0.18.0, not the gateway): the minimal setup in the SDK's
// docs, `new RealtimeSession(agent, { transport })`, asks the Realtime API
// for PCM16 at 24 kHz, not mu-law. RealtimeSession seeds its config with the
// default audio formats, and the transport only fills in g711_ulaw where no
// format is given (`format ?? 'g711_ulaw'`), so its default never applies;
// on a real call the model would hear 8 kHz mu-law as 24 kHz PCM (noise).
// Reported upstream (openai/openai-agents-js#122, #168; pull requests #1366
// and #1676 propose forcing G.711); 0.18.0 still has the `??`. The assistant
// below therefore names the format, as a real deployment on 0.18.0 must, and
// the test checks what was asked for.
//
// Versions, pinned exactly in package.json (devDependencies):
//   @openai/agents-extensions 0.18.0 and @openai/agents 0.18.0 (the latest;
//   they bring @openai/agents-core, -openai and -realtime 0.18.0, and the
//   lockfile holds openai 7.59.0 and ws 8.23.0, zod 4.6.7 shared with src/).
// Pinned because this test asserts the transport's wire behaviour (mark
// names and their echoes, `clear`, truncation on barge-in, silence padding,
// `response.output_audio.delta`), which changes between 0.x releases; and
// because `openai` 7 declares engines node >= 22 while we run Node 20: npm
// only warns (EBADENGINE). On this path `openai` is loaded but no client is
// ever made (the model provider is lazy), and nothing else in the tree asks
// for more than Node 20; this test passing on Node 20 is the proof. Should a
// later release really need Node 22, 0.12.0 is the newest whose tree
// (openai ^6) declares no Node requirement. Run this file on Node 20 before
// raising either pin.
import { setTraceProcessors, setTracingDisabled } from '@openai/agents';
import { TwilioRealtimeTransportLayer } from '@openai/agents-extensions';
import { RealtimeAgent, RealtimeSession } from '@openai/agents/realtime';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CARRIER_ENV, assign, callRow, newAssistant, telnyxCallTo, twilioCallTo } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import {
  CONNECTED,
  STREAM_SID,
  TELNYX_CONNECTED,
  TELNYX_STREAM_ID,
  carrierSocket,
  mediaFrame,
  telnyxMediaFrame,
  telnyxStart,
  telnyxStop,
  twilioStart,
} from '../helpers/media.js';

type Json = Record<string, any>;

// --- The fake Realtime API ---------------------------------------------------

interface RealtimeConnection {
  ws: WebSocket;
  url: string;
  authorization: string | undefined;
  /** Every client event received, parsed, in order. */
  events: Json[];
  closed: Promise<void>;
  send(event: Json): void;
}

interface FakeRealtime {
  url: string;
  connections: RealtimeConnection[];
  close(): Promise<void>;
}

async function fakeRealtime(): Promise<FakeRealtime> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', r));
  const connections: RealtimeConnection[] = [];
  let eventId = 0;
  wss.on('connection', (ws, req) => {
    const events: Json[] = [];
    const conn: RealtimeConnection = {
      ws,
      url: req.url ?? '',
      authorization: req.headers.authorization,
      events,
      closed: new Promise((r) => ws.once('close', () => r())),
      send: (event) => ws.send(JSON.stringify({ event_id: `event_${++eventId}`, ...event })),
    };
    connections.push(conn);
    ws.on('message', (data) => {
      const event = JSON.parse(data.toString()) as Json;
      events.push(event);
      // As the real API does: every session.update is confirmed with the session as it now is.
      if (event.type === 'session.update') conn.send({ type: 'session.updated', session: event.session });
    });
    conn.send({ type: 'session.created', session: { id: `sess_${connections.length}`, object: 'realtime.session' } });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/v1/realtime?model=gpt-realtime`,
    connections,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

// --- The assistant: the SDK's documented Twilio setup -----------------------

interface AssistantCall {
  transport: TwilioRealtimeTransportLayer;
  session: RealtimeSession;
  /** Every Media Streams message the transport received (its `twilio_message` events). */
  heard: Json[];
  /** Settles once session.connect() has (the transport drops caller audio until then). */
  ready: Promise<void>;
  errors: unknown[];
}

async function sdkAssistant(realtimeUrl: string): Promise<{ url: string; calls: AssistantCall[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', r));
  const calls: AssistantCall[] = [];
  wss.on('connection', (ws) => {
    const transport = new TwilioRealtimeTransportLayer({ twilioWebSocket: ws });
    const agent = new RealtimeAgent({ name: 'Switchboard interop', instructions: 'Answer the phone.' });
    // The formats must be given: left out, 0.18.0 asks for PCM16 at 24 kHz (see the header).
    const session = new RealtimeSession(agent, {
      transport,
      model: 'gpt-realtime',
      config: { audio: { input: { format: 'g711_ulaw' }, output: { format: 'g711_ulaw' } } },
    });
    const heard: Json[] = [];
    const errors: unknown[] = [];
    session.on('transport_event', (event) => {
      if (event.type === 'twilio_message') heard.push((event as unknown as { message: Json }).message);
    });
    session.on('error', (e) => errors.push(e));
    // The URL is what keeps the SDK off api.openai.com: never omit it.
    const ready = session.connect({ apiKey: 'sk-test-loopback-only', url: realtimeUrl });
    ready.catch((e: unknown) => errors.push(e));
    calls.push({ transport, session, heard, ready, errors });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/twilio`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        for (const c of calls) c.session.close();
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

// --- The carriers -------------------------------------------------------------

interface Driver {
  name: 'twilio' | 'telnyx';
  callTo(t: TestGateway, to: string): Promise<{ sid: string; callId: string; token: string }>;
  opening(callId: string, token: string, sid: string): string[];
  /** The carrier's media frame with this sequence number (160 bytes of mu-law, 20 ms). */
  media(seq: number): string;
  /** The carrier's echo of a mark it has played. */
  markEcho(seq: number, name: string): string;
  stop(seq: number, sid: string): string;
  /** The first sequence number after the opening. */
  firstSeq: number;
  streamSid: string;
  /** What the carrier receives for the assistant's media, mark and clear. */
  expectMedia(payload: string): Json;
  expectMark(name: string): Json;
  expectClear(): Json;
}

const DRIVERS: Driver[] = [
  {
    name: 'twilio',
    callTo: twilioCallTo,
    opening: (callId, token, sid) => [CONNECTED, twilioStart(callId, token, sid)],
    media: mediaFrame,
    markEcho: (seq, name) => JSON.stringify({ event: 'mark', sequenceNumber: String(seq), streamSid: STREAM_SID, mark: { name } }),
    stop: (seq, sid) =>
      JSON.stringify({ event: 'stop', sequenceNumber: String(seq), streamSid: STREAM_SID, stop: { accountSid: 'AC' + '2'.repeat(32), callSid: sid } }),
    firstSeq: 3,
    streamSid: STREAM_SID,
    // Relayed untouched: exactly what the transport wrote.
    expectMedia: (payload) => ({ event: 'media', streamSid: STREAM_SID, media: { payload } }),
    expectMark: (name) => ({ event: 'mark', streamSid: STREAM_SID, mark: { name } }),
    expectClear: () => ({ event: 'clear', streamSid: STREAM_SID }),
  },
  {
    name: 'telnyx',
    callTo: telnyxCallTo,
    opening: (callId, token, sid) => [TELNYX_CONNECTED, telnyxStart(callId, token, sid)],
    media: telnyxMediaFrame,
    markEcho: (seq, name) => JSON.stringify({ event: 'mark', sequence_number: String(seq), stream_id: TELNYX_STREAM_ID, mark: { name } }),
    stop: (seq, sid) => telnyxStop(seq, sid),
    firstSeq: 2,
    streamSid: TELNYX_STREAM_ID,
    // Telnyx's dialect: no streamSid.
    expectMedia: (payload) => ({ event: 'media', media: { payload } }),
    expectMark: (name) => ({ event: 'mark', mark: { name } }),
    expectClear: () => ({ event: 'clear' }),
  },
];

/** Settles with the promise, or fails naming what did not happen in time. */
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

/** Distinct mu-law audio: `ms` milliseconds (8 bytes each) starting at `seed`. */
const audio = (ms: number, seed: number): string => Buffer.from(Array.from({ length: ms * 8 }, (_, i) => (seed + i * 7) & 0xff)).toString('base64');

// --- The test -------------------------------------------------------------------

describe('OpenAI TwilioRealtimeTransportLayer as the assistant behind the gateway', () => {
  let t: TestGateway;
  let base: string;
  let e164: string;
  let realtime: FakeRealtime;
  let assistant: Awaited<ReturnType<typeof sdkAssistant>>;
  const sockets: WebSocket[] = [];
  const realFetch = globalThis.fetch;
  const offLoopback: string[] = [];

  beforeAll(async () => {
    // No traces to OpenAI (NODE_ENV=test disables them already; this does not depend on it).
    setTracingDisabled(true);
    setTraceProcessors([]);
    globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
        offLoopback.push(url.href);
        throw new Error(`test: fetch to a non-loopback address refused: ${url.href}`);
      }
      return realFetch(input, init);
    }) as typeof fetch;
    t = await startGateway({ env: { ...CARRIER_ENV } });
    base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    realtime = await fakeRealtime();
    assistant = await sdkAssistant(realtime.url);
    const team = await createTeam(t, 'openai-interop', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    const numberId = await buyActive(t, team, e164);
    const assistantId = await newAssistant(t, team, 'openai-sdk', assistant.url);
    await assign(t, team, assistantId, [numberId]);
  });

  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await assistant?.close();
    await realtime?.close();
    await t?.close().catch(() => {});
    globalThis.fetch = realFetch;
    expect(offLoopback).toEqual([]);
  });

  it.each(DRIVERS)('$name call: start, caller audio, model audio, marks and barge-in cross the gateway intact', async (d) => {
    const n = assistant.calls.length;
    const { sid, callId, token } = await d.callTo(t, e164);
    const c = await carrierSocket(`${base}/media/${d.name}`);
    sockets.push(c.ws);
    for (const f of d.opening(callId, token, sid)) c.ws.send(f);
    let seq = d.firstSeq;

    // The gateway dialled the assistant; its session reached the fake Realtime server.
    const a = (await eventually(() => assistant.calls[n]))!;
    await within(a.ready, 5000, 'the RealtimeSession connecting to the fake Realtime server');
    const rt = (await eventually(() => realtime.connections[n]))!;
    expect(rt.authorization).toBe('Bearer sk-test-loopback-only');
    expect(rt.url).toBe('/v1/realtime?model=gpt-realtime');
    // Mu-law both ways, which is what the gateway carries.
    const update = await eventually(() => rt.events.find((e) => e.type === 'session.update' && e.session?.audio));
    expect(update?.session?.audio).toMatchObject({ input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } });

    // 1. The transport saw connected, then start with this call's parameters and no media token.
    await eventually(() => a.heard.length >= 2);
    expect(a.heard[0]).toMatchObject({ event: 'connected' });
    expect(a.heard[1]).toMatchObject({
      event: 'start',
      streamSid: d.streamSid,
      start: { streamSid: d.streamSid, callSid: sid, customParameters: { callId }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
    });
    expect(a.heard[1]!.start.customParameters).not.toHaveProperty('token');
    expect(JSON.stringify(a.heard)).not.toContain(token);

    // 2. The caller's audio reaches the Realtime API byte for byte, in order, and nothing else
    //    with it (a timestamp gap would have the transport insert silence).
    const callerFrames = Array.from({ length: 6 }, () => d.media(seq++));
    for (const f of callerFrames) c.ws.send(f);
    const appended = () => rt.events.filter((e) => e.type === 'input_audio_buffer.append').map((e) => e.audio as string);
    await eventually(() => appended().length >= callerFrames.length);
    expect(appended()).toEqual(callerFrames.map((f) => JSON.parse(f).media.payload));

    // 3. The model answers: its audio and the transport's marks reach the carrier, in order.
    const d1 = audio(20, 1);
    const d2 = audio(20, 2);
    const delta = (response_id: string, item_id: string, payload: string) => ({
      type: 'response.output_audio.delta',
      response_id,
      item_id,
      output_index: 0,
      content_index: 0,
      delta: payload,
    });
    rt.send({ type: 'response.created', response: { id: 'resp_1', object: 'realtime.response', status: 'in_progress', output: [] } });
    rt.send(delta('resp_1', 'item_1', d1));
    rt.send(delta('resp_1', 'item_1', d2));
    rt.send({ type: 'response.output_audio.done', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0 });
    rt.send({ type: 'response.done', response: { id: 'resp_1', object: 'realtime.response', status: 'completed', output: [] } });
    await eventually(() => c.received.length >= 5);
    const first = c.received.slice(0, 5).map((m) => JSON.parse(m) as Json);
    const marks1 = first.filter((m) => m.event === 'mark').map((m) => m.mark.name as string);
    expect(marks1).toHaveLength(3);
    expect(first).toEqual([d.expectMedia(d1), d.expectMark(marks1[0]!), d.expectMedia(d2), d.expectMark(marks1[1]!), d.expectMark(marks1[2]!)]);

    // The carrier plays it all and says so: every mark comes back through the gateway.
    for (const name of marks1) c.ws.send(d.markEcho(seq++, name));
    await eventually(() => marks1.every((name) => a.heard.some((m) => m.event === 'mark' && m.mark?.name === name)));
    for (const name of marks1) expect(a.heard.find((m) => m.mark?.name === name)).toMatchObject({ event: 'mark', streamSid: d.streamSid });

    // 4. A second answer, 200 ms in two deltas; the carrier has played only the first 100 ms.
    const d3 = audio(100, 3);
    const d4 = audio(100, 4);
    rt.send({ type: 'response.created', response: { id: 'resp_2', object: 'realtime.response', status: 'in_progress', output: [] } });
    rt.send(delta('resp_2', 'item_2', d3));
    rt.send(delta('resp_2', 'item_2', d4));
    await eventually(() => c.received.length >= 9);
    const second = c.received.slice(5, 9).map((m) => JSON.parse(m) as Json);
    const marks2 = second.filter((m) => m.event === 'mark').map((m) => m.mark.name as string);
    expect(second).toEqual([d.expectMedia(d3), d.expectMark(marks2[0]!), d.expectMedia(d4), d.expectMark(marks2[1]!)]);
    c.ws.send(d.markEcho(seq++, marks2[0]!));
    await eventually(() => a.heard.some((m) => m.event === 'mark' && m.mark?.name === marks2[0]));

    // The caller barges in: the carrier is told to clear its buffer, and the model's item is
    // cut where the carrier's marks say playback got to (100 ms played + the SDK's 50 ms
    // allowance). Had any mark name been lost or changed on the way, the first answer would
    // be truncated too, or this one at 50 ms.
    const before = rt.events.length;
    rt.send({ type: 'input_audio_buffer.speech_started', item_id: 'item_in_1', audio_start_ms: 120 });
    await eventually(() => c.received.length >= 10 && rt.events.slice(before).some((e) => e.type === 'conversation.item.truncate'));
    expect(JSON.parse(c.received[9]!)).toEqual(d.expectClear());
    // The transport also cancels the response, and nothing else (but, once the caller has
    // been quiet for 750 ms, the silence it pads a speaking caller's input with).
    expect(rt.events.slice(before).filter((e) => e.type !== 'input_audio_buffer.append')).toEqual([
      { type: 'response.cancel' },
      { type: 'conversation.item.truncate', item_id: 'item_2', content_index: 0, audio_end_ms: 150 },
    ]);

    // 5. The caller hangs up: the gateway ends the call and closes the assistant's socket,
    //    and the transport closes its Realtime leg.
    c.ws.send(d.stop(seq++, sid));
    c.ws.close();
    await within(rt.closed, 5000, 'the transport closing its Realtime socket after the hang-up');
    await eventually(async () => (await callRow(t, sid))?.end_reason === 'carrier_hangup');
    expect(c.received.length).toBe(10);
    expect(a.errors).toEqual([]);
  });
});
