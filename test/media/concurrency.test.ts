// 100 calls bridged at once: no frame of one call lost, reordered or mixed
// into another; the live-call registry counts them and drains to zero; every
// record ends completed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CARRIER_ENV, assign, callSid, newAssistant, parseTwiml, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, relayed, carrierSocket, fakeAssistant, twilioStart, type FakeAssistant, callRecord } from '../helpers/media.js';

const CALLS = 100;
const FRAMES = 50;

/** A media frame whose payload names its call and position, so a mix-up is visible. */
function frame(call: number, seq: number): string {
  const payload = Buffer.from(`call-${call}-frame-${seq}-`.padEnd(160, '.')).toString('base64');
  return JSON.stringify({
    event: 'media',
    sequenceNumber: String(seq),
    streamSid: `MZ${String(call).padStart(32, '0')}`,
    media: { track: 'inbound', chunk: String(seq - 2), timestamp: String((seq - 2) * 20), payload },
  });
}

describe('100 concurrent bridged calls', () => {
  let t: TestGateway;
  let base: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  const fakes: FakeAssistant[] = [];

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    team = await createTeam(t, 'busy', 'pro');
    for (let i = 0; i < 3; i++) fakes.push(await fakeAssistant({ echo: true }));
  });
  afterAll(async () => {
    for (const f of fakes) await f.close();
    await t.close();
  });

  it("relays every call's frames complete and in order both ways; registry 100 → 0; all completed", async () => {
    // Three assistants, each on its own number.
    const numbers = (await availableNumbers(t, 'US', 3)) as string[];
    const assistantIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const numberId = await buyActive(t, team, numbers[i]!);
      const id = await newAssistant(t, team, `agent-${i}`, fakes[i]!.url);
      await assign(t, team, id, [numberId]);
      assistantIds.push(id);
    }

    // 100 inbound calls, webhooks all at once.
    const routed = await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        const sid = callSid();
        const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: numbers[i % 3]! }));
        expect(res.status).toBe(200);
        const tw = parseTwiml(res.text);
        expect(tw.callId, res.text).toBeTruthy();
        return { i, sid, callId: tw.callId!, token: tw.token!, fake: fakes[i % 3]! };
      }),
    );
    expect(new Set(routed.map((r) => r.callId)).size).toBe(CALLS);

    // 100 carrier sockets, opened together, each sending its 52 frames at once.
    const sentBy = new Map<string, string[]>();
    const carriers = await Promise.all(
      routed.map(async (r) => {
        const c = await carrierSocket(`${base}/media/twilio`);
        const sent = [CONNECTED, twilioStart(r.callId, r.token, r.sid)];
        for (let s = 3; s < 3 + FRAMES; s++) sent.push(frame(r.i, s));
        sentBy.set(r.callId, sent);
        for (const f of sent) c.ws.send(f);
        return { ...r, c };
      }),
    );

    await eventually(() => t.gw.liveCalls.size === CALLS, 10_000);
    await eventually(() => carriers.every((x) => x.c.received.length === FRAMES), 15_000);
    await eventually(() => fakes.reduce((n, f) => n + f.received.reduce((m, r) => m + r.length, 0), 0) === CALLS * (FRAMES + 2), 5000);
    expect(t.gw.liveCalls.size).toBe(CALLS);
    for (let i = 0; i < 3; i++) expect(t.gw.liveCalls.countFor(assistantIds[i]!)).toBe(routed.filter((r) => r.i % 3 === i).length);

    // Each assistant connection holds exactly one call's frames, complete and in order.
    const seen = new Set<string>();
    for (const f of fakes) {
      for (const frames of f.received) {
        const callId = JSON.parse(frames[1]!).start.customParameters.callId as string;
        expect(seen.has(callId)).toBe(false);
        seen.add(callId);
        expect(frames).toEqual(relayed(sentBy.get(callId)!));
        expect(carriers.find((x) => x.callId === callId)!.fake).toBe(f);
      }
    }
    expect(seen.size).toBe(CALLS);
    // Each carrier got its own echoes, in order.
    for (const x of carriers) {
      const payloads = x.c.received.map((m) => Buffer.from(JSON.parse(m).media.payload, 'base64').toString().replace(/\.+$/, ''));
      expect(payloads).toEqual(Array.from({ length: FRAMES }, (_, k) => `call-${x.i}-frame-${k + 3}-`));
    }

    // Everyone hangs up.
    for (const x of carriers) x.c.ws.close(1000);
    await Promise.all(carriers.map((x) => x.c.closed));
    await eventually(() => t.gw.liveCalls.size === 0, 10_000);
    for (const f of fakes) for (let n = 1; n <= f.connections.length; n++) expect((await f.closed(n)).code).toBe(1000);
    expect(fakes.every((f) => f.connections.every((ws) => ws.readyState === WebSocket.CLOSED))).toBe(true);

    await eventually(async () => (await Promise.all(routed.map((r) => callRecord(t, r.callId)))).every((c) => c.endedAt !== null));
    const res = await t.api.get(`/api/calls?teamId=${team.id}&limit=200`).set(team.auth).expect(200);
    const listed = res.body.calls as Array<Record<string, any>>;
    expect(listed.length).toBe(CALLS);
    for (const call of listed) {
      expect(call.status, call.id).toBe('completed');
      expect(call.endReason).toBe('carrier_hangup');
      expect(call.answeredAt).not.toBeNull();
      expect(call.endedAt).not.toBeNull();
    }
  });
});
