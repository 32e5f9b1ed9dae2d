// A routed call whose media stream never opens (the carrier never connected,
// or a walk-through's curl) must not stay `routed`, counted live, forever:
// once its media token can no longer open a stream, the sweeper's leader
// fails it with reason stream_never_opened. Outbound calls get their ring
// allowance first; a call whose stream opened is left alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/clock.js';
import { CARRIER_ENV, assign, newAssistant, twilioCallTo, twilioStatus } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, callRecord, carrierSocket, fakeAssistant, twilioStart, type FakeAssistant } from '../helpers/media.js';

describe('calls whose media stream never opened', () => {
  let t: TestGateway;
  let base: string;
  let e164: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let assistant: FakeAssistant;
  let agent: string;
  const clock = () => t.clock as ManualClock;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_MEDIA_TOKEN_TTL_S: '60' } });
    base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    team = await createTeam(t, 'unstreamed', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    assistant = await fakeAssistant();
    agent = await newAssistant(t, team, 'agent', assistant.url);
    await assign(t, team, agent, [await buyActive(t, team, e164)]);
  });
  afterAll(async () => {
    await assistant.close();
    await t.close();
  });

  it('an inbound call never bridged fails 60 s after routing (not before); a bridged one stays as it is', async () => {
    const lonely = await twilioCallTo(t, e164);
    const bridged = await twilioCallTo(t, e164);
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(bridged.callId, bridged.token, bridged.sid));
    await eventually(async () => (await callRecord(t, bridged.callId)).status === 'in-progress');

    clock().advance(59_000);
    await t.gw.sweep();
    expect(await callRecord(t, lonely.callId)).toMatchObject({ status: 'routed', endedAt: null });

    clock().advance(2000);
    await t.gw.sweep();
    expect(await callRecord(t, lonely.callId)).toMatchObject({ status: 'failed', reason: 'stream_never_opened', endedAt: clock().now() });
    expect(await callRecord(t, bridged.callId)).toMatchObject({ status: 'in-progress', endedAt: null });

    // The carrier's late word changes its progress, not the verdict.
    await twilioStatus(t, { CallSid: lonely.sid, CallStatus: 'completed', CallDuration: '3' }).expect(204);
    expect(await callRecord(t, lonely.callId)).toMatchObject({ status: 'failed', reason: 'stream_never_opened', carrierStatus: 'completed' });
    c.ws.close();
  });

  it('an outbound call may ring for 600 s more before it fails', async () => {
    const res = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: agent, to: '+12125550123' }).expect(200);
    clock().advance(61_000);
    await t.gw.sweep();
    expect(await callRecord(t, res.body.callId)).toMatchObject({ direction: 'outbound', status: 'routed' });
    clock().advance(600_000);
    await t.gw.sweep();
    expect(await callRecord(t, res.body.callId)).toMatchObject({ status: 'failed', reason: 'stream_never_opened' });
  });

  it('a call rejected at routing is left alone', async () => {
    const [unknown] = await availableNumbers(t, 'US', 1);
    const rejected = await twilioCallTo(t, unknown!).catch(() => null);
    expect(rejected).toBeNull(); // no callId: the answer was a Reject
    clock().advance(120_000);
    await t.gw.sweep();
    const rows = await t.sql.all<{ status: string }>(`SELECT status FROM calls WHERE to_number = ?`, unknown);
    expect(rows.map((r) => r.status)).toEqual(['rejected']);
  });
});
