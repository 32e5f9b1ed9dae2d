// Response headers, token storage and logs (issue 5):
//   - no X-Powered-By anywhere; security headers on every /api response;
//   - tokens are stored as SHA-256 hashes only and compared by hash;
//   - no secret, token or signature ever reaches a log line, across a full
//     flow (teams, tokens, purchase, assignment, signed Twilio webhook and
//     status callback, a bridged media stream, the generic endpoint, failed
//     authentication, bad signatures);
//   - a call's whole story can be found in the logs by its call id.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGeneric } from '../../src/carriers/generic/index.js';
import { CARRIER_ENV, GENERIC_SECRET, TWILIO_TOKEN, accountSid, callSid, parseTwiml, prepareTwilio, voiceParams, type Params } from '../helpers/carrier.js';
import { ADMIN_TOKEN, availableNumbers, bearer, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, fakeAssistant, mediaFrame, twilioStart, type FakeAssistant } from '../helpers/media.js';

const SERVER_SECRET = 'test-secret-0123456789abcdef0123456789'; // what startGateway sets as SWITCHBOARD_SECRET

let t: TestGateway;
let port: number;
let assistant: FakeAssistant;

/** Every secret the flow handles; none may appear in any log line. */
const secrets = new Map<string, string>();
const remember = (what: string, value: string | null | undefined) => {
  if (!value) throw new Error(`no ${what} to remember`);
  secrets.set(value, what);
};

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  port = (await t.gw.listen()).port;
  assistant = await fakeAssistant({ echo: true });
  remember('admin token', ADMIN_TOKEN);
  remember('TWILIO_AUTH_TOKEN', TWILIO_TOKEN);
  remember('SWITCHBOARD_WEBHOOK_SECRET', GENERIC_SECRET);
  remember('SWITCHBOARD_SECRET', SERVER_SECRET);
});
afterAll(async () => {
  await assistant?.close();
  await t?.close();
});

const SECURITY_HEADERS: Record<string, RegExp> = {
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /^no-referrer$/,
  'content-security-policy': /default-src 'none'/,
  'cache-control': /no-store/,
};

