// The first 15 minutes (hardening issue, item 7), through the HTTP API: the
// mistakes a new user makes get answers that say what to do.
//   - search refuses filters that do not apply to the number type (400
//     naming the field and why), instead of silently ignoring them;
//   - PLAN_LIMIT_REACHED says to upgrade or release; NUMBER_NOT_ACTIVE on a
//     purchasing number says to wait until it is active; a missing field
//     "is required"; an invalid number hints at E.164;
//   - Twilio's INVALID_SIGNATURE names the URL the signature was checked
//     against, and never contains the auth token (nor the expected signature).
// (The generic endpoint's "stale timestamp" vs "does not match" is in
// test/http/generic-carrier.test.ts; the admin token's first start is in
// test/e2e/admin-token-once.test.ts.)
import { ON_SIM } from '../helpers/provider-under-test.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIER_ENV, PUBLIC_URL, TWILIO_TOKEN, newAssistant, twilioSignature, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
});
afterAll(async () => {
  await t?.close();
});

type Res = { status: number; body: any; headers: Record<string, string>; text: string };
const search = (filters: Record<string, unknown>) => t.api.post('/api/phone-numbers/search').set(t.admin).send({ filters });

describe('search refuses filters that do not apply', () => {
  it.each([
    [{ countryCode: 'US', prefix: '800' }, ['prefix']],
    [{ countryCode: 'US', numberType: 'local', prefix: '888' }, ['prefix']],
    [{ countryCode: 'US', numberType: 'toll-free', areaCode: '415' }, ['areaCode']],
    [{ countryCode: 'US', numberType: 'tollFree', state: 'CA' }, ['state']],
    [{ countryCode: 'US', numberType: 'toll_free', city: 'Boston' }, ['city']],
    [{ countryCode: 'US', numberType: 'toll-free', areaCode: '415', state: 'CA', city: 'San Francisco' }, ['areaCode', 'state', 'city']],
  ])('%j → 400 naming %j and why', async (filters, fields) => {
    const res = await search(filters);
    expectApiError(res, 400, 'INVALID_REQUEST', { json: true });
    const msg = res.body.error.message as string;
    for (const f of fields) expect(msg).toContain(`filters.${f}`);
    if (fields[0] === 'prefix') expect(msg).toMatch(/toll-free numbers only.*areaCode, state or city/);
    else expect(msg).toMatch(/local numbers only.*prefix/);
    expect(res.body.numbers).toBeUndefined();
  });

  it('the filters that do apply still work', async () => {
    const local = await search({ countryCode: 'US', areaCode: '415' }).expect(200);
    expect(local.body.numbers.length).toBeGreaterThan(0);
    const free = await search({ countryCode: 'US', numberType: 'toll-free', prefix: '800' }).expect(200);
    expect(free.body.numbers.length).toBeGreaterThan(0);
  });
});

