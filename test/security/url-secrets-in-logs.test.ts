// Secrets in an assistant's media URL never reach the log (hardening issue,
// item 3). A team may put credentials in its mediaUrl (wss://user:pass@host/
// ...?apiKey=...); when the gateway cannot reach the assistant it logs the
// URL, and the userinfo and every query value must be masked there while the
// host stays visible (it is what an operator needs to investigate).
//
// End to end: a real call routed by a signed Twilio webhook to an assistant
// whose mediaUrl points at a loopback port nobody listens on, the carrier's
// media stream opened over a real socket, the call failing
// assistant_unreachable; then every JSON log line is searched. Plus the
// redactUrl function itself.
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/log.js';
import { CARRIER_ENV, assign, newAssistant, twilioCallTo } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, twilioStart } from '../helpers/media.js';

describe('redactUrl', () => {
  it.each([
    ['wss://alice:s3cret@agent.example.com/stream?apiKey=k_123&region=eu', 'wss://***@agent.example.com/stream?apiKey=***&region=***'],
    ['ws://user:pass@127.0.0.1:9/x?apiKey=abc', 'ws://***@127.0.0.1:9/x?apiKey=***'],
    ['wss://token@agent.example.com/s', 'wss://***@agent.example.com/s'],
    // An @ inside the password: everything before the last @ of the authority goes.
    ['wss://u:p@ss@agent.example.com/s', 'wss://***@agent.example.com/s'],
    ['wss://u:p%40ss@[::1]:8443/s?k=v', 'wss://***@[::1]:8443/s?k=***'],
    // A bare query flag is masked too, and empty pieces stay empty.
    ['wss://agent.example.com/s?secretflag&&a=', 'wss://agent.example.com/s?***&&a=***'],
    ['WSS://U:P@HOST/S?A=B', 'WSS://***@HOST/S?A=***'],
    // A fragment may carry a token as well.
    ['wss://agent.example.com/s#access_token=xyz', 'wss://agent.example.com/s#***'],
    ['wss://agent.example.com/s?a=1#frag?b=2', 'wss://agent.example.com/s?a=***#***'],
    // Nothing secret: unchanged.
    ['wss://agent.example.com/stream', 'wss://agent.example.com/stream'],
    ['https://gw.example.com/carriers/twilio/voice', 'https://gw.example.com/carriers/twilio/voice'],
    ['/media/twilio', '/media/twilio'],
    // Not a URL we can take apart, but it may hold a secret: all of it goes.
    ['ws:/user:pass@host/x', '[redacted url]'],
    ['user:pass@host', '[redacted url]'],
    ['host/x?apiKey=abc', '[redacted url]'],
  ])('%s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('leaves non-strings alone', () => {
    for (const v of [undefined, null, 42, { url: 'x' }]) expect(redactUrl(v)).toBe(v);
  });
});

/** A loopback port nobody listens on (bound, read, closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const USER = 'alice-the-user';
const PASSWORD = 'hunter2pass';
const API_KEY = 'sk_live_5a1b2c3d4e5f6a7b';

describe.each([
  ['unreachable', {}, 'assistant unreachable'],
  // The same line when the media address policy refuses the host (loopback is
  // outside the allowed network), before any connection is attempted.
  ['refused by the address policy', { SWITCHBOARD_MEDIA_ALLOWED_NETWORKS: '10.0.0.0/8' }, 'assistant address refused by the media address policy'],
] as const)('an assistant with credentials in its mediaUrl, %s', (_what, env, message) => {
  let t: TestGateway;
  let port: number;
  let mediaUrl: string;
  let callId: string;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, ...env } });
    const gwPort = (await t.gw.listen()).port;
    port = await closedPort();
    mediaUrl = `ws://${USER}:${PASSWORD}@127.0.0.1:${port}/x?apiKey=${API_KEY}&region=eu`;
    const team = await createTeam(t, 'secret-url');
    const [e164] = await availableNumbers(t, 'US', 1);
    const numberId = await buyActive(t, team, e164!);
    const assistantId = await newAssistant(t, team, 'with-creds', mediaUrl);
    await assign(t, team, assistantId, [numberId]);

    const call = await twilioCallTo(t, e164!);
    callId = call.callId;
    const carrier = await carrierSocket(`ws://127.0.0.1:${gwPort}/media/twilio`);
    carrier.ws.send(CONNECTED);
    carrier.ws.send(twilioStart(call.callId, call.token, call.sid));
    const closed = await carrier.closed;
    expect(closed.code).toBe(1011);
    // The call failed for the reason a user would look up.
    await eventually(async () => {
      const res = await t.api.get(`/api/calls/${callId}`).set(team.auth);
      return res.body.call?.status === 'failed' && res.body.call.endedAt !== null;
    });
    const rec = (await t.api.get(`/api/calls/${callId}`).set(team.auth).expect(200)).body.call;
    expect([rec.reason, rec.endReason]).toContain('assistant_unreachable');
    await eventually(() => t.logs.some((l) => l.msg === 'bridge ended' && l.callId === callId));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('no log line contains the user, the password or the apiKey value (nor "pass" at all)', () => {
    expect(t.logs.length).toBeGreaterThan(10);
    const leaks = t.logs.map((l) => JSON.stringify(l)).filter((s) => s.includes(PASSWORD) || s.includes(API_KEY) || s.includes(USER) || s.includes('pass'));
    expect(leaks).toEqual([]);
  });

  it('the line about the failure names the host, port and path, with the secrets masked', () => {
    const line = t.logs.find((l) => l.msg === message && l.callId === callId);
    expect(
      line,
      JSON.stringify(
        t.logs.filter((l) => l.callId === callId),
        null,
        1,
      ),
    ).toBeDefined();
    expect(line!.level).toBe('warn');
    expect(line!.mediaUrl).toBe(`ws://***@127.0.0.1:${port}/x?apiKey=***&region=***`);
  });
});
