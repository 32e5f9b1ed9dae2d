// SIGTERM on the real process (api.md section 6): stop taking new calls
// (readiness, webhooks and media upgrades answer 503), let bridged calls run
// until they end or SWITCHBOARD_DRAIN_MS passes, then close them with 1001 and
// exit 0. A second SIGTERM exits at once.
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fakeAssistant, mediaFrame, type FakeAssistant } from '../helpers/media.js';
import { bridge, provisionRoute, stillRelays, twilioVoiceCall } from './calls.js';
import { e2eDb, gatewayHooks, spawnGateway, type Gateway } from './server.js';

const ADMIN = 'sb_admin_e2e_drain_0123456789abcdef';
const TWILIO = 'tw_e2e_drain_token';

const fakes: FakeAssistant[] = [];

async function startServer(drainMs: number): Promise<Gateway> {
  const db = await e2eDb('switchboard-drain-');
  const p = await spawnGateway({
    SWITCHBOARD_DB: db.target,
    SWITCHBOARD_ADMIN_TOKEN: ADMIN,
    TWILIO_AUTH_TOKEN: TWILIO,
    SWITCHBOARD_DRAIN_MS: String(drainMs),
    SIM_PROVISION_MS: '0',
  });
  await p.waitListening({ timeoutMs: 10_000 });
  return p;
}

/** A team, an active number and an assistant pointing at a fake assistant in this process. */
const provision = (p: Gateway, fake: FakeAssistant) => provisionRoute(p, ADMIN, fake, 'Drain', 'drain');

/** A signed Twilio voice webhook over the real socket. */
const voice = (p: Gateway, to: string) => twilioVoiceCall(p, TWILIO, to);

/** Routes a call through the webhook and bridges it to the fake assistant. */
async function liveCall(p: Gateway, fake: FakeAssistant, to: string) {
  const v = await voice(p, to);
  expect(v.status, v.text).toBe(200);
  return bridge(p, fake, v, 'the call to be bridged');
}

/** Tries a WebSocket upgrade; resolves with the HTTP status of a refusal, or 101. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

const isDraining = (l: Record<string, any>) => typeof l.msg === 'string' && l.msg.startsWith('draining');

gatewayHooks();
afterAll(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function newFake() {
  const f = await fakeAssistant({ echo: true });
  fakes.push(f);
  return f;
}

describe('SIGTERM drain, the real process', () => {
  it('refuses new calls while a live call keeps relaying; exits 0 soon after the carrier hangs up', async () => {
    const p = await startServer(10_000);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    const { c, conn, callId } = await liveCall(p, fake, e164);
    expect((await fetch(`${p.base}/readyz`)).status).toBe(200);

    p.child.kill('SIGTERM');
    await p.waitForLog(isDraining, { what: 'the draining line', timeoutMs: 10_000 });

    // No new work: readiness, webhooks and media upgrades all answer 503.
    const ready = await fetch(`${p.base}/readyz`);
    expect(ready.status).toBe(503);
    const v = await voice(p, e164);
    expect(v.status).toBe(503);
    expect(await upgradeStatus(`ws://127.0.0.1:${new URL(p.base).port}/media/twilio`)).toBe(503);
    expect(await upgradeStatus(`ws://127.0.0.1:${new URL(p.base).port}/media/generic/${callId}?token=x`)).toBe(503);
    expect(fake.connections.length).toBe(1);

    // The live call goes on, well past the refusals.
    await stillRelays(c, fake, conn, 13, 20);
    await new Promise((r) => setTimeout(r, 300));
    await stillRelays(c, fake, conn, 33, 20);
    expect(p.child.exitCode).toBeNull();

    const hungUp = Date.now();
    c.ws.close(1000);
    expect((await fake.closed(conn + 1)).code).toBe(1000);
    const exit = await p.exitWithin(3000);
    expect(exit, 'the process should exit soon after the last call ends').not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.signal).toBeNull();
    expect(exit!.at - hungUp).toBeLessThan(3000);

    const draining = p.lines.filter(isDraining);
    expect(
      draining.some((l) => l.liveCalls === 1),
      JSON.stringify(draining),
    ).toBe(true);
    // Nothing was cut off: no call closed by the drain timer.
    expect(p.lines.some((l) => typeof l.closedLive === 'number' && l.closedLive > 0)).toBe(false);
  });

  it('closes a call that outlives SWITCHBOARD_DRAIN_MS with 1001 on both sides, then exits 0', async () => {
    const p = await startServer(500);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    const { c, conn } = await liveCall(p, fake, e164);
    // A call that never ends: the carrier keeps streaming 20 ms frames (the
    // assistant echoes each) right up to the moment the gateway closes it.
    let seq = 13;
    const talk = setInterval(() => {
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(mediaFrame(seq++));
    }, 20);

    const signalled = Date.now();
    p.child.kill('SIGTERM');
    const [carrierClose, assistantClose] = await Promise.all([c.closed, fake.closed(conn + 1)]).finally(() => clearInterval(talk));
    expect(c.received.length).toBeGreaterThan(10 + 10); // it was still relaying while draining
    const closedAfter = Date.now() - signalled;
    expect(carrierClose.code).toBe(1001);
    expect(assistantClose.code).toBe(1001);
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    const exit = await p.exitWithin(3000);
    expect(exit, 'the process should exit after the drain time').not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.signal).toBeNull();
  });

  it('a second SIGTERM during the drain exits at once', async () => {
    const p = await startServer(10_000);
    const fake = await newFake();
    const { e164 } = await provision(p, fake);
    await liveCall(p, fake, e164);

    p.child.kill('SIGTERM');
    await p.waitForLog(isDraining, { what: 'the draining line', timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBeNull(); // still draining: the call is live

    const second = Date.now();
    p.child.kill('SIGTERM');
    const exit = await p.exitWithin(1000);
    expect(exit, 'the process should exit within 1 s of the second SIGTERM').not.toBeNull();
    expect(exit!.at - second).toBeLessThan(1000);
  });
});
