// POST /carriers/twilio/voice (api.md section 4): connect and reject TwiML,
// every reject reason, X-Twilio-Signature checked with the official twilio
// package as the oracle, input limits, and number formats in `To`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  assertWellFormed,
  assign,
  CARRIER_ENV,
  callRow,
  callSid,
  countCalls,
  formEncode,
  newAssistant,
  parseTwiml,
  PUBLIC_URL,
  twilioSignature,
  twilioVoice,
  TWILIO_TOKEN,
  voiceParams,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let team: Team;
let assistant: string;
/** An active number assigned to `assistant`. */
let routed: { id: string; e164: string };

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  team = await createTeam(t, 'voice', 'pro');
  assistant = await newAssistant(t, team, 'voice-agent');
  const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '415' });
  routed = { id: await buyActive(t, team, e164!), e164: e164! };
  await assign(t, team, assistant, [routed.id]);
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true });

async function getCall(id: string, gw = t) {
  return (await gw.api.get(`/api/calls/${id}`).set(gw.admin).expect(200)).body.call;
}

describe('connect', () => {
  it('answers exactly the documented connect TwiML, with a token that verifies for the assistant', async () => {
    const sid = callSid();
    const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: routed.e164 }));
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.text.startsWith('<?xml')).toBe(true);
    const tw = parseTwiml(res.text);
    expect(res.text).toContain(
      `<Response><Connect action="https://gw.example.com/carriers/twilio/connect-action"><Stream url="wss://gw.example.com/media/twilio">`,
    );
    expect(res.text).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<Response><Connect action="[^"]+"><Stream url="[^"]+"><Parameter name="callId" value="[^"]+"\/><Parameter name="token" value="[^"]+"\/><\/Stream><\/Connect><\/Response>$/,
    );
    expect(tw.reject).toBeNull();
    expect(tw.streamUrl).toBe('wss://gw.example.com/media/twilio');
    expect(tw.callId).toBeTruthy();
    expect(t.gw.tokens.verify(tw.callId!, assistant, tw.token)).toBe(true);
    // The token is pinned to this assistant: it does not verify for another one.
    expect(t.gw.tokens.verify(tw.callId!, 'another-assistant', tw.token)).toBe(false);

    const call = await getCall(tw.callId!);
    expect(call).toMatchObject({
      id: tw.callId,
      teamId: team.id,
      direction: 'inbound',
      carrier: 'twilio',
      carrierCallId: sid,
      to: routed.e164,
      from: '+12025550143',
      phoneNumberId: routed.id,
      assistantId: assistant,
      status: 'routed',
      reason: null,
    });
  });

  it('uses ws:// for the stream when the public URL is http', async () => {
    const h = await startGateway({ env: { ...CARRIER_ENV, SWITCHBOARD_PUBLIC_URL: 'http://gw.local:8080' } });
    try {
      const tm = await createTeam(h, 'voice-http', 'pro');
      const a = await newAssistant(h, tm);
      const [e164] = await availableNumbers(h, 'US', 1);
      await assign(h, tm, a, [await buyActive(h, tm, e164!)]);
      const res = await twilioVoice(h, voiceParams({ To: e164! }));
      expect(res.status, res.text).toBe(200);
      const tw = parseTwiml(res.text);
      expect(tw.streamUrl).toBe('ws://gw.local:8080/media/twilio');
      expect(tw.action).toBe('http://gw.local:8080/carriers/twilio/connect-action');
      expect(h.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('keeps the XML well-formed when the assistant media URL and names carry & and <', async () => {
    const a = await newAssistant(t, team, 'R&D <bot> "quoted"', 'wss://agent.example.com/s?a=1&b=2&c=%3Cx%3E');
    const [e164] = await availableNumbers(t, 'US', 1);
    await assign(t, team, a, [await buyActive(t, team, e164!)]);
    const res = await twilioVoice(t, voiceParams({ To: e164!, From: '+1 <&> 555' }));
    expect(res.status, res.text).toBe(200);
    expect(() => assertWellFormed(res.text)).not.toThrow();
    const tw = parseTwiml(res.text);
    expect(t.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
  });

  it('the well-formedness check itself catches a raw & and unbalanced tags', () => {
    expect(() => assertWellFormed('<?xml version="1.0" encoding="UTF-8"?><Response><Stream url="wss://x/?a=1&b=2"/></Response>')).toThrow();
    expect(() => assertWellFormed('<?xml version="1.0" encoding="UTF-8"?><Response><Say>a & b</Say></Response>')).toThrow();
    expect(() => assertWellFormed('<?xml version="1.0" encoding="UTF-8"?><Response><Connect></Response>')).toThrow();
    expect(() => assertWellFormed('<?xml version="1.0" encoding="UTF-8"?><Response><Say>a &amp; b</Say></Response>')).not.toThrow();
  });
});

describe('`To` written in other formats routes to the same number', () => {
  const national = () => routed.e164.slice(2); // 10 digits, US
  const cases: Array<[string, () => Record<string, string>]> = [
    ['digits only with ToCountry=US', () => ({ To: '1' + national(), ToCountry: 'US' })],
    ['national digits with ToCountry=US', () => ({ To: national(), ToCountry: 'US' })],
    ['+1 (415) 555-0100 style', () => ({ To: `+1 (${national().slice(0, 3)}) ${national().slice(3, 6)}-${national().slice(6)}` })],
    ['tel: URI', () => ({ To: `tel:+1-${national().slice(0, 3)}-${national().slice(3, 6)}-${national().slice(6)}` })],
    ['sip: URI', () => ({ To: `sip:${routed.e164}@pbx.example.com;user=phone` })],
  ];
  for (const [name, to] of cases) {
    it(name, async () => {
      const res = await twilioVoice(t, voiceParams(to()));
      expect(res.status, res.text).toBe(200);
      const tw = parseTwiml(res.text);
      expect(tw.reject, res.text).toBeNull();
      expect(t.gw.tokens.verify(tw.callId!, assistant, tw.token)).toBe(true);
      const call = await getCall(tw.callId!);
      expect(call).toMatchObject({ to: routed.e164, phoneNumberId: routed.id, assistantId: assistant });
    });
  }
});

describe('reject', () => {
  async function expectReject(gw: TestGateway, to: string, reason: string) {
    const sid = callSid();
    const res = await twilioVoice(gw, voiceParams({ CallSid: sid, To: to }));
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.text).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<Response><Reject reason="rejected"\/><\/Response>$/);
    expect(parseTwiml(res.text).reject).toBe('rejected');
    expect(res.text).not.toContain('<Stream');
    const row = await callRow(gw, sid);
    expect(row, 'a rejected call is recorded too').toBeDefined();
    expect(row!.status).toBe('rejected');
    expect(row!.reason).toBe(reason);
    expect(row!.assistant_id).toBeNull();
    return row!;
  }

  it('no_route: a number nobody holds', async () => {
    const row = await expectReject(t, '+14155559999', 'no_route');
    expect(row.team_id).toBeNull();
  });

  it('no_route: a `To` that is not a phone number at all (client:alice)', async () => {
    await expectReject(t, 'client:alice', 'no_route');
  });

  it('unassigned: an active number with no assistant', async () => {
    const [e164] = await availableNumbers(t, 'US', 1);
    const id = await buyActive(t, team, e164!);
    const row = await expectReject(t, e164!, 'unassigned');
    expect(row.phone_number_id).toBe(id);
    expect(row.team_id).toBe(team.id);
  });

  it('suspended: an admin suspends the number, and it routes again once reactivated', async () => {
    const a = await newAssistant(t, team);
    const [e164] = await availableNumbers(t, 'US', 1);
    const id = await buyActive(t, team, e164!);
    await assign(t, team, a, [id]);
    await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'suspended' }).expect(200);
    await expectReject(t, e164!, 'suspended');
    await t.api.patch(`/api/phone-numbers/${id}`).set(t.admin).send({ status: 'active' }).expect(200);
    const res = await twilioVoice(t, voiceParams({ To: e164! }));
    const tw = parseTwiml(res.text);
    expect(t.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
  });

  it('released: the number was deleted (released) while assigned', async () => {
    const a = await newAssistant(t, team);
    const [e164] = await availableNumbers(t, 'US', 1);
    const id = await buyActive(t, team, e164!);
    await assign(t, team, a, [id]);
    // Warm the routing cache first, so the release must invalidate it.
    expect(parseTwiml((await twilioVoice(t, voiceParams({ To: e164! }))).text).callId).toBeTruthy();
    await t.api.delete(`/api/phone-numbers/${id}`).set(team.auth).expect(200);
    await expectReject(t, e164!, 'released');
  });

  it('not_active: a number still purchasing', async () => {
    const g = await startGateway({ env: { ...CARRIER_ENV, SIM_PROVISION_MS: '600000' } });
    try {
      const tm = await createTeam(g, 'voice-purchasing', 'pro');
      const [e164] = await availableNumbers(g, 'US', 1);
      const res = await g.api.post('/api/phone-numbers/purchase').set(tm.auth).send({ phoneNumber: e164, teamId: tm.id }).expect(201);
      expect(res.body.phoneNumber.status).toBe('purchasing');
      await expectReject(g, e164!, 'not_active');
    } finally {
      await g.close();
    }
  });

  it('expired: a free-plan trial number rejects at expiry, before any sweep runs', async () => {
    const clock = new ManualClock(Date.now());
    const g = await startGateway({ env: { ...CARRIER_ENV }, clock });
    try {
      const tm = await createTeam(g, 'voice-trial', 'free');
      const a = await newAssistant(g, tm);
      const [e164] = await availableNumbers(g, 'US', 1);
      const id = await buyActive(g, tm, e164!);
      await assign(g, tm, a, [id]);
      const n = (await g.api.get(`/api/phone-numbers/${id}`).set(tm.auth).expect(200)).body.phoneNumber;
      expect(n.trial).toBe(true);
      // Just before expiry it still connects (and this warms the routing cache).
      clock.set(Date.parse(n.expiresAt) - 1000);
      const before = parseTwiml((await twilioVoice(g, voiceParams({ To: e164! }))).text);
      expect(g.gw.tokens.verify(before.callId!, a, before.token)).toBe(true);
      clock.advance(1000);
      await expectReject(g, e164!, 'expired');
      // No sweep ran: the number itself is still active in the API.
      expect((await g.api.get(`/api/phone-numbers/${id}`).set(tm.auth).expect(200)).body.phoneNumber.status).toBe('active');
    } finally {
      await g.close();
    }
  });

  it('a trial made permanent by an upgrade keeps routing past the old expiry (warm cache)', async () => {
    const clock = new ManualClock(Date.now());
    const g = await startGateway({ env: { ...CARRIER_ENV }, clock });
    try {
      const tm = await createTeam(g, 'voice-upgrade', 'free');
      const a = await newAssistant(g, tm);
      const [e164] = await availableNumbers(g, 'US', 1);
      await assign(g, tm, a, [await buyActive(g, tm, e164!)]);
      // Warm the routing cache while the number is still a trial.
      expect(parseTwiml((await twilioVoice(g, voiceParams({ To: e164! }))).text).callId).toBeTruthy();
      await g.api.patch(`/api/teams/${tm.id}`).set(g.admin).send({ plan: 'starter' }).expect(200);
      clock.advance(6 * 24 * 60 * 60_000);
      const tw = parseTwiml((await twilioVoice(g, voiceParams({ To: e164! }))).text);
      expect(tw.reject).toBeNull();
      expect(g.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
    } finally {
      await g.close();
    }
  });

  it('expired: five days after purchase, from a cold routing cache', async () => {
    const clock = new ManualClock(Date.now());
    const g = await startGateway({ env: { ...CARRIER_ENV }, clock });
    try {
      const tm = await createTeam(g, 'voice-trial2', 'free');
      const a = await newAssistant(g, tm);
      const [e164] = await availableNumbers(g, 'US', 1);
      await assign(g, tm, a, [await buyActive(g, tm, e164!)]);
      clock.advance(5 * 24 * 60 * 60_000);
      await expectReject(g, e164!, 'expired');
    } finally {
      await g.close();
    }
  });
});

describe('X-Twilio-Signature', () => {
  const calls = () => countCalls(t);

  it('unsigned → 403 INVALID_SIGNATURE and no call record', async () => {
    const before = await calls();
    const sid = callSid();
    const res = await twilioVoice(t, voiceParams({ CallSid: sid, To: routed.e164 }), { authToken: null });
    expectError(res, 403, 'INVALID_SIGNATURE');
    expect(await calls()).toBe(before);
    expect(await callRow(t, sid)).toBeUndefined();
  });

  it('signed with another auth token → 403', async () => {
    const before = await calls();
    const res = await twilioVoice(t, voiceParams({ To: routed.e164 }), { authToken: 'not-the-token' });
    expectError(res, 403, 'INVALID_SIGNATURE');
    expect(await calls()).toBe(before);
  });

  it('a tampered parameter → 403', async () => {
    const before = await calls();
    const p = voiceParams({ To: routed.e164 });
    const res = await twilioVoice(t, { ...p, From: '+19995550000' }, { signParams: p });
    expectError(res, 403, 'INVALID_SIGNATURE');
    // A tampered To (the routing key itself).
    const res2 = await twilioVoice(t, { ...p, To: '+14155559999' }, { signParams: p });
    expectError(res2, 403, 'INVALID_SIGNATURE');
    expect(await calls()).toBe(before);
  });

  it('a parameter added after signing → 403; one dropped after signing → 403', async () => {
    const before = await calls();
    const p = voiceParams({ To: routed.e164 });
    expectError(await twilioVoice(t, { ...p, StirVerstat: 'TN-Validation-Passed-A' }, { signParams: p }), 403, 'INVALID_SIGNATURE');
    expectError(await twilioVoice(t, p, { signParams: { ...p, CallerName: 'Alice' } }), 403, 'INVALID_SIGNATURE');
    expect(await calls()).toBe(before);
  });

  it('unknown extra parameters that were signed are fine (they all count)', async () => {
    const res = await twilioVoice(t, voiceParams({ To: routed.e164, SomeNewParam: 'x y+z', Empty: '', Repeated: ['b', 'a', 'b'] }));
    expect(res.status, res.text).toBe(200);
    expect(parseTwiml(res.text).callId).toBeTruthy();
  });

  it.each([
    ['http instead of https', 'http://gw.example.com/carriers/twilio/voice'],
    ['a trailing slash', 'https://gw.example.com/carriers/twilio/voice/'],
    ['an extra query string', 'https://gw.example.com/carriers/twilio/voice?x=1'],
    ['another host', 'https://evil.example.com/carriers/twilio/voice'],
    ['another path', 'https://gw.example.com/carriers/twilio/status'],
  ])('signed over a different URL (%s) → 403', async (_name, url) => {
    const before = await calls();
    const res = await twilioVoice(t, voiceParams({ To: routed.e164 }), { url });
    expectError(res, 403, 'INVALID_SIGNATURE');
    expect(await calls()).toBe(before);
  });

  it('signed over the URL with the default port :443 → accepted (as the official validator does)', async () => {
    const res = await twilioVoice(t, voiceParams({ To: routed.e164 }), { url: 'https://gw.example.com:443/carriers/twilio/voice' });
    expect(res.status, res.text).toBe(200);
  });

  it('the raw query string is part of the signed URL, not re-encoded', async () => {
    const path = '/carriers/twilio/voice?foo=1&bar=a+b%27';
    const p = voiceParams({ To: routed.e164 });
    // The oracle agrees the exact raw URL matters.
    expect(twilioSignature(TWILIO_TOKEN, PUBLIC_URL + path, p)).not.toBe(
      twilioSignature(TWILIO_TOKEN, PUBLIC_URL + "/carriers/twilio/voice?foo=1&bar=a%20b'", p),
    );
    const ok = await twilioVoice(t, p, { path });
    expect(ok.status, ok.text).toBe(200);
    expect(parseTwiml(ok.text).callId).toBeTruthy();
    // Signed over the query re-encoded or re-sorted: 403.
    for (const url of [
      PUBLIC_URL + "/carriers/twilio/voice?foo=1&bar=a%20b'",
      PUBLIC_URL + '/carriers/twilio/voice?bar=a+b%27&foo=1',
      PUBLIC_URL + '/carriers/twilio/voice',
    ]) {
      expectError(await twilioVoice(t, voiceParams({ To: routed.e164 }), { path, url }), 403, 'INVALID_SIGNATURE');
    }
  });

  it('the Host header is never used to build the signed URL', async () => {
    const p = voiceParams({ To: routed.e164 });
    const res = await twilioVoice(t, p, { url: 'http://127.0.0.1/carriers/twilio/voice' });
    expectError(res, 403, 'INVALID_SIGNATURE');
  });
});

describe('configuration', () => {
  it('TWILIO_AUTH_TOKEN unset → 503 UNAVAILABLE naming it; no call record', async () => {
    const g = await startGateway({ env: { SWITCHBOARD_PUBLIC_URL: PUBLIC_URL } });
    try {
      const res = await twilioVoice(g, voiceParams({ To: '+14155550100' }));
      expectError(res, 503, 'UNAVAILABLE');
      expect(res.body.error.message).toContain('TWILIO_AUTH_TOKEN');
      for (const path of ['/carriers/twilio/status', '/carriers/twilio/connect-action']) {
        const r = await g.api
          .post(path)
          .type('form')
          .send(formEncode({ CallSid: callSid(), CallStatus: 'completed' }));
        expect(r.status).toBe(503);
      }
      expect(await countCalls(g)).toBe(0);
    } finally {
      await g.close();
    }
  });

  it('with SWITCHBOARD_INSECURE_WEBHOOKS=1 an unsigned webhook is answered', async () => {
    const g = await startGateway({ env: { SWITCHBOARD_PUBLIC_URL: PUBLIC_URL, SWITCHBOARD_INSECURE_WEBHOOKS: '1' } });
    try {
      const tm = await createTeam(g, 'voice-insecure', 'pro');
      const a = await newAssistant(g, tm);
      const [e164] = await availableNumbers(g, 'US', 1);
      await assign(g, tm, a, [await buyActive(g, tm, e164!)]);
      const res = await twilioVoice(g, voiceParams({ To: e164! }), { authToken: null });
      expect(res.status, res.text).toBe(200);
      const tw = parseTwiml(res.text);
      expect(g.gw.tokens.verify(tw.callId!, a, tw.token)).toBe(true);
    } finally {
      await g.close();
    }
  });
});

describe('bad requests', () => {
  it('wrong content type → 415, no call record', async () => {
    const before = await countCalls(t);
    const p = voiceParams({ To: routed.e164 });
    const res = await twilioVoice(t, p, { contentType: 'application/json', rawBody: JSON.stringify(p) });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await countCalls(t)).toBe(before);
  });

  it('missing CallSid → 400 naming it; missing To → 400 naming it; a malformed CallSid → 400', async () => {
    const before = await countCalls(t);
    const { CallSid: _c, ...noSid } = voiceParams({ To: routed.e164 });
    const r1 = await twilioVoice(t, noSid);
    expectError(r1, 400, 'INVALID_REQUEST');
    expect(r1.body.error.message).toContain('CallSid');
    const r2 = await twilioVoice(t, voiceParams());
    expectError(r2, 400, 'INVALID_REQUEST');
    expect(r2.body.error.message).toContain('To');
    const r3 = await twilioVoice(t, voiceParams({ To: routed.e164, CallSid: 'CA123' }));
    expectError(r3, 400, 'INVALID_REQUEST');
    expect(await countCalls(t)).toBe(before);
  });

  it('a body over 64 KiB → 413', async () => {
    const before = await countCalls(t);
    const res = await twilioVoice(t, voiceParams({ To: routed.e164, Junk: 'x'.repeat(70 * 1024) }));
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await countCalls(t)).toBe(before);
  });

  it('GET → 405 with Allow: POST', async () => {
    const res = await t.api.get('/carriers/twilio/voice');
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('POST');
  });

  it('an unknown carrier path → 404', async () => {
    const res = await twilioVoice(t, voiceParams({ To: routed.e164 }), { path: '/carriers/twilio/voicex' });
    expect(res.status).toBe(404);
  });
});
