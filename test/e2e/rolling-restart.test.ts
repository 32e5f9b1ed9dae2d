// A rolling restart with two real gateway processes on one database (a SQLite
// file, or PostgreSQL in the integration tier's postgres project): the
// process being replaced gets SIGTERM and drains (api.md section 6) while the
// other one takes the new calls, as Twilio does when the primary webhook
// answers 503 and it tries the fallback URL. Live calls on the draining
// process keep relaying until the carrier hangs up, and no answered call's
// record is lost.
import { afterAll, describe, expect, it } from 'vitest';
import { callSid } from '../helpers/carrier.js';
import { fakeAssistant, type FakeAssistant } from '../helpers/media.js';
import { bridge, provisionRoute, stillRelays, twilioVoiceCall } from './calls.js';
import { api as request, e2eDb, gatewayHooks, spawnGateway, until, type Gateway } from './server.js';

const ADMIN = 'sb_admin_e2e_rolling_0123456789abcdef';
const TWILIO = 'tw_e2e_rolling_token';

const fakes: FakeAssistant[] = [];

async function startGateway(name: string, db: string, extra: Record<string, string> = {}): Promise<Gateway> {
  const p = await spawnGateway(
    {
      SWITCHBOARD_DB: db,
      SWITCHBOARD_ADMIN_TOKEN: ADMIN,
      TWILIO_AUTH_TOKEN: TWILIO,
      SIM_PROVISION_MS: '0',
      SWITCHBOARD_API_RATE: '1000000',
      SWITCHBOARD_API_BURST: '1000000',
      ...extra,
    },
    { name },
  );
  await p.waitListening();
  return p;
}

const api = (p: Gateway, method: string, path: string, body?: unknown) => request(p.base, ADMIN, method, path, body);

/** A signed Twilio voice webhook to p, signed with p's own public URL (each is its own webhook URL at Twilio). */
const voice = (p: Gateway, to: string, sid?: string) => twilioVoiceCall(p, TWILIO, to, sid);

const isConnect = (v: Awaited<ReturnType<typeof voice>>) => v.status === 200 && v.twiml!.reject === null && !!v.twiml!.callId;
const isDraining = (l: Record<string, any>) => typeof l.msg === 'string' && l.msg.startsWith('draining');

