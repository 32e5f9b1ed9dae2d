// SIP servers out of the box: Kamailio 5.6 with examples/kamailio/kamailio.cfg
// asks a real gateway (node dist/src/main.js) where each INVITE goes, over the
// signed generic endpoint, and SIPp (examples/kamailio/sipp/) places the calls.
// Everything on 127.0.0.1.
//
//   SIPp --INVITE--> Kamailio --POST /carriers/generic/inbound (signed)--> gateway
//   SIPp <--302/404/500/503-- Kamailio <--{"action":...}-- gateway
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTED, fakeAssistant, mediaFrame, carrierSocket, type FakeAssistant } from '../helpers/media.js';
import { api, ensureBuilt, killGateways, removeTempDirs, spawnGateway, tempDir, until, type Gateway } from '../e2e/server.js';
import { startKamailio, type Kamailio } from './support/kamailio.js';
import { runSipp, type SippRun } from './support/sipp.js';

const SECRET = 'whsec_integration_0123456789abcdef';
const ADMIN = 'sb_admin_integration_0123456789';
const BRIDGE = 'media-bridge.test.invalid';

let gw: Gateway;
let kam: Kamailio;
const others: Kamailio[] = [];
let agentA: FakeAssistant;
let agentB: FakeAssistant;
let slug: string;
let assistantA: string;
let assistantB: string;
/** On assistant A, reassigned to B by one test. */
let routed: { id: string; e164: string };
/** On assistant A; only the load test calls it. */
let loaded: { id: string; e164: string };
/** Offered by the carrier, bought by nobody. */
let unknown: string;

const admin = (method: string, path: string, body?: unknown) => api(gw.base, ADMIN, method, path, body);

async function must(status: number, p: Promise<{ status: number; body: any; text: string }>, what: string) {
  const r = await p;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r.body;
}

async function buy(teamId: string, e164: string): Promise<string> {
  const b = await must(201, admin('POST', '/api/phone-numbers/purchase', { phoneNumber: e164, teamId }), 'purchase');
  const id = b.phoneNumber.id as string;
  await until(async () => (await admin('GET', `/api/phone-numbers/${id}`)).body?.phoneNumber?.status === 'active', `${e164} to be active`);
  return id;
}

const assign = (assistantId: string, phoneNumberIds: string[]) =>
  must(200, admin('PATCH', `/api/assistants/${assistantId}/telephony/phone-numbers`, { accountSlug: slug, phoneNumberIds }), 'assign');

/** One field-per-space <log> line of invite-302.xml: "302 <call-id> <assistant> <gateway call id> <contact> <media url>". */
function redirect(line: string) {
  const [code, callId, assistantId, gatewayCallId, contact, mediaUrl] = line.split(' ');
  return { code, callId: callId!, assistantId: assistantId!, gatewayCallId: gatewayCallId!, contact: contact!, mediaUrl: mediaUrl! };
}

/** Runs SIPp and requires exit code 0: every call got the scenario's answer. */
async function sipp(o: Parameters<typeof runSipp>[0], k: Kamailio = kam): Promise<SippRun> {
  const r = await runSipp(o);
  expect(r.code, `${r.report()}\n--- kamailio\n${k.log().slice(-3000)}`).toBe(0);
  return r;
}

/** The media URL from a 302 opens the bridge to the assistant the call was routed to. */
async function mediaReaches(mediaUrl: string, agent: FakeAssistant) {
  const before = agent.connections.length;
  const c = await carrierSocket(mediaUrl);
  c.ws.send(CONNECTED);
  c.ws.send(mediaFrame(3));
  await until(() => agent.received[before]?.length === 2, 'the frames to reach the assistant');
  expect(agent.received[before]).toEqual([CONNECTED, mediaFrame(3)]);
  return c;
}

beforeAll(async () => {
  await ensureBuilt();
  agentA = await fakeAssistant();
  agentB = await fakeAssistant();
  const dir = tempDir('switchboard-kamailio-test-');
  gw = await spawnGateway(
    {
      SWITCHBOARD_WEBHOOK_SECRET: SECRET,
      SWITCHBOARD_ADMIN_TOKEN: ADMIN,
      SWITCHBOARD_DB: join(dir, 'switchboard.db'),
      SIM_PROVISION_MS: '0',
      LOG_LEVEL: 'info',
    },
    { name: 'gateway', outputTail: 4000 },
  );
  await gw.waitListening();

  slug = `kamailio-${Date.now().toString(36)}`;
  const team = await must(201, admin('POST', '/api/teams', { name: 'Kamailio test', slug, plan: 'pro' }), 'team');
  const teamId = team.team.id as string;
  assistantA = (await must(201, admin('POST', '/api/assistants', { teamId, name: 'A', mediaUrl: agentA.url }), 'assistant A')).assistant.id;
  assistantB = (await must(201, admin('POST', '/api/assistants', { teamId, name: 'B', mediaUrl: agentB.url }), 'assistant B')).assistant.id;
  const search = await must(200, admin('POST', '/api/phone-numbers/search', { filters: { countryCode: 'US', limit: 3 } }), 'search');
  const [n1, n2, n3] = (search.numbers as Array<{ phoneNumber: string }>).map((n) => n.phoneNumber);
  routed = { e164: n1!, id: await buy(teamId, n1!) };
  loaded = { e164: n2!, id: await buy(teamId, n2!) };
  unknown = n3!;
  await assign(assistantA, [routed.id, loaded.id]);

  kam = await startKamailio({ gatewayUrl: gw.base, secret: SECRET, mediaBridge: BRIDGE });
}, 120_000);

