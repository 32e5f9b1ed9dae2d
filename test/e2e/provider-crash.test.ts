// kill -9 between "order placed" and "order settled", with a real provider
// behind the real process (issue 11): the gateway buys through the Twilio or
// Telnyx provider (their official SDKs) from a stateful fake of the
// provider's API running in this test, is killed at the worst moment,
// restarted on the same database, and the number must be neither lost nor
// bought twice: the account holds no number the team does not see, the team
// holds no number the account does not have.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelnyxApi } from '../fakes/telnyx-api.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { TELNYX_PUBLIC_KEY, TELNYX_SIGNING_KEY } from '../helpers/carrier.js';
import { api, e2eDb, gatewayHooks, spawnGateway, until, type Gateway } from './server.js';

const ADMIN = 'sb_admin_e2e_provider_crash_0123456789';
const PROVISION_TIMEOUT_MS = 3000;

gatewayHooks({ timeoutMs: 90_000 });

describe('kill -9 while a Twilio purchase is in flight', () => {
  let fake: FakeTwilioApi;
  beforeAll(async () => {
    fake = await FakeTwilioApi.start();
  });
  afterAll(() => fake.close());

  const env = (db: string): Record<string, string> => ({
    SWITCHBOARD_DB: db,
    SWITCHBOARD_ADMIN_TOKEN: ADMIN,
    TWILIO_ACCOUNT_SID: fake.accountSid,
    TWILIO_AUTH_TOKEN: fake.authToken,
    TWILIO_API_URL: fake.url,
    SWITCHBOARD_PROVISION_TIMEOUT_MS: String(PROVISION_TIMEOUT_MS),
    SWITCHBOARD_SWEEP_MS: '500',
  });

  it('the purchase Twilio made while the gateway died is given back, the team sees an error, nothing is bought twice', async () => {
    const db = await e2eDb('switchboard-provider-crash-');
    let p: Gateway = await spawnGateway(env(db.target), { name: 'before' });
    await p.waitListening({ killOnTimeout: true });
    const team = (await api(p.base, ADMIN, 'POST', '/api/teams', { name: 'Crash', slug: 'crash', plan: 'pro' })).body;
    const token = team.token as string;
    const teamId = team.team.id as string;
    const found = await api(p.base, token, 'POST', '/api/phone-numbers/search', { provider: 'twilio', filters: { countryCode: 'US' } });
    expect(found.status, found.text).toBe(200);
    const e164 = found.body.numbers[0].phoneNumber as string;

    // Twilio buys the number, and its answer dies on the way back.
    fake.fault({ method: 'POST', path: /IncomingPhoneNumbers\.json$/, action: { kind: 'hang-after' } });
    const inFlight = api(p.base, token, 'POST', '/api/phone-numbers/purchase', { teamId, phoneNumber: e164, provider: 'twilio' }).catch(() => null);
    await until(
      () => fake.purchases().length === 1 || fake.requests.some((r) => r.method === 'POST' && r.fate === 'hung'),
      'the purchase to reach Twilio',
      10_000,
    );
    expect(fake.ownedBy(e164)).toBeDefined();
    p.child.kill('SIGKILL');
    await p.exited;
    await inFlight;

    // The same database, a healthy Twilio.
    p = await spawnGateway(env(db.target), { name: 'after' });
    await p.waitListening({ killOnTimeout: true });
    let number: any;
    await until(
      async () => {
        const list = await api(p.base, token, 'GET', '/api/phone-numbers?status=error');
        number = list.body?.phoneNumbers?.find((n: any) => n.phoneNumber === e164);
        return number !== undefined;
      },
      'the purchase to be settled',
      20_000,
    );
    expect(number).toMatchObject({ status: 'error', failureReason: expect.stringMatching(/^order_not_placed|provisioning_timeout$/) });
    // Given back: the account does not keep a number nobody has.
    await until(() => fake.ownedBy(e164) === undefined, 'the number to be released at Twilio', 10_000);
    expect(fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/IncomingPhoneNumbers.json')).length).toBe(1);

    // And the team can buy again; this time it sticks.
    const other = found.body.numbers[1].phoneNumber as string;
    const again = await api(p.base, token, 'POST', '/api/phone-numbers/purchase', { teamId, phoneNumber: other, provider: 'twilio' });
    expect(again.status, again.text).toBe(201);
    await until(
      async () => (await api(p.base, token, 'GET', `/api/phone-numbers/${again.body.phoneNumber.id}`)).body.phoneNumber.status === 'active',
      'the second purchase',
      10_000,
    );
    expect(fake.ownedBy(other)).toBeDefined();
    await p.stop();
  }, 80_000);
});

describe('kill -9 while a Telnyx order is pending', () => {
  const KEY = 'KEY_e2e_telnyx_0123456789';
  const CONNECTION = '2811212257810187875';
  let fake: FakeTelnyxApi;
  beforeAll(async () => {
    fake = await FakeTelnyxApi.start({ apiKey: KEY, connections: [CONNECTION] });
  });
  afterAll(() => fake.close());

  const env = (db: string): Record<string, string> => ({
    SWITCHBOARD_DB: db,
    SWITCHBOARD_ADMIN_TOKEN: ADMIN,
    TELNYX_API_KEY: KEY,
    TELNYX_API_URL: fake.url,
    TELNYX_CONNECTION_ID: CONNECTION,
    TELNYX_PUBLIC_KEY,
    SWITCHBOARD_SWEEP_MS: '500',
  });

  it('the restarted gateway follows the order it placed: the number becomes active once Telnyx completes it, ordered once', async () => {
    const db = await e2eDb('switchboard-telnyx-crash-');
    let p: Gateway = await spawnGateway(env(db.target), { name: 'before' });
    await p.waitListening({ killOnTimeout: true });
    fake.webhookTo(`${p.base}/carriers/telnyx/events`, TELNYX_SIGNING_KEY);
    const team = (await api(p.base, ADMIN, 'POST', '/api/teams', { name: 'Crash', slug: 'crash-telnyx', plan: 'pro' })).body;
    const token = team.token as string;
    const found = await api(p.base, token, 'POST', '/api/phone-numbers/search', { provider: 'telnyx', filters: { countryCode: 'US' } });
    expect(found.status, found.text).toBe(200);
    const e164 = found.body.numbers[0].phoneNumber as string;

    // The order is placed and stays pending at Telnyx; the gateway dies before it settles.
    fake.holdOrders = true;
    const bought = await api(p.base, token, 'POST', '/api/phone-numbers/purchase', { teamId: team.team.id, phoneNumber: e164, provider: 'telnyx' });
    expect(bought.status, bought.text).toBe(201);
    await until(
      async () => (await api(p.base, token, 'GET', `/api/phone-numbers/${bought.body.phoneNumber.id}`)).body.phoneNumber.status === 'purchasing',
      'the order to be placed',
      5000,
    );
    expect(fake.orders.size).toBe(1);
    p.child.kill('SIGKILL');
    await p.exited;

    // Telnyx completes the order while nobody listens: its webhook finds no one.
    const [order] = [...fake.orders.values()];
    fake.completeOrder(order!.id);

    p = await spawnGateway(env(db.target), { name: 'after' });
    await p.waitListening({ killOnTimeout: true });
    fake.webhookTo(`${p.base}/carriers/telnyx/events`, TELNYX_SIGNING_KEY);
    await until(
      async () => (await api(p.base, token, 'GET', `/api/phone-numbers/${bought.body.phoneNumber.id}`)).body.phoneNumber.status === 'active',
      'the number to be active after the restart',
      20_000,
    );
    expect(fake.orders.size).toBe(1);
    expect(fake.numberByE164(e164)).toMatchObject({ connection_id: CONNECTION });
    await p.stop();
  }, 80_000);
});
