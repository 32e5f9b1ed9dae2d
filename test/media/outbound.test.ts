import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import {
  CARRIER_ENV,
  assign,
  callSid,
  newAssistant,
  parseTwiml,
  telnyxCallId,
  telnyxConnectAction,
  telnyxStatus,
  twilioConnectAction,
  twilioStatus,
} from '../helpers/carrier.js';
import {
  CONNECTED,
  TELNYX_CONNECTED,
  carrierSocket,
  fakeAssistant,
  mediaFrame,
  telnyxMediaFrame,
  telnyxStart,
  twilioStart,
  type FakeAssistant,
  callRecord,
} from '../helpers/media.js';

describe('outbound calls through the media bridge', () => {
  let t: TestGateway;
  let base: string;
  let assistant: FakeAssistant;
  beforeAll(async () => {
    t = await startGateway({ env: CARRIER_ENV });
    base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    assistant = await fakeAssistant({ echo: true });
  });
  afterAll(async () => {
    await assistant.close();
    await t.close();
  });

  it('learns the CallSid from the stream start, so status callbacks and connect-action find the call', async () => {
    const team = await createTeam(t, 'dialer', 'starter');
    const asst = await newAssistant(t, team, 'outbound-agent', assistant.url);
    const [e164] = await availableNumbers(t, 'US', 1);
    await assign(t, team, asst, [await buyActive(t, team, e164!)]);

    const res = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: asst, to: '+12125550123' }).expect(200);
    const twiml = parseTwiml(res.body.twiml);
    const sid = callSid();
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(twiml.callId!, twiml.token!, sid));
    for (let i = 3; i < 13; i++) c.ws.send(mediaFrame(i));
    await eventually(() => c.received.length === 10);

    const call = await callRecord(t, res.body.callId);
    expect(call).toMatchObject({ direction: 'outbound', carrierCallId: sid, status: 'in-progress', assistantId: asst });

    await twilioStatus(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '7' }).expect(204);
    c.ws.close();
    await eventually(async () => (await callRecord(t, res.body.callId)).endedAt !== null);
    expect(await callRecord(t, res.body.callId)).toMatchObject({ status: 'completed', durationSec: 7 });
    const action = await twilioConnectAction(t, { CallSid: sid }).expect(200);
    expect(action.text).toContain('<Hangup/>');
  });

  it("a Telnyx number's outbound call goes through Telnyx: TeXML back to /media/telnyx, and the call control id is learnt from the stream", async () => {
    const team = await createTeam(t, 'telnyx-dialer', 'starter');
    const asst = await newAssistant(t, team, 'telnyx-agent', assistant.url);
    const [e164] = await availableNumbers(t, 'US', 1);
    const numberId = await buyActive(t, team, e164!);
    await assign(t, team, asst, [numberId]);
    // As if bought from Telnyx (the provider is not configured in this test; only the carrier choice matters).
    await t.sql.run(`UPDATE phone_numbers SET provider = 'telnyx' WHERE id = ?`, numberId);

    const res = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: asst, to: '+12125550123' }).expect(200);
    expect(res.body).toMatchObject({ carrier: 'telnyx', callerId: e164 });
    expect(res.body.twiml).toMatch(/<Stream url="wss:\/\/[^"]+\/media\/telnyx" bidirectionalMode="rtp" bidirectionalCodec="PCMU"/);
    const texml = parseTwiml(res.body.twiml);
    const controlId = telnyxCallId();
    const c = await carrierSocket(`${base}/media/telnyx`);
    c.ws.send(TELNYX_CONNECTED);
    c.ws.send(telnyxStart(texml.callId!, texml.token!, controlId));
    for (let i = 2; i < 12; i++) c.ws.send(telnyxMediaFrame(i));
    await eventually(() => c.received.length === 10);
    expect(JSON.parse(c.received[0]!)).toEqual({ event: 'media', media: { payload: JSON.parse(telnyxMediaFrame(2)).media.payload } });
    expect(await callRecord(t, res.body.callId)).toMatchObject({ direction: 'outbound', carrier: 'telnyx', carrierCallId: controlId, status: 'in-progress' });

    await telnyxStatus(t, { CallSid: controlId, CallStatus: 'completed', CallDuration: '5' }).expect(204);
    c.ws.close();
    await eventually(async () => (await callRecord(t, res.body.callId)).endedAt !== null);
    expect(await callRecord(t, res.body.callId)).toMatchObject({ status: 'completed', durationSec: 5 });
    expect((await telnyxConnectAction(t, { CallSid: controlId }).expect(200)).text).toContain('<Hangup/>');
  });

  it("a Twilio-shaped stream id never binds to a Telnyx call, nor a Telnyx one to a Twilio call's record", async () => {
    const team = await createTeam(t, 'bind-check', 'starter');
    const asst = await newAssistant(t, team, 'bind-agent', assistant.url);
    const [e164] = await availableNumbers(t, 'US', 1);
    await assign(t, team, asst, [await buyActive(t, team, e164!)]);
    const res = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: asst, to: '+12125550123' }).expect(200);
    const twiml = parseTwiml(res.body.twiml);
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(twiml.callId!, twiml.token!, 'v3:not-a-twilio-sid'));
    c.ws.send(mediaFrame(3));
    await eventually(() => c.received.length === 1);
    expect((await callRecord(t, res.body.callId)).carrierCallId).toBeNull();
    c.ws.close();
  });
});
