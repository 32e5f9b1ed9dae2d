// The media address policy end to end, on loopback only. With
// SWITCHBOARD_MEDIA_ALLOWED_NETWORKS set to a range without loopback, an
// assistant on 127.0.0.1 (as an IP, and as the hostname "localhost", which
// goes through the connect-time DNS check) must receive no connection at all,
// and the call must fail fast as assistant_unreachable with the policy named
// in the record's reason. No packet leaves loopback: 203.0.113.0/24 is only
// ever an allow-list entry, never a destination.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, assign, newAssistant, parseTwiml, twilioCallTo, twilioConnectAction } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, twilioStart, type FakeAssistant } from '../helpers/media.js';

async function setup(allowed: string) {
  const t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_MEDIA_ALLOWED_NETWORKS: allowed } });
  const addr = await t.gw.listen();
  const team = await createTeam(t, 'policy', 'pro');
  const [e164] = (await availableNumbers(t, 'US', 1)) as [string];
  const numberId = await buyActive(t, team, e164);
  return { t, base: `ws://127.0.0.1:${addr.port}`, team, e164, numberId };
}

describe('an allow-list without loopback', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  let assistant: FakeAssistant;

  beforeAll(async () => {
    s = await setup('203.0.113.0/24');
    assistant = await fakeAssistant({ echo: true });
  });
  afterAll(async () => {
    await assistant.close();
    await s.t.close();
  });

  it.each([
    ['an IP literal', (port: string) => `ws://127.0.0.1:${port}/stream`],
    ['a hostname resolved at connect time', (port: string) => `ws://localhost:${port}/stream`],
  ])('%s: the assistant gets no connection, the call fails fast, the record says why, the caller hears the apology', async (_name, url) => {
    const port = new URL(assistant.url).port;
    const id = await newAssistant(s.t, s.team, 'on-loopback', url(port));
    await assign(s.t, s.team, id, [s.numberId]);
    const before = assistant.connections.length;

    const call = await twilioCallTo(s.t, s.e164);
    const c = await carrierSocket(`${s.base}/media/twilio`);
    const opened = Date.now();
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(call.callId, call.token, call.sid));
    const closed = await c.closed;
    expect(Date.now() - opened).toBeLessThan(1500);
    expect(closed.code).toBe(1011);
    expect(c.received).toEqual([]);

    // Give a connection that should not exist a moment to show up anyway.
    await new Promise((r) => setTimeout(r, 200));
    expect(assistant.connections.length).toBe(before);

    const rec = (await s.t.api.get(`/api/calls/${call.callId}`).set(s.team.auth).expect(200)).body.call;
    expect(rec).toMatchObject({ status: 'failed', endReason: 'assistant_unreachable', reason: 'media_address_refused', answeredAt: null });
    const line = s.t.logs.find((l) => l.msg === 'assistant address refused by the media address policy' && l.callId === call.callId);
    expect(line?.err).toMatch(/SWITCHBOARD_MEDIA_ALLOWED_NETWORKS/);

    const next = await twilioConnectAction(s.t, { CallSid: call.sid, CallStatus: 'in-progress' });
    expect(parseTwiml(next.text).say).toBeTruthy();
  });
});

describe('an allow-list with loopback', () => {
  it('the same assistant on 127.0.0.1 is reached and relays', async () => {
    const s = await setup('127.0.0.0/8, ::1');
    const assistant = await fakeAssistant({ echo: true });
    try {
      const id = await newAssistant(s.t, s.team, 'allowed', assistant.url);
      await assign(s.t, s.team, id, [s.numberId]);
      const call = await twilioCallTo(s.t, s.e164);
      const c = await carrierSocket(`${s.base}/media/twilio`);
      c.ws.send(CONNECTED);
      c.ws.send(twilioStart(call.callId, call.token, call.sid));
      await eventually(() => assistant.received[0]?.length === 2);
      c.ws.close();
    } finally {
      await assistant.close();
      await s.t.close();
    }
  });
});
