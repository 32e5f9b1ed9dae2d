// Telnyx's TeXML webhooks at /carriers/telnyx/*: Ed25519 signatures over
// "<telnyx-timestamp>|<raw body>", refused with 403 and no call record when
// missing, wrong or stale; 503 naming TELNYX_PUBLIC_KEY when it is not set.
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CARRIER_ENV,
  assign,
  countCalls,
  formEncode,
  newAssistant,
  parseTwiml,
  telnyxCallId,
  telnyxHeaders,
  telnyxVoice,
  telnyxVoiceParams,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

describe('Telnyx voice webhooks', () => {
  let t: TestGateway;
  let e164: string;

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const team = await createTeam(t, 'telnyx-voice', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    const agent = await newAssistant(t, team, 'agent');
    await assign(t, team, agent, [await buyActive(t, team, e164)]);
  });
  afterAll(() => t.close());

  const params = () => telnyxVoiceParams({ To: e164 });

  async function refused(res: { status: number; body: any }, message: RegExp) {
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('INVALID_SIGNATURE');
    expect(res.body.error.message).toMatch(message);
  }

  it('a signed webhook is answered with TeXML; Telnyx ids are taken as they come', async () => {
    const sid = 'v3:' + 'x'.repeat(100);
    const res = await telnyxVoice(t, telnyxVoiceParams({ To: e164, CallSid: sid }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(parseTwiml(res.text).callId).toBeTruthy();
    expect(await countCalls(t, 'carrier = ? AND carrier_call_id = ?', 'telnyx', sid)).toBe(1);
  });

  it('unsigned: 403 naming the missing header, no record, and the body is never read', async () => {
    const before = await countCalls(t);
    const res = await telnyxVoice(t, params(), { sign: false });
    await refused(res, /telnyx-signature-ed25519/);
    expect(res.headers.connection).toBe('close');
    expect(await countCalls(t)).toBe(before);
  });

  it('a signature without its timestamp: 403', async () => {
    const body = formEncode(params());
    const { 'telnyx-signature-ed25519': sig } = telnyxHeaders(body, t.clock.now());
    await refused(await telnyxVoice(t, params(), { rawBody: body, headers: { 'telnyx-signature-ed25519': sig! } }), /telnyx-timestamp/);
  });

  it('signed by another key: 403', async () => {
    const other = generateKeyPairSync('ed25519');
    const body = formEncode(params());
    const ts = String(Math.floor(t.clock.now() / 1000));
    const headers = { 'telnyx-signature-ed25519': sign(null, Buffer.from(`${ts}|${body}`), other.privateKey).toString('base64'), 'telnyx-timestamp': ts };
    const before = await countCalls(t);
    await refused(await telnyxVoice(t, params(), { rawBody: body, headers }), /signature mismatch.*TELNYX_PUBLIC_KEY/);
    expect(await countCalls(t)).toBe(before);
  });

  it('a body changed after signing: 403', async () => {
    const body = formEncode(params());
    const headers = telnyxHeaders(body, t.clock.now());
    await refused(await telnyxVoice(t, params(), { rawBody: body.replace(e164.slice(1), '19995550100'), headers }), /signature mismatch/);
  });

  it('a timestamp re-signed into the message but not the header (replay with a new time): 403', async () => {
    const body = formEncode(params());
    const headers = telnyxHeaders(body, t.clock.now());
    headers['telnyx-timestamp'] = String(Number(headers['telnyx-timestamp']) + 1);
    await refused(await telnyxVoice(t, params(), { rawBody: body, headers }), /signature mismatch/);
  });

  it('stale by 301 s (a replay): 403; 300 s still passes', async () => {
    await refused(await telnyxVoice(t, params(), { nowMs: t.clock.now() - 301_000 }), /stale/);
    await refused(await telnyxVoice(t, params(), { nowMs: t.clock.now() + 301_000 }), /stale/);
    expect((await telnyxVoice(t, params(), { nowMs: t.clock.now() - 300_000 })).status).toBe(200);
  });

  it('a malformed signature or timestamp: 403, not 500', async () => {
    const body = formEncode(params());
    for (const headers of [
      { 'telnyx-signature-ed25519': 'not base64!', 'telnyx-timestamp': String(Math.floor(t.clock.now() / 1000)) },
      { 'telnyx-signature-ed25519': 'A'.repeat(86) + '==', 'telnyx-timestamp': 'yesterday' },
      { 'telnyx-signature-ed25519': '', 'telnyx-timestamp': '' },
    ]) {
      expect((await telnyxVoice(t, params(), { rawBody: body, headers })).status).toBe(403);
    }
  });

  it('number order events: unsigned or forged get 403; signed ones are received (204) even when no provider wants them', async () => {
    const event = JSON.stringify({ data: { event_type: 'number_order.complete', id: 'e1', payload: { id: 'order-1', status: 'success', phone_numbers: [] } } });
    const post = (headers: Record<string, string>) =>
      t.api
        .post('/carriers/telnyx/events')
        .set({ 'Content-Type': 'application/json', ...headers })
        .send(event);
    await refused(await post({}), /telnyx-signature-ed25519/);
    const other = generateKeyPairSync('ed25519');
    const ts = String(Math.floor(t.clock.now() / 1000));
    await refused(
      await post({ 'telnyx-signature-ed25519': sign(null, Buffer.from(`${ts}|${event}`), other.privateKey).toString('base64'), 'telnyx-timestamp': ts }),
      /signature mismatch/,
    );
    // This gateway has no Telnyx provider configured: received and ignored.
    const ok = await post(telnyxHeaders(event, t.clock.now()));
    expect(ok.status).toBe(204);
    expect(t.logs).toContainEqual(expect.objectContaining({ path: '/carriers/telnyx/events', event: 'ignored' }));
    const bad = await t.api
      .post('/carriers/telnyx/events')
      .set({ 'Content-Type': 'application/json', ...telnyxHeaders('{not json', t.clock.now()) })
      .send('{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_JSON');
  });

  it('bad input once signed: 400 naming the field, 415 for JSON', async () => {
    const noTo = await telnyxVoice(t, { CallSid: telnyxCallId(), From: '+12025550143' });
    expect(noTo.status).toBe(400);
    expect(noTo.body.error.message).toMatch(/^To: is required/);
    const longSid = await telnyxVoice(t, telnyxVoiceParams({ To: e164, CallSid: 'v3:' + 'x'.repeat(200) }));
    expect(longSid.status).toBe(400);
    expect(longSid.body.error.message).toMatch(/CallSid/);
    const json = await telnyxVoice(t, {}, { rawBody: JSON.stringify({ data: { event_type: 'call.initiated' } }), contentType: 'application/json' });
    expect(json.status).toBe(415);
  });
});

describe('Telnyx voice without TELNYX_PUBLIC_KEY', () => {
  it('answers 503 naming the variable, before reading the body', async () => {
    const { TELNYX_PUBLIC_KEY: _unused, ...env } = CARRIER_ENV;
    const t = await startGateway({ env });
    try {
      const res = await telnyxVoice(t, telnyxVoiceParams());
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/TELNYX_PUBLIC_KEY is not set/);
      expect(await countCalls(t)).toBe(0);
    } finally {
      await t.close();
    }
  });
});
