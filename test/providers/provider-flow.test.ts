// A real provider behind the gateway, end to end: the gateway is configured as
// an operator would (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_URL; or
// TELNYX_API_KEY, TELNYX_API_URL, TELNYX_CONNECTION_ID, TELNYX_PUBLIC_KEY),
// and its API searches, buys, routes, releases and imports numbers through
// the provider's real code path (the official SDK) against a stateful local
// fake of the provider's API. Each provider is one driver below; the
// scenarios are the same for all.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assign,
  newAssistant,
  parseTwiml,
  PUBLIC_URL,
  TELNYX_PUBLIC_KEY,
  TELNYX_SIGNING_KEY,
  telnyxVoice,
  telnyxVoiceParams,
  twilioVoice,
  voiceParams,
} from '../helpers/carrier.js';
import { FakeTelnyxApi } from '../fakes/telnyx-api.js';
import { ADMIN_TOKEN, bearer, createTeam, eventually, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import type { ManualClock } from '../../src/clock.js';

interface ProviderDriver {
  name: 'twilio' | 'telnyx';
  start(): Promise<void>;
  /** Told the gateway's listening base URL (Telnyx sends its order webhooks there). */
  listening?(base: string): void;
  stop(): Promise<void>;
  reset(): void;
  env(): Record<string, string>;
  /** Whether the provider's account holds this number, and where its calls go. */
  held(e164: string): { voiceTarget: string | null } | undefined;
  /** Where this gateway points its numbers at this provider. */
  voiceTarget: string;
  /** How many purchases of this number reached the provider. */
  purchasesOf(e164: string): number;
  sellElsewhere(e164: string): void;
  needsAddress(country: string): void;
  failAuth(): void;
  /** The next purchase is made, but its answer never arrives. */
  losePurchaseAnswer(): void;
  addOwned(e164: string): void;
  releaseInConsole(e164: string): void;
  /** Places a call to this number the way this provider's carrier does. */
  call(t: TestGateway, to: string): Promise<{ status: number; text: string }>;
  voicePath: string;
}

let twilioFake: FakeTwilioApi;
const twilio: ProviderDriver = {
  name: 'twilio',
  async start() {
    twilioFake = await FakeTwilioApi.start();
  },
  stop: () => twilioFake.close(),
  reset: () => twilioFake.reset(),
  // One auth token, as at Twilio: the API credential and the webhook signing key.
  env: () => ({ TWILIO_ACCOUNT_SID: twilioFake.accountSid, TWILIO_AUTH_TOKEN: twilioFake.authToken, TWILIO_API_URL: twilioFake.url }),
  held(e164) {
    const pn = twilioFake.ownedBy(e164);
    return pn ? { voiceTarget: pn.voice_url ?? null } : undefined;
  },
  voiceTarget: PUBLIC_URL + '/carriers/twilio/voice',
  purchasesOf: (e164) => twilioFake.purchases().filter((r) => r.form.PhoneNumber === e164).length,
  sellElsewhere: (e164) => twilioFake.sellElsewhere(e164),
  needsAddress: (country) => twilioFake.regulatory.set(country, 21631),
  failAuth: () => twilioFake.fault({ times: 100, action: { kind: 'status', status: 401, code: 20003, message: 'Authenticate' } }),
  losePurchaseAnswer: () => twilioFake.fault({ method: 'POST', path: /IncomingPhoneNumbers\.json$/, action: { kind: 'lose-response' } }),
  addOwned: (e164) => void twilioFake.addOwned(e164, { voice_url: 'https://old.example.com/voice' }),
  releaseInConsole: (e164) => twilioFake.releaseInConsole(e164),
  call: (t, to) => twilioVoice(t, voiceParams({ To: to }), { authToken: twilioFake.authToken }),
  voicePath: '/carriers/twilio/voice',
};

const TELNYX_KEY = 'KEY_test_telnyx_0123456789';
const CONNECTION = '2811212257810187875';
let telnyxFake: FakeTelnyxApi;
const telnyx: ProviderDriver = {
  name: 'telnyx',
  async start() {
    telnyxFake = await FakeTelnyxApi.start({ apiKey: TELNYX_KEY, connections: [CONNECTION, 'other-app'], orderDelayMs: 100 });
  },
  // Orders settle by the signed number_order.complete webhook (and by polling, should it be lost).
  listening: (base) => telnyxFake.webhookTo(`${base}/carriers/telnyx/events`, TELNYX_SIGNING_KEY),
  stop: () => telnyxFake.close(),
  reset: () => telnyxFake.reset(),
  env: () => ({ TELNYX_API_KEY: TELNYX_KEY, TELNYX_API_URL: telnyxFake.url, TELNYX_CONNECTION_ID: CONNECTION, TELNYX_PUBLIC_KEY }),
  held(e164) {
    const n = telnyxFake.numberByE164(e164);
    return n ? { voiceTarget: n.connection_id } : undefined;
  },
  voiceTarget: CONNECTION,
  purchasesOf: (e164) => [...telnyxFake.orders.values()].filter((o) => o.phone_numbers.some((p) => p.phone_number === e164)).length,
  sellElsewhere: (e164) => telnyxFake.takeNumber(e164),
  needsAddress: (country) => telnyxFake.requireRegulatory(country, 'reject'),
  failAuth: () =>
    telnyxFake.inject({
      times: Infinity,
      fault: {
        kind: 'status',
        status: 401,
        body: { errors: [{ code: '10009', title: 'Authentication failed', detail: 'Could not understand the provided credentials.' }] },
      },
    }),
  losePurchaseAnswer: () => telnyxFake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'lose-response', mode: 'reset' } }),
  addOwned: (e164) => void telnyxFake.addOwned(e164, { connectionId: 'other-app' }),
  releaseInConsole: (e164) => telnyxFake.deleteInPortal(e164),
  call: (t, to) => telnyxVoice(t, telnyxVoiceParams({ To: to })),
  voicePath: '/carriers/telnyx/voice',
};

