/**
 * Which number provider the gateway tests run against. `npm test` runs them
 * on the simulated carrier; the integration tier runs the number tests again
 * with SWITCHBOARD_TEST_PROVIDER=twilio (and telnyx), each gateway then
 * configured as an operator would configure a real provider, pointed at a
 * stateful local fake of that provider's API started for it (loopback only).
 * The tests stay the same: parametrised, not copied.
 */
import { FakeTelnyxApi } from '../fakes/telnyx-api.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { TELNYX_PUBLIC_KEY, TELNYX_SIGNING_KEY } from './carrier.js';

export type TestProvider = 'sim' | 'twilio' | 'telnyx';

export const TEST_PROVIDER: TestProvider = (() => {
  const v = process.env.SWITCHBOARD_TEST_PROVIDER ?? 'sim';
  if (v !== 'sim' && v !== 'twilio' && v !== 'telnyx') throw new Error(`SWITCHBOARD_TEST_PROVIDER=${v}: use sim, twilio or telnyx`);
  return v;
})();

/** True when the tests drive the simulated carrier (its timers and failure knobs exist). */
export const ON_SIM = TEST_PROVIDER === 'sim';

export interface ProviderFake {
  /** Variables that configure the gateway for it. */
  env: Record<string, string>;
  /** Orders for this number that reached the provider (a purchase that created it). */
  ordersFor(e164: string): number;
  /** The gateway listens here now (Telnyx's order webhooks go there). */
  listening?(base: string): void;
  close(): Promise<void>;
}

/**
 * Whether a released number is offered again at once. The simulated carrier
 * puts it back in its pool; Twilio keeps it in a cooling-off period first
 * (carriers.md), and its fake does the same.
 */
export const RELEASED_NUMBERS_RETURN = TEST_PROVIDER !== 'twilio';

/**
 * Whether a purchase is settled within its own request. Twilio sells in one
 * request, so the purchase answers `active`; the simulated carrier (and
 * Telnyx) confirm later, so it answers `purchasing` first.
 */
export const BUYS_AT_ONCE = TEST_PROVIDER === 'twilio';

/** The carrier the provider's numbers call out through (the simulated carrier's numbers: Twilio's dialect). */
export const OUTBOUND_CARRIER: 'twilio' | 'telnyx' = TEST_PROVIDER === 'telnyx' ? 'telnyx' : 'twilio';

/** A fake of the provider under test for one gateway, or null on the simulated carrier. */
export async function providerFake(env: Record<string, string>): Promise<ProviderFake | null> {
  if (TEST_PROVIDER === 'twilio') {
    // One auth token, as at Twilio: if the test signs webhooks with its own, the account uses it too.
    const fake = await FakeTwilioApi.start(env.TWILIO_AUTH_TOKEN ? { authToken: env.TWILIO_AUTH_TOKEN } : {});
    return {
      env: { TWILIO_ACCOUNT_SID: fake.accountSid, TWILIO_AUTH_TOKEN: fake.authToken, TWILIO_API_URL: fake.url },
      ordersFor: (e164) => fake.purchases().filter((r) => r.form.PhoneNumber === e164).length,
      close: () => fake.close(),
    };
  }
  if (TEST_PROVIDER === 'telnyx') {
    const fake = await FakeTelnyxApi.start({ apiKey: TELNYX_KEY, orderDelayMs: 20 });
    return {
      env: { TELNYX_API_KEY: TELNYX_KEY, TELNYX_API_URL: fake.url, TELNYX_CONNECTION_ID: '2811212257810187875', TELNYX_PUBLIC_KEY },
      ordersFor: (e164) => [...fake.orders.values()].filter((o) => o.phone_numbers.some((p) => p.phone_number === e164)).length,
      // Orders settle by the signed number_order.complete webhook, once the gateway listens (polling otherwise, from 2 s).
      listening: (base) => fake.webhookTo(`${base}/carriers/telnyx/events`, TELNYX_SIGNING_KEY),
      close: () => fake.close(),
    };
  }
  return null;
}

const TELNYX_KEY = 'KEY_test_telnyx_0123456789';
