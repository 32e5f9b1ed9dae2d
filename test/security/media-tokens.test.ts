// Media tokens expire and open one stream (hardening issue, item 6):
//   - a token opens its stream only within SWITCHBOARD_MEDIA_TOKEN_TTL_S
//     (default 60 s) of routing: later it is closed 1008 with a reason saying
//     it expired, nothing is relayed, the assistant is never connected;
//   - and only once: a second stream with the same token is closed 1008, also
//     when it goes to another gateway on the same database (where no memory
//     of the first stream exists);
//   - a carrier retry of the same webhook within the window gets the very same
//     TwiML (byte for byte, token included), from either gateway.
//
// Real calls: signed Twilio webhooks route them, real WebSockets carry them,
// a fake assistant (a ws server on loopback) receives them. Both gateways
// share one ManualClock, so "60 s later" is exact.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CARRIER_ENV, assign, callSid, newAssistant, twilioCallTo, twilioVoice, voiceParams, genericInbound } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

let clock: ManualClock;
let one: TestGateway;
let two: TestGateway;
let oneUrl: string;
let twoUrl: string;
let assistant: FakeAssistant;
let e164: string;

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  one = await startGateway({ clock, env: { ...CARRIER_ENV }, keepDir: true });
  two = await startGateway({ clock, env: { ...CARRIER_ENV }, dbPath: one.dbPath, keepDir: true });
  oneUrl = `ws://127.0.0.1:${(await one.gw.listen()).port}/media/twilio`;
  twoUrl = `ws://127.0.0.1:${(await two.gw.listen()).port}/media/twilio`;
  assistant = await fakeAssistant({ echo: true });
  const team = await createTeam(one, 'media-tokens');
  [e164] = (await availableNumbers(one, 'US', 1)) as [string];
  const numberId = await buyActive(one, team, e164);
  await assign(one, team, await newAssistant(one, team, 'agent', assistant.url), [numberId]);
});
afterAll(async () => {
  await assistant?.close();
  await two?.close();
  await one?.close();
  if (one) rmSync(one.dir, { recursive: true, force: true });
});

/** Opens a Twilio media stream and sends connected + start with the call's token. */
async function openStream(url: string, call: { callId: string; token: string; sid: string }) {
  const c = await carrierSocket(url);
  c.ws.send(CONNECTED);
  c.ws.send(twilioStart(call.callId, call.token, call.sid));
  return c;
}

const frameCount = () => assistant.received.reduce((n, r) => n + r.length, 0);

describe('a media token opens one stream, once', () => {
  it('the first stream bridges; the same token on the OTHER gateway while it runs is closed 1008 and never reaches the assistant', async () => {
    const call = await twilioCallTo(one, e164);
    const connectionsBefore = assistant.connections.length;
    const first = await openStream(oneUrl, call);
    first.ws.send(mediaFrame(3));
    await eventually(() => first.received.length === 1); // echoed back: bridged end to end
    expect(assistant.connections.length).toBe(connectionsBefore + 1);

    // The second process has no memory of the first stream: only the database does.
    const second = await openStream(twoUrl, call);
    const closed = await second.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe('call_token_used');
    // Same process, same answer.
    const third = await openStream(oneUrl, call);
    expect((await third.closed).code).toBe(1008);
    expect(assistant.connections.length).toBe(connectionsBefore + 1);

    // The first stream was not disturbed.
    first.ws.send(mediaFrame(4));
    await eventually(() => first.received.length === 2);
    first.ws.close(1000);
    await first.closed;
    // And after it ended, the token opens nothing either, on either gateway.
    for (const url of [oneUrl, twoUrl]) expect((await (await openStream(url, call)).closed).code).toBe(1008);
    expect(assistant.connections.length).toBe(connectionsBefore + 1);
  });

  it("refused attempts do not use the call's one stream up: a forged token, or the right one on the wrong endpoint, then the real stream opens", async () => {
    const call = await twilioCallTo(one, e164);
    const [at] = call.token.split('.');
    for (const forged of [`${at}.${'A'.repeat(43)}`, 'A'.repeat(43), '']) {
      const s = await openStream(twoUrl, { ...call, token: forged });
      expect((await s.closed).code).toBe(1008);
    }
    const wrongEndpoint = await carrierSocket(`${oneUrl.replace('/media/twilio', '/media/generic/')}${call.callId}?token=${encodeURIComponent(call.token)}`);
    expect((await wrongEndpoint.closed).code).toBe(1008);
    const before = assistant.connections.length;
    const s = await openStream(oneUrl, call);
    s.ws.send(mediaFrame(3));
    await eventually(() => s.received.length === 1);
    expect(assistant.connections.length).toBe(before + 1);
    s.ws.close(1000);
    await s.closed;
  });

  it('a token routed by one gateway opens its (first) stream on the other', async () => {
    const call = await twilioCallTo(one, e164);
    const before = assistant.connections.length;
    const s = await openStream(twoUrl, call);
    s.ws.send(mediaFrame(3));
    await eventually(() => s.received.length === 1);
    expect(assistant.connections.length).toBe(before + 1);
    s.ws.close(1000);
    await s.closed;
  });
});