describe.each([twilio, telnyx])('$name provider, end to end', (p) => {
  let t: TestGateway;
  const admin = bearer(ADMIN_TOKEN);
  let team: Awaited<ReturnType<typeof createTeam>>;
  let n = 0;

  beforeAll(async () => {
    await p.start();
    t = await startGateway({ env: { ...p.env(), SWITCHBOARD_PUBLIC_URL: PUBLIC_URL, SIM_PROVISION_MS: '0' } });
    const { port } = await t.gw.listen();
    p.listening?.(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await t.close();
    await p.stop();
  });
  afterEach(() => {
    p.reset();
    p.listening?.(`http://127.0.0.1:${(t.gw.server.address() as { port: number }).port}`);
  });

  const newTeam = async () => (team = await createTeam(t, `${p.name}-flow-${++n}`, 'pro'));

  /** Numbers used by earlier tests: the fake is reset between tests, the gateway's database is not. */
  const used = new Set<string>();
  async function search(filters: Record<string, unknown> = { countryCode: 'US' }) {
    const res = await t.api.post('/api/phone-numbers/search').set(team.auth).send({ provider: p.name, filters });
    expect(res.status, res.text).toBe(200);
    return (res.body.numbers as Array<{ phoneNumber: string; provider: string; state: string | null; city: string | null }>).filter(
      (x) => !used.has(x.phoneNumber),
    );
  }
  const purchase = (e164: string, key?: string) => {
    used.add(e164);
    const req = t.api.post('/api/phone-numbers/purchase').set(team.auth);
    if (key) req.set('Idempotency-Key', key);
    return req.send({ teamId: team.id, phoneNumber: e164, provider: p.name });
  };
  const number = async (id: string) => (await t.api.get(`/api/phone-numbers/${id}`).set(team.auth)).body.phoneNumber;

  it('is offered by GET /api/providers as the default', async () => {
    await newTeam();
    const res = await t.api.get('/api/providers').set(team.auth).expect(200);
    expect(res.body.providers).toEqual([expect.objectContaining({ name: p.name, default: true })]);
    // Filters in the API's own names: the search route refuses any other.
    const filters = res.body.providers[0].filters;
    expect(['areaCode', 'state', 'city']).toEqual(expect.arrayContaining(filters.local));
    expect(['prefix']).toEqual(expect.arrayContaining(filters['toll-free']));
    expect(
      (
        await t.api
          .post('/api/phone-numbers/search')
          .set(team.auth)
          .send({ provider: p.name, filters: { countryCode: 'US', state: 'ca', city: 'San Francisco' } })
      ).status,
    ).toBe(200);
  });

  it('offers the filters by their API names, and each one it offers works in a search', async () => {
    await newTeam();
    const [provider] = (await t.api.get('/api/providers').set(team.auth).expect(200)).body.providers;
    // Twilio calls the state "region" (InRegion); the API, the console and GET /api/providers say "state".
    expect(provider.filters).toEqual({ local: ['areaCode', 'state', 'city'], 'toll-free': ['prefix'] });
    const n = (await search({ countryCode: 'US', limit: 20 })).find((x) => x.state && x.city);
    expect(n, 'the fake has local numbers with a state and a city').toBeTruthy();
    const byState = await search({ countryCode: 'US', numberType: 'local', state: n!.state, city: n!.city, areaCode: n!.phoneNumber.slice(2, 5) });
    expect(byState.length).toBeGreaterThan(0);
    for (const x of byState) expect(x).toMatchObject({ state: n!.state, city: n!.city });
    expect((await search({ countryCode: 'US', numberType: 'toll-free', prefix: '800' })).every((x) => x.phoneNumber.startsWith('+1800'))).toBe(true);
  });

  it('search → purchase → active, held at the provider with its voice URL pointing here; a call routes; release gives it back', async () => {
    await newTeam();
    const [first] = await search();
    expect(first!.provider).toBe(p.name);
    const e164 = first!.phoneNumber;
    const bought = await purchase(e164);
    expect(bought.status, bought.text).toBe(201);
    const id = bought.body.phoneNumber.id as string;
    await eventually(async () => (await number(id)).status === 'active');
    expect(await number(id)).toMatchObject({ provider: p.name, phoneNumber: e164 });
    expect(p.held(e164)).toEqual({ voiceTarget: p.voiceTarget });
    expect(p.purchasesOf(e164)).toBe(1);
    if (p.name === 'telnyx') {
      // Settled by Telnyx's signed webhook at /carriers/telnyx/events (polling starts only after 2 s).
      expect(t.logs).toContainEqual(expect.objectContaining({ path: '/carriers/telnyx/events', status: 204, event: 'settled' }));
    }

    const agent = await newAssistant(t, team, 'agent');
    await assign(t, team, agent, [id]);
    const routed = await p.call(t, e164);
    expect(parseTwiml(routed.text).callId).toBeTruthy();

    await t.api.delete(`/api/phone-numbers/${id}`).set(team.auth).expect(200);
    await eventually(() => p.held(e164) === undefined);
  });

  it("a free plan's trial number: bought at the provider, and given back to it when the 5 days are over", async () => {
    team = await createTeam(t, `${p.name}-flow-${++n}`, 'free');
    const [x] = await search();
    const bought = await purchase(x!.phoneNumber);
    expect(bought.status, bought.text).toBe(201);
    expect(bought.body.phoneNumber.trial).toBe(true);
    await eventually(async () => (await number(bought.body.phoneNumber.id)).status === 'active');
    expect(p.held(x!.phoneNumber)).toBeDefined();
    (t.clock as ManualClock).advance(5 * 86_400_000 + 1000);
    await t.gw.sweep();
    await eventually(async () => (await number(bought.body.phoneNumber.id)).status === 'released');
    await eventually(() => p.held(x!.phoneNumber) === undefined);
  });

  it('two teams buying one number at once: one gets it, the provider sells it once', async () => {
    const a = await newTeam();
    const [target] = await search();
    const b = await createTeam(t, `${p.name}-flow-${++n}`, 'pro');
    used.add(target!.phoneNumber);
    const buy = (tm: typeof a) =>
      t.api.post('/api/phone-numbers/purchase').set(tm.auth).send({ teamId: tm.id, phoneNumber: target!.phoneNumber, provider: p.name });
    const results = await Promise.all([buy(a), buy(b)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(p.purchasesOf(target!.phoneNumber)).toBe(1);
  });

  it('a number sold meanwhile: 409 NUMBER_UNAVAILABLE, and the idempotency key can be used again', async () => {
    await newTeam();
    const [x, y] = await search();
    p.sellElsewhere(x!.phoneNumber);
    const res = await purchase(x!.phoneNumber, 'key-sold');
    expectApiError(res, 409, 'NUMBER_UNAVAILABLE');
    // The key was forgotten with the failure: it buys another number now.
    expect((await purchase(y!.phoneNumber, 'key-sold')).status).toBe(201);
  });

  it('regulatory requirements: 409 REGULATORY_REQUIREMENTS naming what is needed', async () => {
    await newTeam();
    p.needsAddress('DE');
    const [de] = await search({ countryCode: 'DE' });
    const res = await purchase(de!.phoneNumber);
    expectApiError(res, 409, 'REGULATORY_REQUIREMENTS');
    expect(res.body.error.message).toMatch(/address/i);
  });

  it("the provider refuses the gateway's credentials: 502 PROVIDER_AUTH_FAILED, the caller is not blamed", async () => {
    await newTeam();
    const [x] = await search();
    p.failAuth();
    expectApiError(await purchase(x!.phoneNumber), 502, 'PROVIDER_AUTH_FAILED');
    expectApiError(
      await t.api
        .post('/api/phone-numbers/search')
        .set(team.auth)
        .send({ provider: p.name, filters: { countryCode: 'US' } }),
      502,
      'PROVIDER_AUTH_FAILED',
    );
  });

  it('a purchase whose answer is lost is found at the provider: active, bought once', async () => {
    await newTeam();
    const [x] = await search();
    p.losePurchaseAnswer();
    const res = await purchase(x!.phoneNumber);
    expect(res.status, res.text).toBe(201);
    await eventually(async () => (await number(res.body.phoneNumber.id)).status === 'active', 10_000);
    expect(p.purchasesOf(x!.phoneNumber)).toBe(1);
  });

  it('import: a number the account already holds joins the team, its voice URL now points here; drift is reported', async () => {
    await newTeam();
    const e164 = '+14155550188';
    p.addOwned(e164);
    const res = await t.api.post('/api/phone-numbers/import').set(team.auth).send({ teamId: team.id, phoneNumber: e164, provider: p.name });
    expect(res.status, res.text).toBe(201);
    expect(res.body.phoneNumber).toMatchObject({ status: 'active', provider: p.name, imported: true });
    expect(p.held(e164)).toEqual({ voiceTarget: p.voiceTarget });
    // Released by hand at the provider: the reconciler notices.
    p.releaseInConsole(e164);
    await t.gw.services.reconciler.run();
    const drift = await t.api.get('/api/providers/drift').set(admin).expect(200);
    expect(drift.body.drift).toContainEqual(expect.objectContaining({ provider: p.name, phoneNumber: e164 }));
  });
});
