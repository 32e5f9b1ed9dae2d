// Abuse without credentials (hardening issue, item 5), over raw sockets to
// loopback so the tests control exactly what is sent and see when the server
// closes the connection:
//   - /api authenticates from the headers alone: bad JSON, a wrong content
//     type or a huge body without a valid token is 401 (not 400/413/415),
//     spends the address's failure budget (SWITCHBOARD_AUTH_FAILURE_LIMIT)
//     and so reaches 429; the body is never read (a request announcing 10 MB
//     and sending none gets its 401 at once, and the connection is closed);
//   - carrier endpoints: no signature header is 403 before the body is read,
//     and counts toward the signature-failure 429;
//   - a client that aborts mid-body, or is cut off by the request timeout, is
//     not an internal error: no error log line, CLIENT_ABORTED (not INTERNAL)
//     in switchboard_webhook_errors_total, switchboard_internal_errors_total
//     unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, formEncode, twilioSignature, voiceParams } from '../helpers/carrier.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { connect, head, rawRequest, readResponse, type RawResponse } from '../helpers/raw-http.js';

const BAD_TOKEN = { Authorization: 'Bearer sb_team_not_a_real_token_0123456789' };
const TEN_MB = 10_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prometheus samples of one metric: label set → value. */
async function samples(port: number, name: string): Promise<Map<string, number>> {
  const res = await rawRequest(port, head('GET', '/metrics', { Connection: 'close' }));
  const out = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

function expect401(res: RawResponse, what: string) {
  expect(res.status, `${what}: ${res.body}`).toBe(401);
  expect(res.json?.error?.code, what).toBe('UNAUTHENTICATED');
}

function expect429(res: RawResponse, what: string) {
  expect(res.status, `${what}: ${res.body}`).toBe(429);
  expect(res.json?.error?.code, what).toBe('RATE_LIMITED');
  expect(Number(res.headers['retry-after']), what).toBeGreaterThanOrEqual(1);
}

/** A request whose body the server would have to read to find fault with it. */
const withBody = (path: string, headers: Record<string, string>, body: string, contentType: string) =>
  head('POST', path, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }) + body;

// ---------------------------------------------------------------------------