gatewayHooks();
afterAll(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

describe('rolling restart: two processes on one database, one drains while the other takes the calls', () => {
  it('SIGTERM on process 1: its live calls finish, new calls fail over to process 2, process 1 exits 0, no record lost', async () => {
    const { target, sql } = await e2eDb('switchboard-rolling-');
    const [p1, p2] = await Promise.all([startGateway('process 1', target, { SWITCHBOARD_DRAIN_MS: '15000' }), startGateway('process 2', target)]);
    const fake = await fakeAssistant({ echo: true });
    fakes.push(fake);

    const { e164, assistantId } = await provisionRoute(p1, ADMIN, fake, 'Rolling', 'rolling');

    /** Every CallSid a carrier got a connect answer for, from either process. */
    const answered = new Set<string>();
    const answer = (v: Awaited<ReturnType<typeof voice>>) => {
      if (isConnect(v)) answered.add(v.sid);
      return v;
    };

    // Three live calls through process 1.
    const live = [];
    for (let i = 0; i < 3; i++) {
      const v = answer(await voice(p1, e164));
      expect(isConnect(v), v.text).toBe(true);
      live.push(await bridge(p1, fake, v));
    }

    // A burst of webhooks at process 1 with SIGTERM landing in the middle: each
    // is either answered (and then recorded) or a 503 that Twilio retries at
    // the fallback URL, process 2, with the same CallSid.
    const burst: Array<Promise<Awaited<ReturnType<typeof voice>>>> = [];
    for (let i = 0; i < 20; i++) {
      const sid = callSid();
      burst.push(voice(p1, e164, sid).catch((err: unknown) => ({ sid, status: 0, text: `request failed: ${String(err)}`, twiml: null })));
      if (i === 8) p1.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 3));
    }
    const fellOver: string[] = [];
    for (const v of await Promise.all(burst)) {
      if (v.status === 503) {
        const again = answer(await voice(p2, e164, v.sid));
        expect(isConnect(again), again.text).toBe(true);
        fellOver.push(v.sid);
      } else {
        expect(isConnect(answer(v)), `${v.status} ${v.text}`).toBe(true);
      }
    }
    await p1.waitForLog(isDraining, { what: 'the draining line' });

    // While process 1 drains: it refuses new calls, process 2 answers them.
    expect((await fetch(`${p1.base}/readyz`)).status).toBe(503);
    expect((await fetch(`${p2.base}/readyz`)).status).toBe(200);
    const failover = [];
    for (let i = 0; i < 3; i++) {
      const refused = await voice(p1, e164);
      expect(refused.status, refused.text).toBe(503);
      const v = answer(await voice(p2, e164, refused.sid));
      expect(isConnect(v), v.text).toBe(true);
      expect(v.twiml!.streamUrl).toBe(`ws://127.0.0.1:${new URL(p2.base).port}/media/twilio`);
      failover.push(v);
      fellOver.push(v.sid);
    }
    // A failed-over call bridges through process 2 and completes there.
    const moved = await bridge(p2, fake, failover[0]!);
    await stillRelays(moved.c, fake, moved.conn, 13);
    moved.c.ws.close(1000);
    await fake.closed(moved.conn + 1);

    // The live calls on process 1 keep relaying, and end one by one when the carrier hangs up.
    let seq = 13;
    for (const l of live) await stillRelays(l.c, fake, l.conn, seq);
    seq += 10;
    for (let i = 0; i < live.length; i++) {
      for (const l of live.slice(i)) await stillRelays(l.c, fake, l.conn, seq);
      seq += 10;
      expect(p1.child.exitCode, 'process 1 is still draining').toBeNull();
      const l = live[i]!;
      l.c.ws.close(1000);
      expect((await fake.closed(l.conn + 1)).code).toBe(1000);
      await until(async () => (await api(p2, 'GET', `/api/calls/${l.callId}`)).body.call.status === 'completed', `live call ${i} to be completed`);
      const rec = (await api(p2, 'GET', `/api/calls/${l.callId}`)).body.call;
      expect(rec).toMatchObject({ carrierCallId: l.sid, assistantId, status: 'completed', endReason: 'carrier_hangup' });
      expect(rec.answeredAt).not.toBeNull();
      expect(rec.endedAt).not.toBeNull();
    }
    const exit = await p1.exitWithin(5000);
    expect(exit, 'process 1 should exit soon after its last call ends').not.toBeNull();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(
      p1.lines.some((l) => typeof l.closedLive === 'number' && l.closedLive > 0),
      'no call was cut off by the drain timer',
    ).toBe(false);
    expect(p1.lines.filter(isDraining).some((l) => l.liveCalls === 3)).toBe(true);

    // Process 2 goes on alone.
    const after = answer(await voice(p2, e164));
    expect(isConnect(after), after.text).toBe(true);
    await until(async () => (await api(p2, 'GET', `/api/calls/${moved.callId}`)).body.call.status === 'completed', 'the moved call to be completed');
    expect((await api(p2, 'GET', `/api/calls/${moved.callId}`)).body.call).toMatchObject({ endReason: 'carrier_hangup' });

    p2.child.kill('SIGTERM');
    const exit2 = await p2.exitWithin(10_000);
    expect(exit2).toMatchObject({ code: 0, signal: null });

    // Both stopped: every answered CallSid has exactly one record in the database,
    // and nothing else was recorded (a 503 records nothing).
    expect(fellOver.length).toBeGreaterThanOrEqual(3);
    const count = async (q: string, ...params: unknown[]) => Number(await sql.value(q, ...params));
    const missing: string[] = [];
    for (const sid of answered) if ((await count("SELECT count(*) FROM calls WHERE carrier = 'twilio' AND carrier_call_id = ?", sid)) !== 1) missing.push(sid);
    expect(missing).toEqual([]);
    expect(await count('SELECT count(*) FROM calls')).toBe(answered.size);
    expect(await count("SELECT count(*) FROM calls WHERE status = 'completed' AND end_reason = 'carrier_hangup' AND answered_at IS NOT NULL")).toBe(
      live.length + 1,
    );
  }, 40_000);
});
