// Rate limits (issue 5): per token on /api (token bucket: SWITCHBOARD_API_BURST
// at once, SWITCHBOARD_API_RATE per second after), and per source address on
// failures: failed bearer authentications and failed carrier signatures share
// one budget of SWITCHBOARD_AUTH_FAILURE_LIMIT per minute. Correctly signed
// webhooks never spend from it.
//
// Requests go over real sockets so the source address is real; a second
// address (127.0.0.2, also loopback on Linux) shows the limits are per address.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, GENERIC_SECRET, accountSid, callSid, formEncode, twilioSignature, voiceParams, type Params } from '../helpers/carrier.js';
import { signGeneric } from '../../src/carriers/generic/index.js';
import { bearer, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
}

/** One request over a fresh connection from `from` (a loopback address). */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string, from = '127.0.0.1'): Promise<Res> {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, localAddress: from, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expect429(res: Res, code = 'RATE_LIMITED'): number {
  expect(res.status, res.text).toBe(429);
  expect(res.body?.error?.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  const retry = Number(res.headers['retry-after']);
  expect(Number.isInteger(retry), `Retry-After: ${res.headers['retry-after']}`).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  return retry;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prometheus sample value (0 when absent). */
async function metric(port: number, line: string): Promise<number> {
  const text = (await call(port, 'GET', '/metrics')).text;
  const m = text.split('\n').find((l) => l.startsWith(line + ' '));
  return m ? Number(m.slice(line.length + 1)) : 0;
}

// ---------------------------------------------------------------------------

describe('per token on /api (rate 5/s, burst 10)', () => {
  let t: TestGateway;
  let port: number;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let other: Record<string, string>;

  beforeAll(async () => {
    t = await startGateway({ env: { SWITCHBOARD_API_RATE: '5', SWITCHBOARD_API_BURST: '10' } });
    port = (await t.gw.listen()).port;
    team = await createTeam(t, 'rl-token', 'starter');
    // A second token of the same team: limits are per token, not per team.
    other = bearer((await t.api.post(`/api/teams/${team.id}/tokens`).set(t.admin).expect(201)).body.token);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the 11th quick request is 429 RATE_LIMITED with Retry-After; another token is unaffected; it recovers', async () => {
    const started = performance.now();
    const burst = await Promise.all(Array.from({ length: 10 }, () => call(port, 'GET', '/api/teams', team.auth)));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    // The 11th is refused. On a slow machine the bucket may have refilled by
    // then (5 per second), so allow exactly what the elapsed time earned.
    let extra = 0;
    let res = await call(port, 'GET', '/api/teams', team.auth);
    while (res.status === 200 && extra < 20) {
      extra++;
      res = await call(port, 'GET', '/api/teams', team.auth);
    }
    const elapsed = (performance.now() - started) / 1000;
    expect(extra, `${extra} extra requests passed in ${elapsed.toFixed(3)} s`).toBeLessThanOrEqual(Math.floor(elapsed * 5));
    const retry = expect429(res);
    expect(retry).toBe(1); // one token comes back within 1/5 s

    // The limit is per token: the team's other token and the admin still pass,
    // from the same address.
    expect((await call(port, 'GET', '/api/teams', other)).status).toBe(200);
    expect((await call(port, 'GET', '/api/teams', t.admin)).status).toBe(200);

    // Back after Retry-After.
    await sleep(retry * 1000 + 50);
    expect((await call(port, 'GET', '/api/teams', team.auth)).status).toBe(200);
  });

  it('a limited request does nothing: of a burst of writes, exactly the 201s created something', async () => {
    const token = (await t.api.post(`/api/teams/${team.id}/tokens`).set(t.admin).expect(201)).body.token as string;
    const count = async () => Number(await t.sql.value('SELECT count(*) FROM api_tokens WHERE team_id = ?', team.id));
    const before = await count();
    const results = await Promise.all(Array.from({ length: 25 }, () => call(port, 'POST', `/api/teams/${team.id}/tokens`, bearer(token), '')));
    const created = results.filter((r) => r.status === 201).length;
    const limited = results.filter((r) => r.status === 429);
    expect(created + limited.length).toBe(25);
    expect(created).toBeGreaterThanOrEqual(10);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) expect429(r);
    expect((await count()) - before).toBe(created);
  });

  it('sustained rate: after the burst, no more than 5 per second pass', async () => {
    const token = bearer((await t.api.post(`/api/teams/${team.id}/tokens`).set(t.admin).expect(201)).body.token);
    await Promise.all(Array.from({ length: 10 }, () => call(port, 'GET', '/api/teams', token)));
    const started = performance.now();
    let ok = 0;
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const s = (await call(port, 'GET', '/api/teams', token)).status;
      if (s === 200) ok++;
      else if (s === 429) limited++;
    }
    const elapsed = (performance.now() - started) / 1000;
    expect(ok + limited).toBe(40);
    // What passed is what the elapsed time earned at 5 per second, no more.
    expect(ok, `${ok} passed, ${limited} limited in ${elapsed.toFixed(3)} s`).toBeLessThanOrEqual(Math.ceil(elapsed * 5) + 1);
    if (elapsed < 4) expect(limited).toBeGreaterThan(0);
  });

  it('counts refusals in switchboard_rate_limited_total{kind="api"}', async () => {
    expect(await metric(port, 'switchboard_rate_limited_total{kind="api"}')).toBeGreaterThanOrEqual(3);
  });
});

// ---------------------------------------------------------------------------

describe('per source address on failed authentication (limit 5 per minute)', () => {
  let t: TestGateway;
  let port: number;
  let team: Awaited<ReturnType<typeof createTeam>>;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_AUTH_FAILURE_LIMIT: '5' } });
    port = (await t.gw.listen()).port;
    team = await createTeam(t, 'rl-auth', 'starter');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('5 bad tokens are 401s; then further bad tokens from the address are 429; a good token still works; other addresses are unaffected', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call(port, 'GET', '/api/teams', bearer(`sb_team_not_a_real_token_${i}_xxxxxxxx`));
      expect(res.status, res.text).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    }
    const sixth = await call(port, 'GET', '/api/teams', bearer('sb_team_still_guessing_xxxxxxxxxx'));
    const retry = expect429(sixth);
    // 5 per minute: one failure's worth comes back after 12 s (less what has refilled meanwhile).
    expect(retry).toBeGreaterThanOrEqual(10);
    expect(retry).toBeLessThanOrEqual(12);
    // A missing token counts as a failure too.
    expect429(await call(port, 'GET', '/api/teams'));

    // Only failures are throttled: behind a shared proxy or NAT, one client's
    // bad token must not lock out everybody else's good ones.
    expect((await call(port, 'GET', '/api/teams', team.auth)).status).toBe(200);
    expect((await call(port, 'GET', '/api/teams', t.admin)).status).toBe(200);

    // Another source address still gets plain 401s for bad tokens.
    const elsewhere = await call(port, 'GET', '/api/teams', bearer('sb_team_not_a_real_token_elsewhere'), undefined, '127.0.0.2');
    expect(elsewhere.status, elsewhere.text).toBe(401);
  });

  it('API failures and carrier signature failures have separate budgets: a signed webhook from this address is answered', async () => {
    // The address 127.0.0.1 is out of API-authentication budget (test above).
    const params = voiceParams({ To: '+12025550100' });
    const sig = twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, CARRIER_ENV.SWITCHBOARD_PUBLIC_URL + '/carriers/twilio/voice', params);
    const ok = await call(
      port,
      'POST',
      '/carriers/twilio/voice',
      { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig },
      formEncode(params),
    );
    expect(ok.status, ok.text).toBe(200);
    // And a bad signature from it is a plain 403, not 429.
    const bad = await call(
      port,
      'POST',
      '/carriers/twilio/voice',
      { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x' },
      formEncode(params),
    );
    expect(bad.status, bad.text).toBe(403);
  });

  it('counts refusals in switchboard_rate_limited_total{kind="auth_failures"}', async () => {
    expect(await metric(port, 'switchboard_rate_limited_total{kind="auth_failures"}')).toBeGreaterThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------

describe('per source address on failed carrier signatures', () => {
  let t: TestGateway;
  let port: number;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_AUTH_FAILURE_LIMIT: '5' } });
    port = (await t.gw.listen()).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('after 5 bad signatures (Twilio and generic alike) further bad ones from the address get 429 with Retry-After; signed ones still pass', async () => {
    const from = '127.0.0.3';
    const params = voiceParams({ To: '+12025550100' });
    const body = formEncode(params);
    for (let i = 0; i < 3; i++) {
      const res = await call(
        port,
        'POST',
        '/carriers/twilio/voice',
        { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==' },
        body,
        from,
      );
      expect(res.status, res.text).toBe(403);
      expect(res.body.error.code).toBe('INVALID_SIGNATURE');
    }
    for (let i = 0; i < 2; i++) {
      const raw = JSON.stringify({ callId: `g-${i}`, from: '+12025550143', to: '+12025550100' });
      const res = await call(
        port,
        'POST',
        '/carriers/generic/inbound',
        {
          'Content-Type': 'application/json',
          'X-Switchboard-Signature': signGeneric('the-wrong-secret-0123456789', '/carriers/generic/inbound', raw, t.clock.now()),
        },
        raw,
        from,
      );
      expect(res.status, res.text).toBe(403);
    }
    const blocked = await call(
      port,
      'POST',
      '/carriers/twilio/voice',
      { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x' },
      body,
      from,
    );
    const retry = expect429(blocked);
    expect(retry).toBeGreaterThanOrEqual(10);
    expect(retry).toBeLessThanOrEqual(12);
    // The generic endpoint answers the same way, in its own JSON.
    expect429(
      await call(
        port,
        'POST',
        '/carriers/generic/status',
        { 'Content-Type': 'application/json', 'X-Switchboard-Signature': 't=1,v2=00' },
        '{"callId":"x","status":"completed"}',
        from,
      ),
    );
    // No call record was created by any of them.
    expect(await t.sql.value('SELECT count(*) FROM calls')).toBe(0);
    // A correctly signed webhook from the same address is answered: anyone can
    // point bad webhooks at us from a carrier's shared egress addresses, and
    // that must never block the carrier's real calls.
    const sig = twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, CARRIER_ENV.SWITCHBOARD_PUBLIC_URL + '/carriers/twilio/voice', params);
    const ok = await call(
      port,
      'POST',
      '/carriers/twilio/voice',
      { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig },
      body,
      from,
    );
    expect(ok.status, ok.text).toBe(200);
    // And /api from that address is unaffected (separate budgets).
    expect((await call(port, 'GET', '/api/teams', t.admin, undefined, from)).status).toBe(200);
  });

  it('counts refusals in switchboard_rate_limited_total{kind="signature_failures"}', async () => {
    expect(await metric(port, 'switchboard_rate_limited_total{kind="signature_failures"}')).toBeGreaterThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------

describe('a legitimate burst is never throttled', () => {
  let t: TestGateway;
  let port: number;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_AUTH_FAILURE_LIMIT: '5', SWITCHBOARD_API_RATE: '1', SWITCHBOARD_API_BURST: '2' } });
    port = (await t.gw.listen()).port;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('300 correctly signed webhooks (voice, status, generic) from one address all get through', async () => {
    const url = CARRIER_ENV.SWITCHBOARD_PUBLIC_URL;
    const sids: string[] = [];
    const requests: Array<() => Promise<Res>> = [];
    for (let i = 0; i < 150; i++) {
      const sid = callSid();
      sids.push(sid);
      const params = voiceParams({ CallSid: sid, To: `+1202555${String(1000 + i).padStart(4, '0')}` });
      requests.push(() =>
        call(
          port,
          'POST',
          '/carriers/twilio/voice',
          {
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-Twilio-Signature': twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, url + '/carriers/twilio/voice', params),
          },
          formEncode(params),
        ),
      );
    }
    for (let i = 0; i < 100; i++) {
      const raw = JSON.stringify({ callId: `burst-${i}`, from: '+12025550143', to: '+12025550100' });
      requests.push(() =>
        call(
          port,
          'POST',
          '/carriers/generic/inbound',
          { 'Content-Type': 'application/json', 'X-Switchboard-Signature': signGeneric(GENERIC_SECRET, '/carriers/generic/inbound', raw, t.clock.now()) },
          raw,
        ),
      );
    }
    // Run the inbound ones concurrently, 50 at a time.
    const statuses: number[] = [];
    for (let i = 0; i < requests.length; i += 50) statuses.push(...(await Promise.all(requests.slice(i, i + 50).map((f) => f()))).map((r) => r.status));
    // Then 50 status callbacks for calls that now exist.
    const callbacks = await Promise.all(
      sids.slice(0, 50).map((sid) => {
        const params: Params = { AccountSid: accountSid, CallSid: sid, CallStatus: 'completed', CallDuration: '3' };
        return call(
          port,
          'POST',
          '/carriers/twilio/status',
          {
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-Twilio-Signature': twilioSignature(CARRIER_ENV.TWILIO_AUTH_TOKEN, url + '/carriers/twilio/status', params),
          },
          formEncode(params),
        );
      }),
    );
    statuses.push(...callbacks.map((r) => r.status));

    expect(statuses).toHaveLength(300);
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    expect(statuses.filter((s) => s !== 200 && s !== 204)).toEqual([]);
    expect(await t.sql.value('SELECT count(*) FROM calls')).toBe(250);
    expect(await metric(port, 'switchboard_rate_limited_total{kind="signature_failures"}')).toBe(0);
  });
});