describe('/api without valid credentials', () => {
  let t: TestGateway;
  let port: number;

  beforeAll(async () => {
    // 2 failures in the first test, 6 in the second: 8.
    t = await startGateway({ env: { SWITCHBOARD_AUTH_FAILURE_LIMIT: '8' } });
    port = (await t.gw.listen()).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('announcing 10 MB and sending none: 401 at once, and the server closes the connection without waiting for the body', async () => {
    for (const headers of [{}, BAD_TOKEN]) {
      const socket = await connect(port);
      const answer = readResponse(socket, 3000);
      socket.write(head('POST', '/api/teams', { ...headers, 'Content-Type': 'application/json', 'Content-Length': TEN_MB }));
      const res = await answer;
      expect401(res, JSON.stringify(headers));
      expect(res.ms!, 'the 401 came at once').toBeLessThan(1000);
      expect(res.closedByServer, 'the server closed the connection').toBe(true);
      expect(res.headers.connection).toBe('close');
      socket.destroy();
    }
  });

  it('bad JSON, wrong content types and oversized bodies are 401 (not 400/413/415), spend the failure budget, then 429', async () => {
    const abuses: Array<[string, string]> = [
      ['bad JSON, no token', withBody('/api/teams', {}, '{"name": ', 'application/json')],
      ['bad JSON, bad token', withBody('/api/teams', BAD_TOKEN, '{"name": ', 'application/json')],
      ['text/plain, bad token', withBody('/api/teams', BAD_TOKEN, 'hello', 'text/plain')],
      ['form, no token', withBody('/api/phone-numbers/purchase', {}, 'a=b', 'application/x-www-form-urlencoded')],
      ['100 KB (over the 64 KiB limit), bad token', withBody('/api/teams', BAD_TOKEN, JSON.stringify({ name: 'x'.repeat(100_000) }), 'application/json')],
      ['chunked, no token', head('POST', '/api/assistants', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }) + '5\r\n{"a":\r\n'],
    ];
    for (const [what, req] of abuses) expect401(await rawRequest(port, req), what);
    // The budget (8) is spent: the same abuses are now 429, whatever their body.
    for (const [what, req] of abuses.slice(0, 3)) expect429(await rawRequest(port, req), what);
    const huge = await rawRequest(port, head('POST', '/api/teams', { 'Content-Type': 'application/json', 'Content-Length': TEN_MB }));
    expect429(huge, '10 MB announced');
    expect(huge.closedByServer).toBe(true);
    expect((await samples(port, 'switchboard_rate_limited_total')).get('{kind="auth_failures"}')).toBeGreaterThanOrEqual(4);
    // A valid token is never refused for its address, and its bad body is its own 400.
    const admin = { Authorization: 'Bearer sb_admin_test_0123456789abcdef', Connection: 'close' };
    const own = await rawRequest(port, withBody('/api/teams', admin, '{"name": ', 'application/json'));
    expect(own.status, own.body).toBe(400);
    expect(own.json.error.code).toBe('INVALID_JSON');
    expect((await rawRequest(port, withBody('/api/teams', admin, 'hello', 'text/plain'))).status).toBe(415);
  });

  it('nothing was created by any of it', async () => {
    expect(Number(await t.sql.value('SELECT count(*) FROM teams'))).toBe(0);
  });
});

// ---------------------------------------------------------------------------

describe('carrier endpoints without a signature header', () => {
  let t: TestGateway;
  let port: number;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_AUTH_FAILURE_LIMIT: '4' } });
    port = (await t.gw.listen()).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('403 before the body is read (10 MB announced, none sent: answered at once, connection closed), counted toward the 429', async () => {
    const endpoints: Array<[string, string, string]> = [
      ['/carriers/twilio/voice', 'application/x-www-form-urlencoded', 'X-Twilio-Signature'],
      ['/carriers/twilio/status', 'application/x-www-form-urlencoded', 'X-Twilio-Signature'],
      ['/carriers/generic/inbound', 'application/json', 'X-Switchboard-Signature'],
      ['/carriers/generic/status', 'application/json', 'X-Switchboard-Signature'],
    ];
    for (const [path, type, header] of endpoints) {
      const res = await rawRequest(port, head('POST', path, { 'Content-Type': type, 'Content-Length': TEN_MB }));
      expect(res.status, `${path}: ${res.body}`).toBe(403);
      expect(res.body).toMatch(/INVALID_SIGNATURE/);
      expect(res.body).toContain(`${header} header is missing`);
      expect(res.ms!, path).toBeLessThan(1000);
      expect(res.closedByServer, path).toBe(true);
      res.socket.destroy();
    }
    // The budget (4) is spent by those four.
    const limited = await rawRequest(
      port,
      head('POST', '/carriers/twilio/voice', { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': TEN_MB }),
    );
    expect(limited.status, limited.body).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.closedByServer).toBe(true);
    const generic = await rawRequest(port, withBody('/carriers/generic/inbound', {}, '{}', 'application/json'));
    expect(generic.status).toBe(429);
    expect(generic.json.error.code).toBe('RATE_LIMITED');
    expect((await samples(port, 'switchboard_rate_limited_total')).get('{kind="signature_failures"}')).toBe(2);
    // A correctly signed webhook from the same address still gets through.
    const params = voiceParams({ To: '+12025550100' });
    const body = formEncode(params);
    const sig = twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, CARRIER_ENV.SWITCHBOARD_PUBLIC_URL + '/carriers/twilio/voice', params);
    const ok = await rawRequest(
      port,
      withBody('/carriers/twilio/voice', { 'X-Twilio-Signature': sig, Connection: 'close' }, body, 'application/x-www-form-urlencoded'),
    );
    expect(ok.status, ok.body).toBe(200);
    expect(Number(await t.sql.value('SELECT count(*) FROM calls'))).toBe(1);
  });
});