describe('a media token expires 60 s after routing', () => {
  it('opened 60 s + 1 ms after routing: closed 1008 "expired", nothing relayed, the assistant never connected, on either gateway', async () => {
    const call = await twilioCallTo(one, e164);
    clock.advance(60_001);
    const connections = assistant.connections.length;
    const frames = frameCount();
    for (const url of [oneUrl, twoUrl]) {
      const s = await openStream(url, call);
      s.ws.send(mediaFrame(3));
      const closed = await s.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/expired/);
      expect(s.received).toEqual([]);
    }
    // Give a wrongly opened assistant socket the time to show up.
    await new Promise((r) => setTimeout(r, 50));
    expect(assistant.connections.length).toBe(connections);
    expect(frameCount()).toBe(frames);
    // Refused streams do not use the token up: an expired one stays expired, it does not become "used".
    expect((await (await openStream(oneUrl, call)).closed).reason).toMatch(/expired/);
  });

  it('opened 60 s after routing exactly: still good', async () => {
    const call = await twilioCallTo(one, e164);
    clock.advance(60_000);
    const before = assistant.connections.length;
    const s = await openStream(twoUrl, call);
    s.ws.send(mediaFrame(3));
    await eventually(() => s.received.length === 1);
    expect(assistant.connections.length).toBe(before + 1);
    s.ws.close(1000);
    await s.closed;
  });

  it('SWITCHBOARD_MEDIA_TOKEN_TTL_S sets the window', async () => {
    const short = await startGateway({ clock, env: { ...CARRIER_ENV, SWITCHBOARD_MEDIA_TOKEN_TTL_S: '5' }, dbPath: one.dbPath, keepDir: true });
    try {
      const url = `ws://127.0.0.1:${(await short.gw.listen()).port}/media/twilio`;
      const call = await twilioCallTo(short, e164);
      clock.advance(5_001);
      const closed = await (await openStream(url, call)).closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/expired/);
      // The 60 s gateways would still take it: the window is the opening gateway's setting.
      const s = await openStream(oneUrl, call);
      s.ws.send(mediaFrame(3));
      await eventually(() => s.received.length === 1);
      s.ws.close(1000);
      await s.closed;
    } finally {
      await short.close();
    }
  });
});

describe('a carrier retry within the window gets the same token', () => {
  it('Twilio: the same webhook again, 2 s and 30 s later, to either gateway: byte-identical TwiML', async () => {
    const params = voiceParams({ CallSid: callSid(), To: e164 });
    const first = await twilioVoice(one, params);
    expect(first.status).toBe(200);
    expect(first.text).toMatch(/<Parameter name="token" value="[^"]+"/);
    clock.advance(2_000);
    const again = await twilioVoice(one, params);
    clock.advance(28_000);
    const elsewhere = await twilioVoice(two, params);
    expect(again.text).toBe(first.text);
    expect(elsewhere.text).toBe(first.text);
  });

  it('generic carrier: the same inbound webhook again, to either gateway: the same media URL and token', async () => {
    const body = { callId: `sip-${callSid()}`, from: '+12025550143', to: e164 };
    const first = await genericInbound(one, body);
    expect(first.status, first.text).toBe(200);
    expect(first.body.mediaUrl).toMatch(/token=/);
    clock.advance(3_000);
    const again = await genericInbound(two, body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });
});