describe('error messages say what to do', () => {
  it('PLAN_LIMIT_REACHED: upgrade the plan or release a number', async () => {
    const team = await createTeam(t, 'guide-free', 'free');
    const [a, b] = await availableNumbers(t, 'US', 2);
    await buyActive(t, team, a!);
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: b, teamId: team.id });
    expectApiError(res, 403, 'PLAN_LIMIT_REACHED');
    expect(res.body.error.message).toMatch(/upgrade/i);
    expect(res.body.error.message).toMatch(/release/i);
  });

  // Needs a purchase that stays `purchasing`: the simulated carrier's timer.
  it.skipIf(!ON_SIM)('NUMBER_NOT_ACTIVE on a number still being bought: it is purchasing, wait until it is active', async () => {
    const slow = await startGateway({ env: { SIM_PROVISION_MS: '600000' } });
    try {
      const team = await createTeam(slow, 'guide-slow');
      const [e164] = await availableNumbers(slow, 'US', 1);
      const bought = await slow.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e164, teamId: team.id }).expect(201);
      const id = bought.body.phoneNumber.id as string;
      const assistantId = await newAssistant(slow, team);
      const res = await slow.api
        .patch(`/api/assistants/${assistantId}/telephony/phone-numbers`)
        .set(team.auth)
        .send({ accountSlug: team.slug, phoneNumberIds: [id] });
      expectApiError(res, 409, 'NUMBER_NOT_ACTIVE');
      const msg = res.body.error.message as string;
      expect(msg).toContain(id);
      expect(msg).toContain('purchasing');
      expect(msg).toMatch(/wait until .*active/);
    } finally {
      await slow.close();
    }
  });

  it('a missing field "is required"; a field of the wrong type says what it must be instead', async () => {
    const team = await createTeam(t, 'guide-fields');
    const cases: Array<[string, Record<string, unknown>, Record<string, string>, string]> = [
      ['/api/teams', { name: 'Acme' }, t.admin, 'slug'],
      ['/api/teams', { slug: 'acme-x' }, t.admin, 'name'],
      ['/api/assistants', { name: 'Agent' }, team.auth, 'mediaUrl'],
      ['/api/assistants', { mediaUrl: 'wss://agent.example.com/s' }, team.auth, 'name'],
      ['/api/phone-numbers/purchase', { teamId: team.id }, team.auth, 'phoneNumber'],
      ['/api/outbound/caller-id', { to: '+12125550123' }, team.auth, 'assistantId'],
    ];
    for (const [path, body, auth, field] of cases) {
      const res: Res = await t.api.post(path).set(auth).send(body);
      expectApiError(res, 400, 'INVALID_REQUEST');
      expect(res.body.error.message, `${path} without ${field}`).toMatch(new RegExp(`^${field}: is required`));
    }
    // Present but wrong: not "required".
    const wrong = await t.api.post('/api/assistants').set(team.auth).send({ name: 5, mediaUrl: 'wss://agent.example.com/s' });
    expectApiError(wrong, 400, 'INVALID_REQUEST');
    expect(wrong.body.error.message).toBe('name: must be a string');
    const nulled = await t.api.post('/api/assistants').set(team.auth).send({ name: null, mediaUrl: 'wss://agent.example.com/s' });
    expect(nulled.body.error.message).not.toMatch(/is required/);
  });

  it('an invalid phone number hints at E.164, with an example', async () => {
    const team = await createTeam(t, 'guide-e164');
    const assistantId = await newAssistant(t, team);
    for (const [path, body] of [
      ['/api/phone-numbers/purchase', { phoneNumber: '4155550100x', teamId: team.id }],
      ['/api/phone-numbers/purchase', { phoneNumber: '12345', teamId: team.id }],
      ['/api/outbound/caller-id', { assistantId, to: 'call me maybe' }],
    ] as const) {
      const res = await t.api.post(path).set(team.auth).send(body);
      expectApiError(res, 400, 'INVALID_PHONE_NUMBER');
      expect(res.body.error.message).toMatch(/E\.164, e\.g\. \+\d{8,15}/);
    }
  });

  it('Twilio INVALID_SIGNATURE names the URL it checked (public URL + path + query), never the auth token or the expected signature', async () => {
    const params = voiceParams({ To: '+12025550100' });
    for (const path of ['/carriers/twilio/voice', '/carriers/twilio/voice?tenant=acme']) {
      const res = await twilioVoice(t, params, { authToken: 'a-wrong-auth-token', path });
      expectApiError(res, 403, 'INVALID_SIGNATURE');
      const msg = res.body.error.message as string;
      expect(msg).toContain(`signed for ${PUBLIC_URL}${path} `);
      expect(msg).toMatch(/SWITCHBOARD_PUBLIC_URL/);
      expect(res.text).not.toContain(TWILIO_TOKEN);
      expect(res.text).not.toContain(twilioSignature(TWILIO_TOKEN, PUBLIC_URL + path, params));
    }
    // A missing header says so, rather than naming a URL.
    const bare = await twilioVoice(t, params, { authToken: null });
    expectApiError(bare, 403, 'INVALID_SIGNATURE');
    expect(bare.body.error.message).toMatch(/X-Twilio-Signature header is missing/);
  });
});
