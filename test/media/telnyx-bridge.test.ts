// A Telnyx stream through the real gateway: frames that arrive out of order
// reach the assistant in order; hostile frames are dropped and counted while
// the call goes on; binary from the assistant never reaches Telnyx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, assign, callRow, newAssistant, telnyxCallTo } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { TELNYX_CONNECTED, carrierSocket, fakeAssistant, telnyxMediaFrame, telnyxStart, type FakeAssistant } from '../helpers/media.js';

describe('Telnyx media through the gateway', () => {
  let t: TestGateway;
  let base: string;
  let e164: string;
  let assistant: FakeAssistant;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    const team = await createTeam(t, 'telnyx-bridge', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    assistant = await fakeAssistant();
    await assign(t, team, await newAssistant(t, team, 'agent', assistant.url), [await buyActive(t, team, e164)]);
  });
  afterAll(async () => {
    await assistant.close();
    await t.close();
  });

  async function open() {
    const call = await telnyxCallTo(t, e164);
    const n = assistant.connections.length;
    const c = await carrierSocket(`${base}/media/telnyx`);
    c.ws.send(TELNYX_CONNECTED);
    c.ws.send(telnyxStart(call.callId, call.token, call.sid));
    await eventually(() => (assistant.received[n]?.length ?? 0) >= 2);
    return { ...call, c, heard: () => assistant.received[n]!.map((m) => JSON.parse(m)), conn: () => assistant.connections[n]! };
  }

  const metric = async (name: string) => {
    const text = (await t.api.get('/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  it('frames sent out of order reach the assistant in order', async () => {
    const { c, heard, sid } = await open();
    const order = [2, 3, 5, 4, 6, 8, 7, 9, 11, 10];
    for (const seq of order) c.ws.send(telnyxMediaFrame(seq));
    await eventually(() => heard().length >= 2 + order.length);
    expect(
      heard()
        .slice(2)
        .map((m) => Number(m.sequenceNumber)),
    ).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await metric('switchboard_media_frames_reordered_total')).toBeGreaterThanOrEqual(3);
    c.ws.close();
    await eventually(async () => (await callRow(t, sid))?.end_reason === 'carrier_hangup');
  });

  it('unknown events, bad JSON and bad base64 are dropped and counted; the call goes on', async () => {
    const before = await metric('switchboard_media_frames_dropped_total{reason="bad_frame"}');
    const { c, heard, sid } = await open();
    c.ws.send('{"event":"surprise","sequence_number":"2"}');
    c.ws.send('not json at all');
    c.ws.send(JSON.stringify({ event: 'media', sequence_number: '2', media: { payload: '%%%' } }));
    c.ws.send(Buffer.from([0, 1, 2, 3]));
    c.ws.send(telnyxMediaFrame(2));
    c.ws.send(telnyxMediaFrame(3));
    await eventually(() => heard().length >= 4);
    expect(
      heard()
        .slice(2)
        .map((m) => m.sequenceNumber),
    ).toEqual(['2', '3']);
    expect(await metric('switchboard_media_frames_dropped_total{reason="bad_frame"}')).toBe(before + 4);
    expect(await callRow(t, sid)).toMatchObject({ status: 'in-progress', end_reason: null });
    c.ws.close();
  });

  it("the assistant's binary frames and unknown events never reach Telnyx", async () => {
    const { c, conn } = await open();
    conn().send(Buffer.from([1, 2, 3]), { binary: true });
    conn().send(JSON.stringify({ event: 'dance' }));
    conn().send(JSON.stringify({ event: 'media', streamSid: 'x', media: { payload: 'AAAA' } }));
    await eventually(() => c.received.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received).toEqual(['{"event":"media","media":{"payload":"AAAA"}}']);
    expect(await metric('switchboard_media_frames_dropped_total{reason="binary_to_carrier"}')).toBeGreaterThanOrEqual(1);
    expect(await metric('switchboard_media_frames_dropped_total{reason="untranslatable"}')).toBeGreaterThanOrEqual(1);
    c.ws.close();
  });

  it("a Telnyx call's token does not open /media/twilio, nor a Twilio-shaped start on /media/telnyx", async () => {
    const call = await telnyxCallTo(t, e164);
    const tw = await carrierSocket(`${base}/media/twilio`);
    tw.ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: 'MZ1',
        start: { callSid: 'CA' + '1'.repeat(32), customParameters: { callId: call.callId, token: call.token } },
      }),
    );
    expect(await tw.closed).toEqual({ code: 1008, reason: 'wrong_media_endpoint' });
    const tx = await carrierSocket(`${base}/media/telnyx`);
    for (let i = 0; i < 16; i++) tx.ws.send(TELNYX_CONNECTED);
    expect(await tx.closed).toEqual({ code: 1008, reason: 'protocol_violation' });
  });
});
