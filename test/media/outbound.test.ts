import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CARRIER_ENV, assign, callSid, newAssistant, parseTwiml, twilioConnectAction, twilioStatus } from '../helpers/carrier.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant, callRecord } from '../helpers/media.js';

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

    const call = (await callRecord(t, res.body.callId));
    expect(call).toMatchObject({ direction: 'outbound', carrierCallId: sid, status: 'in-progress', assistantId: asst });

    await twilioStatus(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '7' }).expect(204);
    c.ws.close();
    await eventually(async () => (await callRecord(t, res.body.callId)).endedAt !== null);
    expect((await callRecord(t, res.body.callId))).toMatchObject({ status: 'completed', durationSec: 7 });
    const action = await twilioConnectAction(t, { CallSid: sid }).expect(200);
    expect(action.text).toContain('<Hangup/>');
  });
});
