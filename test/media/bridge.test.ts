import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, relayed, carrierSocket, fakeAssistant, mediaFrame, routedCall, twilioStart, type FakeAssistant, callRecord } from '../helpers/media.js';
import { eventually } from '../helpers/gateway.js';

describe('media bridge', () => {
  let t: TestGateway;
  let base: string;
  let assistant: FakeAssistant;
  beforeAll(async () => {
    t = await startGateway();
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    assistant = await fakeAssistant({ echo: true });
  });
  afterAll(async () => {
    await assistant.close();
    await t.close();
  });

  it('relays hundreds of frames both ways, in order and unchanged, starting with connected and start', async () => {
    const token = await routedCall(t, 'call-1', 'asst-1', assistant.url);
    const c = await carrierSocket(`${base}/media/twilio`);
    const sent = [CONNECTED, twilioStart('call-1', token)];
    for (let i = 3; i < 303; i++) sent.push(mediaFrame(i));
    for (const f of sent) c.ws.send(f);
    await eventually(() => assistant.received[0]?.length === sent.length && c.received.length === 300);
    expect(assistant.received[0]).toEqual(relayed(sent));
    expect(c.received.map((m) => JSON.parse(m).media.payload)).toEqual(sent.slice(2).map((m) => JSON.parse(m).media.payload));
    const rec = await callRecord(t, 'call-1');
    expect(rec.status).toBe('in-progress');
    expect(rec.answeredAt).not.toBeNull();
    c.ws.close(1000);
    expect((await assistant.closed(1)).code).toBe(1000);
    await eventually(async () => (await callRecord(t, 'call-1')).endedAt !== null);
    const ended = await callRecord(t, 'call-1');
    expect(ended.status).toBe('completed');
    expect(ended.endReason).toBe('carrier_hangup');
    expect(t.gw.liveCalls.size).toBe(0);
  });

  it('closes a forged token with 1008 and relays nothing', async () => {
    await routedCall(t, 'call-2', 'asst-1', assistant.url);
    const before = assistant.received.length;
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart('call-2', 'A'.repeat(43)));
    expect((await c.closed).code).toBe(1008);
    expect(assistant.received.length).toBe(before);
  });

  it("refuses a Twilio call's token on the generic endpoint (1008, nothing relayed)", async () => {
    const token = await routedCall(t, 'call-4', 'asst-1', assistant.url);
    const before = assistant.received.length;
    const c = await carrierSocket(`${base}/media/generic/call-4?token=${token}`);
    expect((await c.closed).code).toBe(1008);
    expect(assistant.received.length).toBe(before);
  });

  it('answers 404 before the upgrade on an unknown path', async () => {
    await expect(carrierSocket(`${base}/media/nope`)).rejects.toThrow(/404/);
  });

  it('marks an unreachable assistant and closes the carrier stream', async () => {
    const token = await routedCall(t, 'call-3', 'asst-1', 'ws://127.0.0.1:1/closed');
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart('call-3', token));
    await c.closed;
    const rec = await callRecord(t, 'call-3');
    expect(rec.status).toBe('failed');
    expect(rec.reason).toBe('assistant_unreachable');
  });
});
