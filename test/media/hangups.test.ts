// How a bridged call ends (api.md section 4): either side closing closes the
// other and completes the record; an assistant that cannot be reached (port
// closed, HTTP 500 instead of 101, no answer within 5 s) closes the carrier
// stream, fails the call with assistant_unreachable, and Twilio's
// connect-action request for that call gets the spoken apology.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/clock.js';
import { CARRIER_ENV, assign, newAssistant, parseTwiml, twilioConnectAction, twilioCallTo } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant, callRecord } from '../helpers/media.js';

describe('hang-ups and unreachable assistants', () => {
  let t: TestGateway;
  let base: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let numberId: string;
  let e164: string;
  let assistant: FakeAssistant;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    team = await createTeam(t, 'hangups', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    numberId = await buyActive(t, team, e164);
    assistant = await fakeAssistant({ echo: true });
  });
  afterAll(async () => {
    for (const c of cleanups) await c();
    await assistant.close();
    await t.close();
  });

  const clock = () => t.clock as ManualClock;

  /** Points the number at a new assistant with this media URL. */
  async function routeTo(mediaUrl: string, name: string) {
    const id = await newAssistant(t, team, name, mediaUrl);
    await assign(t, team, id, [numberId]);
    return id;
  }

  const twilioCall = () => twilioCallTo(t, e164);

  /** The call as the calls API shows it. */
  async function apiCall(id: string) {
    const res = await t.api.get(`/api/calls/${id}`).set(team.auth).expect(200);
    return res.body.call as Record<string, any>;
  }

  async function openBridged(call: { sid: string; callId: string; token: string }) {
    const conn = assistant.connections.length;
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(call.callId, call.token, call.sid));
    await eventually(() => assistant.received[conn]?.length === 2);
    await eventually(async () => (await callRecord(t, call.callId)).answeredAt !== null);
    return { c, conn };
  }

  it('carrier hangs up first: the assistant is closed with 1000 and the call completes as carrier_hangup', async () => {
    await routeTo(assistant.url, 'echo-1');
    const call = await twilioCall();
    const { c, conn } = await openBridged(call);
    expect(t.gw.liveCalls.size).toBe(1);
    const live = await apiCall(call.callId);
    expect(live.status).toBe('in-progress');
    expect(live.answeredAt).not.toBeNull();
    expect(live.endedAt).toBeNull();

    for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
    await eventually(() => c.received.length === 10);
    clock().advance(7_000); // seven seconds of conversation
    c.ws.close(1000, 'bye');

    expect((await assistant.closed(conn + 1)).code).toBe(1000);
    await eventually(() => t.gw.liveCalls.size === 0);
    await eventually(async () => (await apiCall(call.callId)).endedAt !== null);
    const ended = await apiCall(call.callId);
    expect(ended.status).toBe('completed');
    expect(ended.endReason).toBe('carrier_hangup');
    expect(ended.durationSec).toBe(7);
    expect(Date.parse(ended.endedAt) - Date.parse(ended.answeredAt)).toBe(7_000);
    expect(ended.reason).toBeNull();

    // Twilio asks what next once the stream has closed: just hang up, no apology.
    const next = await twilioConnectAction(t, { CallSid: call.sid, CallStatus: 'in-progress' });
    expect(next.status).toBe(200);
    const tw = parseTwiml(next.text);
    expect(tw.hangup).toBe(true);
    expect(tw.say).toBeNull();
  });

  it('assistant hangs up first: the carrier stream is closed with 1000 and the call completes as assistant_hangup', async () => {
    await routeTo(assistant.url, 'echo-2');
    const call = await twilioCall();
    const { c, conn } = await openBridged(call);
    clock().advance(3_000);
    assistant.connections[conn]!.close(1000, 'goodbye');

    const closed = await c.closed;
    expect(closed.code).toBe(1000);
    await eventually(() => t.gw.liveCalls.size === 0);
    await eventually(async () => (await apiCall(call.callId)).endedAt !== null);
    const ended = await apiCall(call.callId);
    expect(ended.status).toBe('completed');
    expect(ended.endReason).toBe('assistant_hangup');
    expect(ended.durationSec).toBe(3);
  });

  /**
   * Opens a stream to an unreachable assistant; checks what the carrier, the
   * record and Twilio's connect-action request see. Returns how long the
   * carrier's stream stayed open.
   */
  async function expectUnreachable(mediaUrl: string, name: string): Promise<number> {
    await routeTo(mediaUrl, name);
    const call = await twilioCall();
    const c = await carrierSocket(`${base}/media/twilio`);
    const opened = Date.now();
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(call.callId, call.token, call.sid));
    for (let i = 3; i < 8; i++) c.ws.send(mediaFrame(i)); // queued while connecting, then dropped
    const closed = await c.closed;
    const openMs = Date.now() - opened;
    expect(closed.code).not.toBe(1000); // not a normal hang-up
    expect(c.received).toEqual([]);
    expect(t.gw.liveCalls.size).toBe(0);

    const rec = await apiCall(call.callId);
    expect(rec.status).toBe('failed');
    expect(rec.reason).toBe('assistant_unreachable');
    expect(rec.endReason).toBe('assistant_unreachable');
    expect(rec.answeredAt).toBeNull();
    expect(rec.endedAt).not.toBeNull();

    // Twilio requests the <Connect action> right after the stream closed.
    const next = await twilioConnectAction(t, { CallSid: call.sid, CallStatus: 'in-progress' });
    expect(next.status).toBe(200);
    expect(next.headers['content-type']).toMatch(/^text\/xml/);
    const tw = parseTwiml(next.text);
    expect(tw.say, next.text).toBeTruthy();
    expect(tw.hangup).toBe(true);
    expect(next.text.indexOf('<Say')).toBeLessThan(next.text.indexOf('<Hangup'));
    return openMs;
  }

  it('assistant unreachable: connection refused', async () => {
    // A port that was free a moment ago and has nobody listening.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const ms = await expectUnreachable(`ws://127.0.0.1:${port}/stream`, 'refused');
    expect(ms).toBeLessThan(2000);
  });

  it('assistant unreachable: the upgrade is answered with HTTP 500', async () => {
    let asked = 0;
    const server = http.createServer((_req, res) => res.writeHead(500).end('boom'));
    server.on('upgrade', (_req, socket: Socket) => {
      asked++;
      socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const ms = await expectUnreachable(`ws://127.0.0.1:${port}/stream`, 'http-500');
    expect(asked).toBe(1);
    expect(ms).toBeLessThan(2000);
  });

  it('assistant unreachable: TCP accepted but the upgrade is never answered (5 s timeout)', async () => {
    const sockets: Socket[] = [];
    const blackHole = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      s.resume(); // read and ignore the upgrade request
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          blackHole.close(() => r());
        }),
    );
    const port = (blackHole.address() as AddressInfo).port;
    const ms = await expectUnreachable(`ws://127.0.0.1:${port}/stream`, 'black-hole');
    expect(sockets.length).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(4500);
    expect(ms).toBeLessThan(7000);
  }, 10_000);
});