// ---------------------------------------------------------------------------

describe('carrier webhooks the client abandons are not internal errors', () => {
  let t: TestGateway;
  let port: number;
  let internalBefore: Map<string, number>;

  beforeAll(async () => {
    // The shortest request timeout there is (1 s; checked every second).
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_REQUEST_TIMEOUT_MS: '1000', SWITCHBOARD_HEADERS_TIMEOUT_MS: '1000' } });
    port = (await t.gw.listen()).port;
    internalBefore = await samples(port, 'switchboard_internal_errors_total');
  });
  afterAll(async () => {
    await t?.close();
  });

  const abandoned = () => t.logs.filter((l) => l.msg === 'carrier webhook abandoned by the client');

  /** Sends the head and part of a signed-looking body, then hangs up. */
  async function abortMidBody(path: string, headers: Record<string, string>, contentType: string) {
    const socket = await connect(port);
    socket.write(head('POST', path, { ...headers, 'Content-Type': contentType, 'Content-Length': 1000 }) + 'CallSid=CA1234&From=%2B1202');
    await sleep(50); // the server is now reading the body
    socket.destroy();
  }

  it('aborted mid-body (Twilio and generic): logged at info as CLIENT_ABORTED; no error line, no INTERNAL', async () => {
    await abortMidBody('/carriers/twilio/voice', { 'X-Twilio-Signature': 'c2lnbmF0dXJlLW9mLWEtYm9keS1uZXZlci1zZW50' }, 'application/x-www-form-urlencoded');
    await abortMidBody(
      '/carriers/generic/inbound',
      { 'X-Switchboard-Signature': `t=${Math.floor(Date.now() / 1000)},v2=${'0'.repeat(64)}` },
      'application/json',
    );
    await eventually(() => abandoned().length === 2);
    for (const l of abandoned()) expect(l).toMatchObject({ level: 'info', error: 'CLIENT_ABORTED' });
    const errors = await samples(port, 'switchboard_webhook_errors_total');
    expect(errors.get('{carrier="twilio",code="CLIENT_ABORTED"}')).toBe(1);
    expect(errors.get('{carrier="generic",code="CLIENT_ABORTED"}')).toBe(1);
  });

  it('cut off by the request timeout (half a body, then silence): 408 and closed, CLIENT_ABORTED, no error line, no INTERNAL', async () => {
    const socket = await connect(port);
    const answer = readResponse(socket, 5000);
    socket.write(
      head('POST', '/carriers/twilio/status', {
        'X-Twilio-Signature': 'c2lnbmF0dXJl',
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': 1000,
      }) + 'CallSid=CA',
    );
    const res = await answer;
    expect(res.closedByServer, 'the server gave up on the slow request').toBe(true);
    expect(res.status, res.body).toBe(408);
    await eventually(() => abandoned().length === 3);
    expect((await samples(port, 'switchboard_webhook_errors_total')).get('{carrier="twilio",code="CLIENT_ABORTED"}')).toBe(2);
  });

  it('none of it was an internal error: no error-level line, no code="INTERNAL", switchboard_internal_errors_total unchanged', async () => {
    expect(t.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    const errors = await samples(port, 'switchboard_webhook_errors_total');
    expect([...errors.keys()].filter((k) => k.includes('code="INTERNAL"'))).toEqual([]);
    expect(await samples(port, 'switchboard_internal_errors_total')).toEqual(internalBefore);
    // And the gateway still answers webhooks.
    const params = voiceParams({ To: '+12025550100' });
    const sig = twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, CARRIER_ENV.SWITCHBOARD_PUBLIC_URL + '/carriers/twilio/voice', params);
    const ok = await rawRequest(
      port,
      withBody('/carriers/twilio/voice', { 'X-Twilio-Signature': sig, Connection: 'close' }, formEncode(params), 'application/x-www-form-urlencoded'),
    );
    expect(ok.status).toBe(200);
  });
});