afterAll(async () => {
  // Everything stops, whatever failed.
  await Promise.allSettled([kam?.stop(), ...others.map((k) => k.stop())]);
  killGateways();
  await Promise.allSettled([agentA?.close(), agentB?.close()]);
  removeTempDirs();
});

describe('Kamailio + the example config, asked by SIPp', () => {
  it('routed number → 302 naming its assistant, with a Contact and a media URL that opens the bridge', async () => {
    const r = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: routed.e164 });
    expect(r.logs).toHaveLength(1);
    const a = redirect(r.logs[0]!);
    expect(a.assistantId).toBe(assistantA);
    expect(a.contact).toBe(`<sip:${routed.e164}@${BRIDGE}>`);
    expect(a.mediaUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${gw.port}/media/generic/${a.gatewayCallId}\\?token=[\\w.-]+$`));
    expect(r.messages).toContain('SIP/2.0 302 Moved Temporarily');

    // The gateway's record of the call: the SIP Call-ID is the carrier call id.
    const call = (await must(200, admin('GET', `/api/calls/${a.gatewayCallId}`), 'call')).call;
    expect(call).toMatchObject({
      carrier: 'generic',
      carrierCallId: a.callId,
      to: routed.e164,
      from: '+14155550123',
      assistantId: assistantA,
      phoneNumberId: routed.id,
      status: 'routed',
    });

    const c = await mediaReaches(a.mediaUrl, agentA);
    c.ws.close(1000);
    await c.closed;
  });

  it('unknown number → 404 with the reason, and a rejected call record', async () => {
    const r = await sipp({ target: kam.target, scenario: 'invite-404.xml', service: unknown });
    expect(r.logs).toHaveLength(1);
    const [code, callId, reason] = r.logs[0]!.split(' ');
    expect(code).toBe('404');
    expect(reason).toBe('no_route');
    await until(() => gw.lines.some((l) => l.msg === 'carrier webhook' && l.carrierCallId === callId), 'the webhook log line');
    const line = gw.lines.find((l) => l.msg === 'carrier webhook' && l.carrierCallId === callId)!;
    expect(line).toMatchObject({ path: '/carriers/generic/inbound', status: 200, decision: 'reject', reason: 'no_route' });
  });

  it('numbers written other ways are normalised to E.164; a Request-URI user that is no number is a 404 without asking', async () => {
    const e = routed.e164; // +1NPANXXXXXX
    let last = '';
    for (const written of [e.slice(1), `00${e.slice(1)}`, `+1-${e.slice(2, 5)}-${e.slice(5, 8)}-${e.slice(8)}`]) {
      const r = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: written });
      const a = redirect(r.logs[0]!);
      expect(a.assistantId, written).toBe(assistantA);
      const call = (await must(200, admin('GET', `/api/calls/${a.gatewayCallId}`), 'call')).call;
      expect(call.to, written).toBe(e);
      last = a.callId;
    }
    await until(() => gw.lines.some((l) => l.msg === 'carrier webhook' && l.carrierCallId === last), 'the webhook log line');
    const asked = gw.lines.filter((l) => l.msg === 'carrier webhook').length;
    const alice = await sipp({ target: kam.target, scenario: 'invite-404.xml', service: 'alice' });
    expect(alice.logs[0]!.split(' ')[2]).toBe('not_a_phone_number');
    expect(gw.lines.filter((l) => l.msg === 'carrier webhook').length).toBe(asked);
  });

  it('a reassignment between two INVITEs: the second goes to the new assistant (a retry of the first keeps its answer)', async () => {
    const first = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: routed.e164 });
    const before = redirect(first.logs[0]!);
    expect(before.assistantId).toBe(assistantA);

    await assign(assistantB, [routed.id]);
    const second = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: routed.e164 });
    const after = redirect(second.logs[0]!);
    expect(after.assistantId).toBe(assistantB);
    expect(after.gatewayCallId).not.toBe(before.gatewayCallId);
    const c = await mediaReaches(after.mediaUrl, agentB);
    c.ws.close(1000);
    await c.closed;

    // An upstream retry of the first call (same Call-ID, new transaction) is the same
    // call to the gateway: same answer, same assistant, no second record.
    const retry = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: routed.e164, callId: before.callId });
    expect(redirect(retry.logs[0]!)).toMatchObject({ callId: before.callId, assistantId: assistantA, gatewayCallId: before.gatewayCallId });

    await assign(assistantA, [routed.id, loaded.id]);
  });

  it('50 calls at 25 per second: every one a 302 to its assistant, 50 routed records', async () => {
    const r = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: loaded.e164, calls: 50, rate: 25, timeoutS: 60 });
    expect(r.logs).toHaveLength(50);
    const answers = r.logs.map(redirect);
    expect(new Set(answers.map((a) => a.assistantId))).toEqual(new Set([assistantA]));
    expect(new Set(answers.map((a) => a.callId)).size).toBe(50);
    expect(new Set(answers.map((a) => a.gatewayCallId)).size).toBe(50);
    // 25 per second: the 50th call starts about 2 s after the first.
    expect(r.ms).toBeGreaterThan(1800);

    const listed = await must(200, admin('GET', `/api/calls?phoneNumberId=${loaded.id}&limit=200`), 'calls');
    const calls = listed.calls as Array<Record<string, any>>;
    expect(calls).toHaveLength(50);
    expect(calls.every((c) => c.status === 'routed' && c.assistantId === assistantA && c.carrier === 'generic' && c.to === loaded.e164)).toBe(true);
    expect(new Set(calls.map((c) => c.carrierCallId))).toEqual(new Set(answers.map((a) => a.callId)));
    expect(new Set(calls.map((c) => c.id))).toEqual(new Set(answers.map((a) => a.gatewayCallId)));
  });

  it("a secret that differs from the gateway's → the gateway says 403, Kamailio answers 500 and logs why", async () => {
    const wrong = await startKamailio({ gatewayUrl: gw.base, secret: 'whsec_not_the_gateways_secret_0' });
    others.push(wrong);
    const r = await sipp({ target: wrong.target, scenario: 'invite-500.xml', service: routed.e164 }, wrong);
    expect(r.logs).toHaveLength(1);
    await until(() => wrong.log().includes('refused the signature (403)'), 'the error log line');
    expect(wrong.log()).toMatch(/ERROR: .*switchboard: the gateway refused the signature \(403\): check SWITCHBOARD_WEBHOOK_SECRET/);
    expect(gw.lines.some((l) => l.msg === 'carrier webhook' && l.status === 403 && l.error === 'INVALID_SIGNATURE')).toBe(true);
  });

  it("no secret in Kamailio's environment → 500 without asking", async () => {
    const none = await startKamailio({ gatewayUrl: gw.base, secret: null });
    others.push(none);
    const asked = gw.lines.filter((l) => l.msg === 'carrier webhook').length;
    await sipp({ target: none.target, scenario: 'invite-500.xml', service: routed.e164 }, none);
    expect(none.log()).toMatch(/ERROR: .*SWITCHBOARD_WEBHOOK_SECRET is not set in Kamailio's environment/);
    expect(gw.lines.filter((l) => l.msg === 'carrier webhook').length).toBe(asked);
  });

  it('gateway unreachable → 503, so upstream fails over', async () => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    const orphan = await startKamailio({ gatewayUrl: 'http://127.0.0.1:9', secret: SECRET });
    others.push(orphan);
    await sipp({ target: orphan.target, scenario: 'invite-503.xml', service: routed.e164 }, orphan);
    expect(orphan.log()).toMatch(/gateway unreachable \(curl error 7\): 503/);
  });

  it('gateway draining (SIGTERM with a live call) → its 503 becomes a SIP 503', async () => {
    // A live call keeps the draining gateway up (and answering 503) until it ends.
    const r = await sipp({ target: kam.target, scenario: 'invite-302.xml', service: routed.e164 });
    const live = await mediaReaches(redirect(r.logs[0]!).mediaUrl, agentA);
    gw.child.kill('SIGTERM');
    await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), { what: 'the draining line' });

    await sipp({ target: kam.target, scenario: 'invite-503.xml', service: routed.e164 });
    expect(kam.log()).toMatch(/gateway answered 503: 503/);
    expect(gw.lines.some((l) => l.msg === 'carrier webhook' && l.status === 503)).toBe(true);

    live.ws.close(1000);
    const exit = await gw.exitWithin(10_000);
    expect(exit?.code).toBe(0);
  });
});