describe('response headers', () => {
  it('no X-Powered-By on /api (success, 401, 404, 405, 400), /healthz, /metrics or carrier endpoints', async () => {
    const team = await createTeam(t, 'hdr-team', 'starter');
    const responses = [
      await t.api.get('/api/teams').set(t.admin),
      await t.api.get('/api/teams'),
      await t.api.get('/api/nothing-here').set(t.admin),
      await t.api.put('/api/teams').set(t.admin),
      await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').send('{'),
      await t.api.get(`/api/teams/${team.id}`).set(team.auth),
      await t.api.get('/healthz'),
      await t.api.get('/metrics'),
      await t.api.get('/nope'),
      await t.api.post('/carriers/twilio/voice').type('form').send('a=b'),
      await t.api.get('/carriers/twilio/voice'),
    ];
    responses.forEach((res, i) => {
      expect(res.headers['x-powered-by'], `response ${i}`).toBeUndefined();
      expect(res.headers['server'], `response ${i}`).toBeUndefined();
    });
  });

  it('every /api response carries the security headers, errors included', async () => {
    const responses = [
      await t.api.get('/api/teams').set(t.admin),
      await t.api.get('/api/teams'),
      await t.api.get('/api/teams').set(bearer('sb_team_not_a_token_at_all_xxxx')),
      await t.api.get('/api/no-such-thing').set(t.admin),
      await t.api.delete('/api/teams').set(t.admin),
      await t.api.post('/api/teams').set(t.admin).send({ slug: 5 }),
      await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'text/plain').send('hello'),
      await t.api
        .post('/api/teams')
        .set(t.admin)
        .set('Content-Type', 'application/json')
        .send('{"a":"' + 'x'.repeat(70_000) + '"}'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 401, 404, 405, 400, 415, 413]);
    for (const res of responses) {
      for (const [name, re] of Object.entries(SECURITY_HEADERS)) expect(res.headers[name], `${name} on ${res.status}`).toMatch(re);
      expect(res.headers['x-request-id']).toMatch(/^[\w.:-]{1,64}$/);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it('X-Request-Id from the client is echoed only when it is safe', async () => {
    expect((await t.api.get('/healthz').set('X-Request-Id', 'abc-123')).headers['x-request-id']).toBe('abc-123');
    const evil = await t.api.get('/healthz').set('X-Request-Id', 'a"b<script>' + 'x'.repeat(100));
    expect(evil.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('tokens', () => {
  it('are stored as SHA-256 hashes only: no table holds a token in clear', async () => {
    const team = await createTeam(t, 'hash-team', 'starter');
    const extra = (await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).expect(201)).body.token as string;
    const rows = (await t.sql.all('SELECT token_hash, team_id FROM api_tokens')) as Array<{ token_hash: string; team_id: string | null }>;
    const hashes = new Set(rows.map((r) => r.token_hash));
    for (const tok of [ADMIN_TOKEN, team.token, extra]) {
      expect(hashes.has(createHash('sha256').update(tok).digest('hex')), 'sha256 of the token is stored').toBe(true);
    }
    for (const r of rows) expect(r.token_hash).toMatch(/^[0-9a-f]{64}$/);
    // Scan every column of every table for the tokens themselves.
    const tables = await t.sql.tables();
    for (const table of tables) {
      const dump = JSON.stringify(await t.sql.all(`SELECT * FROM "${table}"`));
      for (const tok of [ADMIN_TOKEN, team.token, extra]) expect(dump.includes(tok), `${table} holds a token in clear`).toBe(false);
    }
  });

  it('are compared whole: prefixes, extensions, case changes and near misses are 401', async () => {
    const team = await createTeam(t, 'near-miss', 'starter');
    const tok = team.token;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    const variants = [
      tok.slice(0, -1),
      tok + 'x',
      tok.toUpperCase(),
      flip(tok, tok.length - 1),
      flip(tok, 0),
      ` ${tok}x`,
      tok.slice(0, 16),
      createHash('sha256').update(tok).digest('hex'), // the stored hash is not a credential
    ];
    for (const v of variants) {
      const res = await t.api.get('/api/teams').set(bearer(v));
      expect(res.status, v).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    }
    expect((await t.api.get('/api/teams').set(bearer(tok))).status).toBe(200);
    // The scheme is case-insensitive and surrounding spaces are tolerated (RFC 7235).
    expect((await t.api.get('/api/teams').set('Authorization', `bearer   ${tok}  `)).status).toBe(200);
  });
});

describe('logs', () => {
  const sigs: string[] = [];
  let callId = '';
  let genericCallId = '';
  let sid = '';

  async function postTwilio(path: string, params: Params, authToken: string | null = TWILIO_TOKEN) {
    const r = prepareTwilio(t.gw.publicUrl(), path, params, { authToken });
    if (r.headers['X-Twilio-Signature']) sigs.push(r.headers['X-Twilio-Signature']);
    return t.api.post(r.path).set(r.headers).send(r.body);
  }
  async function postGeneric(path: string, body: unknown, secret = GENERIC_SECRET) {
    const raw = JSON.stringify(body);
    const sig = signGeneric(secret, path, raw, t.clock.now());
    sigs.push(sig, sig.slice(sig.indexOf('v2=') + 3));
    return t.api.post(path).set({ 'Content-Type': 'application/json', 'X-Switchboard-Signature': sig }).send(raw);
  }

  beforeAll(async () => {
    // Teams and tokens.
    const team = await createTeam(t, 'log-team', 'starter');
    remember('team token', team.token);
    const extra = (await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).expect(201)).body.token as string;
    remember('extra team token', extra);

    // Purchase (idempotent), assign.
    const [e164] = await availableNumbers(t, 'US', 1);
    const numberId = await buyActive(t, { id: team.id, auth: bearer(extra) }, e164!);
    const a = await t.api.post('/api/assistants').set(team.auth).send({ teamId: team.id, name: 'log-agent', mediaUrl: assistant.url }).expect(201);
    await t.api
      .patch(`/api/assistants/${a.body.assistant.id}/telephony/phone-numbers`)
      .set(team.auth)
      .send({ accountSlug: team.slug, phoneNumberIds: [numberId] })
      .expect(200);

    // A signed Twilio call, bridged to the assistant.
    sid = callSid();
    const voice = await postTwilio('/carriers/twilio/voice', voiceParams({ CallSid: sid, To: e164! }));
    expect(voice.status).toBe(200);
    const twiml = parseTwiml(voice.text);
    callId = twiml.callId!;
    remember('Twilio media token', twiml.token);
    const carrier = await carrierSocket(`ws://127.0.0.1:${port}/media/twilio`);
    carrier.ws.send(CONNECTED);
    carrier.ws.send(twilioStart(callId, twiml.token!, sid));
    for (let i = 3; i < 8; i++) carrier.ws.send(mediaFrame(i));
    await eventually(() => carrier.received.length >= 5);
    carrier.ws.close();
    await carrier.closed;
    await eventually(() => t.logs.some((l) => l.msg === 'bridge ended' && l.callId === callId));

    // Its status callbacks.
    expect((await postTwilio('/carriers/twilio/status', { AccountSid: accountSid, CallSid: sid, CallStatus: 'in-progress', SequenceNumber: '1' })).status).toBe(
      204,
    );
    expect(
      (await postTwilio('/carriers/twilio/status', { AccountSid: accountSid, CallSid: sid, CallStatus: 'completed', CallDuration: '5', SequenceNumber: '2' }))
        .status,
    ).toBe(204);
    expect((await postTwilio('/carriers/twilio/connect-action', { AccountSid: accountSid, CallSid: sid, CallStatus: 'completed' })).status).toBe(200);

    // The generic endpoint: inbound and status.
    const g = await postGeneric('/carriers/generic/inbound', { callId: 'sip-call-1', from: '+12025550143', to: e164 });
    expect(g.status).toBe(200);
    expect(g.body.action).toBe('connect');
    genericCallId = g.body.callId;
    remember('generic media token', new URL(g.body.mediaUrl).searchParams.get('token'));
    expect((await postGeneric('/carriers/generic/status', { callId: 'sip-call-1', status: 'completed', durationSec: 3 })).status).toBe(200);

    // Outbound caller id: its TwiML carries a media token too.
    const out = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: a.body.assistant.id, to: '+12125550123' }).expect(200);
    remember('outbound media token', parseTwiml(out.body.twiml).token);

    // Failures: a fake bearer token, bad signatures of both kinds, a forged media token.
    const fake = 'sb_team_FAKEfakeFAKEfakeFAKEfake1234';
    remember('fake bearer token', fake);
    expect((await t.api.get('/api/teams').set(bearer(fake))).status).toBe(401);
    const badTwilio = await postTwilio('/carriers/twilio/voice', voiceParams({ To: e164! }), 'not-the-auth-token');
    expect(badTwilio.status).toBe(403);
    expect((await postGeneric('/carriers/generic/inbound', { callId: 'sip-call-2', from: '+1', to: e164 }, 'not-the-webhook-secret-xx')).status).toBe(403);
    const forged = 'F'.repeat(43);
    remember('forged media token', forged);
    const bad = await carrierSocket(`ws://127.0.0.1:${port}/media/twilio`);
    bad.ws.send(twilioStart(callId, forged, sid));
    expect((await bad.closed).code).toBe(1008);

    for (const s of sigs) remember('signature', s);
  });

  it('no log line contains a secret, a token or a signature', () => {
    expect(t.logs.length).toBeGreaterThan(30);
    expect(secrets.size).toBeGreaterThanOrEqual(12);
    const leaks: string[] = [];
    for (const line of t.logs) {
      const s = JSON.stringify(line);
      for (const [value, what] of secrets) if (s.includes(value)) leaks.push(`${what} in ${s.slice(0, 300)}`);
    }
    expect(leaks).toEqual([]);
  });

  it('no log line carries an Authorization header or signature header, even redacted ones in full', () => {
    for (const line of t.logs) {
      const s = JSON.stringify(line).toLowerCase();
      expect(s).not.toMatch(/bearer\s+sb_/);
      expect(s).not.toContain('x-twilio-signature":"');
      expect(s).not.toContain('x-switchboard-signature":"');
    }
  });

  it("a call's whole story: the webhook, the status callbacks and the bridge lines all carry its call id", () => {
    const story = t.logs.filter((l) => JSON.stringify(l).includes(callId));
    const has = (pred: (l: Record<string, unknown>) => boolean, what: string) =>
      expect(story.some(pred), `${what} in ${JSON.stringify(story, null, 1).slice(0, 2000)}`).toBe(true);
    has((l) => l.msg === 'carrier webhook' && l.path === '/carriers/twilio/voice' && l.callId === callId && l.decision === 'connect', 'the voice webhook line');
    expect(story.filter((l) => l.msg === 'carrier webhook' && l.path === '/carriers/twilio/status' && l.callId === callId)).toHaveLength(2);
    has((l) => l.msg === 'carrier webhook' && l.path === '/carriers/twilio/connect-action' && l.callId === callId, 'the connect-action line');
    has((l) => l.msg === 'assistant connected; bridging' && l.callId === callId, 'the bridge-open line');
    has((l) => l.msg === 'bridge ended' && l.callId === callId, 'the bridge-end line');
    // The carrier's own id ties in too (the voice line names both).
    has((l) => l.callId === callId && l.carrierCallId === sid, 'the carrier call id');
    // The generic call's webhook and status lines carry its id as well.
    const generic = t.logs.filter((l) => l.callId === genericCallId && l.msg === 'carrier webhook').map((l) => l.path);
    expect(generic).toEqual(['/carriers/generic/inbound', '/carriers/generic/status']);
  });

  it('the failures are logged (so they can be investigated) without their secrets', () => {
    expect(t.logs.some((l) => l.msg === 'request' && l.status === 401)).toBe(true);
    expect(t.logs.filter((l) => l.msg === 'carrier webhook' && l.error === 'INVALID_SIGNATURE').length).toBeGreaterThanOrEqual(2);
    expect(t.logs.some((l) => String(l.msg).startsWith('media stream refused'))).toBe(true);
  });
});
