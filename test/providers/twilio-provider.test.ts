// The Twilio number provider against a stateful fake of Twilio's REST API
// (test/fakes/twilio-api.ts), through the real `twilio` SDK: only the scheme
// and host of its requests are rewritten (apiUrl), as in production. Every
// name lookup is refused (refuseDns): a broken base-URL rewrite fails here
// instead of reaching api.twilio.com.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseInventoryCsv } from '../../src/providers/sim/inventory-loader.js';
import type { AvailableNumber } from '../../src/domain/types.js';
import { ProviderError } from '../../src/providers/provider.js';
import { TwilioHostRefused, TwilioHttpClient } from '../../src/providers/twilio/http-client.js';
import { areaCodeOf } from '../../src/providers/twilio/numbers.js';
import { TwilioProvider, type TwilioProviderOptions } from '../../src/providers/twilio/twilio-provider.js';
import { FakeTwilioApi, refuseDns } from '../fakes/twilio-api.js';

const PUBLIC_URL = 'https://gw.example.com';
const VOICE_URL = `${PUBLIC_URL}/carriers/twilio/voice`;
const STATUS_URL = `${PUBLIC_URL}/carriers/twilio/status`;
const PN = /^PN[0-9a-f]{32}$/;
const US = parseInventoryCsv(readFileSync(join(import.meta.dirname, '../../fixtures/inventory/US.csv'), 'utf8'));

let fake: FakeTwilioApi;
let dnsGuard: ReturnType<typeof refuseDns>;
let logLines: string[] = [];

function provider(o: Partial<TwilioProviderOptions> = {}): TwilioProvider {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return new TwilioProvider({
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    apiUrl: fake.url,
    publicUrl: () => PUBLIC_URL,
    log: pino({ level: 'debug' }, sink),
    requestTimeoutMs: 2000,
    ...o,
  });
}

async function providerError(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

const purchasePosts = () => fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/IncomingPhoneNumbers.json'));
const lookups = () => fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/IncomingPhoneNumbers.json'));
const sfNumber = (): AvailableNumber => ({ ...US.find((n) => n.areaCode === '415')! });

beforeAll(async () => {
  dnsGuard = refuseDns();
  fake = await FakeTwilioApi.start();
});
afterEach(() => {
  fake.reset();
  logLines = [];
});
afterAll(async () => {
  await fake.close();
  dnsGuard.restore();
  // Nothing in this file asked the resolver for a name: every request went to 127.0.0.1.
  expect(dnsGuard.asked).toEqual([]);
});

describe('requests go to the configured host only', () => {
  it('rewrites scheme and host of both Twilio APIs (edge/region forms too) and keeps the path', () => {
    const c = new TwilioHttpClient({ apiBase: new URL('http://127.0.0.1:1'), pricingBase: new URL('http://127.0.0.1:2'), timeoutMs: 100 });
    expect(c.target('https://api.twilio.com/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json?PageSize=5')).toBe(
      'http://127.0.0.1:1/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json?PageSize=5',
    );
    expect(c.target('https://pricing.twilio.com/v1/PhoneNumbers/Countries/US')).toBe('http://127.0.0.1:2/v1/PhoneNumbers/Countries/US');
    expect(c.target('https://api.sydney.au1.twilio.com/2010-04-01/x.json')).toBe('http://127.0.0.1:1/2010-04-01/x.json');
    // Without apiUrl (production) Twilio's own hosts stay.
    const prod = new TwilioHttpClient({ apiBase: null, pricingBase: null, timeoutMs: 100 });
    expect(prod.target('https://api.twilio.com/2010-04-01/x.json')).toBe('https://api.twilio.com/2010-04-01/x.json');
  });

  it('refuses any other host before opening a socket (credentials go nowhere else)', async () => {
    const c = new TwilioHttpClient({ apiBase: new URL(fake.url), pricingBase: new URL(fake.url), timeoutMs: 100 });
    for (const uri of ['https://example.com/2010-04-01/x.json', 'https://api.twilio.com.evil.example/x', `${fake.url}/2010-04-01/x.json`]) {
      await expect(c.request({ method: 'get', uri, username: 'AC', password: 'secret' })).rejects.toBeInstanceOf(TwilioHostRefused);
    }
    expect(fake.requests).toEqual([]);
  });

  it("rejects an apiUrl with a path (paths stay Twilio's)", () => {
    expect(() => provider({ apiUrl: `${fake.url}/twilio` })).toThrow(/scheme and host only/);
  });

  it('sends through the real SDK (its User-Agent) to the fake', async () => {
    await provider().search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 1 });
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) expect(r.userAgent).toMatch(/^twilio-node\/6\./);
  });
});

describe('search', () => {
  it('US local by area code: AreaCode, VoiceEnabled, PageSize; the same numbers as the simulated carrier, priced', async () => {
    const found = await provider().search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 5 });
    const search = fake.requests.find((r) => r.path.includes('/AvailablePhoneNumbers/'))!;
    expect(search.path).toBe(`/2010-04-01/Accounts/${fake.accountSid}/AvailablePhoneNumbers/US/Local.json`);
    expect(search.query).toEqual({ AreaCode: '415', VoiceEnabled: 'true', PageSize: '5' });
    expect(found).toEqual(US.filter((n) => n.areaCode === '415').slice(0, 5));
    expect(found[0]).toMatchObject({
      countryCode: 'US',
      numberType: 'local',
      areaCode: '415',
      city: 'San Francisco',
      region: 'CA',
      monthlyCost: 115,
      currency: 'USD',
    });
  });

  it('state and city: InRegion and InLocality', async () => {
    const found = await provider().search({ countryCode: 'US', numberType: 'local', region: 'TX', city: 'Austin', limit: 3 });
    expect(fake.requests.find((r) => r.path.endsWith('/Local.json'))!.query).toEqual({
      InRegion: 'TX',
      InLocality: 'Austin',
      VoiceEnabled: 'true',
      PageSize: '3',
    });
    expect(found).toHaveLength(3);
    for (const n of found) expect(n).toMatchObject({ city: 'Austin', region: 'TX', areaCode: '512' });
  });

  it('an area code outside North America becomes an anchored Contains (Twilio has no AreaCode there)', async () => {
    const found = await provider().search({ countryCode: 'DE', numberType: 'local', areaCode: '211', limit: 4 });
    expect(fake.requests.find((r) => r.path.endsWith('/DE/Local.json'))!.query).toEqual({ Contains: '+49211', VoiceEnabled: 'true', PageSize: '4' });
    expect(found).toHaveLength(4);
    for (const n of found) expect(n).toMatchObject({ countryCode: 'DE', areaCode: '211', city: 'Düsseldorf', monthlyCost: 100, currency: 'EUR' });
  });

  it('toll-free prefix: +1888******* in North America, +49800 elsewhere', async () => {
    const us = await provider().search({ countryCode: 'US', numberType: 'toll-free', prefix: '888', limit: 3 });
    const de = await provider().search({ countryCode: 'DE', numberType: 'toll-free', prefix: '800', limit: 3 });
    const queries = fake.requests.filter((r) => r.path.endsWith('/TollFree.json')).map((r) => r.query);
    expect(queries).toEqual([
      { Contains: '+1888*******', VoiceEnabled: 'true', PageSize: '3' },
      { Contains: '+49800', VoiceEnabled: 'true', PageSize: '3' },
    ]);
    expect(us.map((n) => [n.areaCode, n.numberType, n.monthlyCost])).toEqual(Array(3).fill(['888', 'toll-free', 215]));
    expect(de.every((n) => n.e164.startsWith('+49800') && n.areaCode === '800' && n.monthlyCost === 1500)).toBe(true);
  });

  it('reads capability keys case-insensitively (the live API sends SMS/MMS upper-case)', async () => {
    fake.honourVoiceEnabled = false; // Twilio's filter let these through: the provider's own check decides
    fake.inventory.clear();
    const add = (e164: string, capabilities: Record<string, boolean>) =>
      fake.inventory.set(e164, { e164, country: 'US', numberType: 'local', locality: 'San Francisco', region: 'CA', capabilities });
    add('+14155550101', { Voice: false, SMS: true });
    add('+14155550102', { VOICE: true, SMS: true, MMS: true });
    add('+14155550103', { voice: true, SMS: true, MMS: false, fax: false });
    add('+14155550104', { voice: false });
    const found = await provider().search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 10 });
    expect(found.map((n) => n.e164)).toEqual(['+14155550102', '+14155550103']);
  });

  it('refuses a malformed area code or prefix before asking Twilio', async () => {
    const p = provider();
    expect((await providerError(p.search({ countryCode: 'US', numberType: 'local', areaCode: '41', limit: 5 }))).kind).toBe('invalid_request');
    expect((await providerError(p.search({ countryCode: 'DE', numberType: 'toll-free', prefix: '80a', limit: 5 }))).kind).toBe('invalid_request');
    expect(fake.requests).toEqual([]);
  });

  it('an answer that is not JSON → bad_response, logged with its HTTP status', async () => {
    fake.fault({ method: 'GET', path: /\/Local\.json$/, action: { kind: 'garbage', status: 200 } });
    const err = await providerError(provider().search({ countryCode: 'US', numberType: 'local', limit: 2 }));
    expect(err).toMatchObject({ kind: 'bad_response', details: { status: 200 } });
    const logged = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.kind === 'bad_response');
    expect(logged).toMatchObject([{ op: 'a number search', status: 200 }]);
  });

  it('an HTML 502 from a proxy in front of Twilio → unavailable_provider', async () => {
    fake.fault({ method: 'GET', path: /\/Local\.json$/, action: { kind: 'garbage', status: 502 } });
    const err = await providerError(provider().search({ countryCode: 'US', numberType: 'local', limit: 2 }));
    expect(err).toMatchObject({ kind: 'unavailable_provider', details: { status: 502 } });
  });

  it('a country Twilio sells no numbers in answers 404: no results', async () => {
    fake.prices.delete('AE');
    fake.prices.set('AE', { unit: 'AED', local: '25.00' });
    const searchesBefore = fake.requests.length;
    fake.fault({ method: 'GET', path: /\/AvailablePhoneNumbers\/AE\//, action: { kind: 'status', status: 404, code: 20404 } });
    expect(await provider().search({ countryCode: 'AE', numberType: 'local', limit: 5 })).toEqual([]);
    expect(fake.requests.length).toBeGreaterThan(searchesBefore);
  });
});

describe('prices (Pricing API, per country and type)', () => {
  it('current_price in minor units of price_unit; one Pricing request per country per hour', async () => {
    fake.prices.set('US', { unit: 'usd', local: '2.5', 'toll free': '3.99' });
    const p = provider();
    const local = await p.search({ countryCode: 'US', numberType: 'local', limit: 2 });
    const free = await p.search({ countryCode: 'US', numberType: 'toll-free', limit: 2 });
    expect(local.map((n) => [n.monthlyCost, n.currency])).toEqual([
      [250, 'USD'],
      [250, 'USD'],
    ]);
    expect(free.map((n) => n.monthlyCost)).toEqual([399, 399]);
    const pricing = fake.requests.filter((r) => r.path.startsWith('/v1/'));
    expect(pricing.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/PhoneNumbers/Countries/US']);
  });

  it('a Pricing API without a price for the type is a bad answer, not a free number', async () => {
    fake.prices.set('CH', { unit: 'CHF', local: '1.00' });
    const err = await providerError(provider().search({ countryCode: 'CH', numberType: 'toll-free', limit: 2 }));
    expect(err.kind).toBe('bad_response');
  });

  it('derives the area code (national destination code) of every number in the inventory', () => {
    for (const cc of ['AE', 'US', 'CA', 'DE', 'AT', 'CH']) {
      for (const n of parseInventoryCsv(readFileSync(join(import.meta.dirname, `../../fixtures/inventory/${cc}.csv`), 'utf8'))) {
        if (areaCodeOf(n.e164) !== n.areaCode) expect.fail(`${n.e164}: ${areaCodeOf(n.e164)} ≠ ${n.areaCode}`);
      }
    }
  });
});

describe('quote', () => {
  it('searches the number itself (Contains = the whole E.164) and keeps an exact match', async () => {
    const n = sfNumber();
    expect(await provider().quote(n.e164)).toEqual(n);
    expect(fake.requests.find((r) => r.path.endsWith('/US/Local.json'))!.query).toEqual({ Contains: n.e164, VoiceEnabled: 'true', PageSize: '10' });
  });

  it('a Canadian toll-free number is found under CA after the US listing misses', async () => {
    const ca = parseInventoryCsv(readFileSync(join(import.meta.dirname, '../../fixtures/inventory/CA.csv'), 'utf8')).find((n) => n.numberType === 'toll-free')!;
    expect(await provider().quote(ca.e164)).toEqual(ca);
  });

  it('a number sold meanwhile, or not a number: null', async () => {
    const n = sfNumber();
    fake.sellElsewhere(n.e164);
    expect(await provider().quote(n.e164)).toBeNull();
    expect(await provider().quote('+999')).toBeNull();
  });
});

describe('placeOrder', () => {
  it('buys in one request, pointing voice URL and status callback at this gateway', async () => {
    const n = sfNumber();
    const placed = await provider().placeOrder(n, 'num_0123456789abcdef');
    expect(placed).toEqual({ outcome: 'active', orderId: expect.stringMatching(PN), providerNumberId: placed.orderId });
    expect(purchasePosts().map((r) => r.form)).toEqual([
      {
        PhoneNumber: n.e164,
        FriendlyName: 'Switchboard num_0123456789abcdef',
        VoiceUrl: VOICE_URL,
        VoiceMethod: 'POST',
        StatusCallback: STATUS_URL,
        StatusCallbackMethod: 'POST',
      },
    ]);
    expect(fake.owned.get(placed.orderId)).toMatchObject({ phone_number: n.e164, voice_url: VOICE_URL, status_callback: STATUS_URL });
  });

  it("keeps FriendlyName within Twilio's 64 characters", async () => {
    await provider().placeOrder(sfNumber(), 'x'.repeat(100));
    expect(purchasePosts()[0]!.form.FriendlyName).toHaveLength(64);
    expect(fake.purchases()).toHaveLength(1);
  });

  // Each row: what Twilio does, the kind the services see; nothing bought, one request (no retry).
  const refusals: Array<[string, () => AvailableNumber, string, RegExp]> = [
    ['21422 sold meanwhile', () => (fake.sellElsewhere(sfNumber().e164), sfNumber()), 'unavailable', /cannot sell/],
    ['21421 invalid number', () => ({ ...sfNumber(), e164: '+14150000000' }), 'unavailable', /21421/],
    ['21631 address required', () => (fake.regulatory.set('US', 21631), sfNumber()), 'regulatory', /address.*US.*Twilio console/],
    ['21649 bundle required', () => (fake.regulatory.set('US', 21649), sfNumber()), 'regulatory', /bundle.*Twilio console/],
    ['21613 local address', () => (fake.regulatory.set('US', 21613), sfNumber()), 'regulatory', /local address/],
    ['400 another code', () => (fake.fault({ method: 'POST', action: { kind: 'status', status: 400, code: 21450 } }), sfNumber()), 'invalid_request', /21450/],
  ];
  it.each(refusals)('%s → %s', async (_what, setup, kind, message) => {
    const n = setup();
    const err = await providerError(provider().placeOrder(n, 'num_1'));
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
    expect(purchasePosts()).toHaveLength(1);
    expect(lookups()).toHaveLength(0);
    expect(fake.owned.size).toBe(0);
  });

  it('429 → unavailable_provider with Retry-After; not retried, not looked up', async () => {
    fake.fault({ method: 'POST', action: { kind: 'status', status: 429, code: 20429, headers: { 'retry-after': '7' } } });
    const err = await providerError(provider().placeOrder(sfNumber(), 'num_1'));
    expect(err).toMatchObject({ kind: 'unavailable_provider', details: { status: 429, code: 20429, retryAfterS: 7 } });
    expect(purchasePosts()).toHaveLength(1);
    expect(lookups()).toHaveLength(0);
  });

  it('connection refused → unavailable_provider (nothing was sent)', async () => {
    const down = await FakeTwilioApi.start();
    const url = down.url;
    await down.close();
    const err = await providerError(provider({ apiUrl: url }).placeOrder(sfNumber(), 'num_1'));
    expect(err).toMatchObject({ kind: 'unavailable_provider', details: { code: 'ECONNREFUSED' } });
  });

  it('answer lost after Twilio bought it: found by lookup, bought once', async () => {
    fake.fault({ method: 'POST', action: { kind: 'lose-response' } });
    const placed = await provider().placeOrder(sfNumber(), 'num_1');
    const [owned] = [...fake.owned.values()];
    expect(placed).toEqual({ outcome: 'active', orderId: owned!.sid, providerNumberId: owned!.sid });
    expect(purchasePosts()).toHaveLength(1);
    expect(fake.purchases()).toHaveLength(1);
    expect(lookups().map((r) => r.query.PhoneNumber)).toEqual([sfNumber().e164]);
  });

  it('an unreadable 2xx (bought): found by lookup, never bought twice', async () => {
    fake.fault({ method: 'POST', action: { kind: 'garbage', status: 201 } });
    const placed = await provider().placeOrder(sfNumber(), 'num_1');
    expect(placed.outcome).toBe('active');
    expect(purchasePosts()).toHaveLength(1);
    expect(fake.purchases()).toHaveLength(1);
  });

  it('5xx with nothing bought: not in the account, so one more purchase', async () => {
    fake.fault({ method: 'POST', action: { kind: 'status', status: 503 } });
    const placed = await provider().placeOrder(sfNumber(), 'num_1');
    expect(placed.outcome).toBe('active');
    expect(purchasePosts().map((r) => r.status)).toEqual([503, 201]);
    expect(fake.purchases()).toHaveLength(1);
  });

  it('timeout before Twilio acted: looked up, bought on the second try', async () => {
    fake.fault({ method: 'POST', action: { kind: 'hang' } });
    const placed = await provider({ requestTimeoutMs: 150 }).placeOrder(sfNumber(), 'num_1');
    expect(placed.outcome).toBe('active');
    expect(purchasePosts().map((r) => r.fate)).toEqual(['hung', 'answered']);
    expect(fake.purchases()).toHaveLength(1);
  });

  it('a slow answer within the timeout is just slow', async () => {
    fake.fault({ method: 'POST', action: { kind: 'slow', ms: 100 } });
    expect((await provider({ requestTimeoutMs: 1000 }).placeOrder(sfNumber(), 'num_1')).outcome).toBe('active');
    expect(purchasePosts()).toHaveLength(1);
    expect(lookups()).toHaveLength(0);
  });

  it('an answer slower than the timeout (Twilio bought it): found by lookup, bought once', async () => {
    fake.fault({ method: 'POST', action: { kind: 'slow', ms: 400 } });
    const placed = await provider({ requestTimeoutMs: 150 }).placeOrder(sfNumber(), 'num_1');
    expect(placed).toEqual({ outcome: 'active', orderId: [...fake.owned.keys()][0], providerNumberId: [...fake.owned.keys()][0] });
    expect(purchasePosts()).toHaveLength(1);
    expect(fake.purchases()).toHaveLength(1);
  });

  it('timeout and the lookup failing too → unknown; getOrder later finds it bought', async () => {
    const n = sfNumber();
    fake.fault({ method: 'POST', action: { kind: 'hang-after' } });
    fake.fault({ method: 'GET', path: /IncomingPhoneNumbers\.json$/, action: { kind: 'status', status: 503 } });
    const p = provider({ requestTimeoutMs: 150 });
    const placed = await p.placeOrder(n, 'num_1');
    expect(placed).toEqual({ outcome: 'unknown', orderId: `lookup:${n.e164}` });
    expect(purchasePosts()).toHaveLength(1); // no second purchase while we cannot tell
    const [owned] = [...fake.owned.values()];
    expect(await p.getOrder(placed.orderId, n.e164)).toEqual({ status: 'active', providerNumberId: owned!.sid });
    expect(fake.purchases()).toHaveLength(1);
  });

  it('timeout, lookup failing, nothing bought → unknown; getOrder later says failed', async () => {
    const n = sfNumber();
    fake.fault({ method: 'POST', action: { kind: 'hang' } });
    fake.fault({ method: 'GET', path: /IncomingPhoneNumbers\.json$/, action: { kind: 'hang' } });
    const p = provider({ requestTimeoutMs: 150 });
    const placed = await p.placeOrder(n, 'num_1');
    expect(placed.outcome).toBe('unknown');
    expect(await p.getOrder(placed.orderId, n.e164)).toMatchObject({ status: 'failed' });
  });

  it('both attempts unanswered and not in the account → unknown, never a third purchase', async () => {
    fake.fault({ method: 'POST', times: 2, action: { kind: 'status', status: 500 } });
    const placed = await provider().placeOrder(sfNumber(), 'num_1');
    expect(placed.outcome).toBe('unknown');
    expect(purchasePosts()).toHaveLength(2);
    expect(lookups()).toHaveLength(2);
  });

  it('a second attempt refused with 21422 is settled by the lookup (our first purchase, late)', async () => {
    const n = sfNumber();
    fake.fault({ method: 'POST', action: { kind: 'status', status: 502 } });
    fake.fault({ method: 'POST', action: { kind: 'status', status: 400, code: 21422 } });
    const placed = await provider().placeOrder(n, 'num_1');
    expect(placed).toEqual({ outcome: 'unknown', orderId: `lookup:${n.e164}` });
  });
});

describe('getOrder', () => {
  it('a PN sid: active while the account has it, failed once it is gone (20404)', async () => {
    const pn = fake.addOwned(sfNumber().e164);
    const p = provider();
    expect(await p.getOrder(pn.sid, pn.phone_number)).toEqual({ status: 'active', providerNumberId: pn.sid });
    fake.releaseInConsole(pn.phone_number);
    expect(await p.getOrder(pn.sid, pn.phone_number)).toMatchObject({ status: 'failed' });
  });

  it('Twilio unreachable: unknown (ask again later)', async () => {
    const pn = fake.addOwned(sfNumber().e164);
    fake.fault({ method: 'GET', action: { kind: 'status', status: 500 } });
    expect(await provider().getOrder(pn.sid, pn.phone_number)).toMatchObject({ status: 'unknown' });
  });

  it('an order id that is neither a PN sid nor lookup:<e164> is refused', async () => {
    expect((await providerError(provider().getOrder('SO123', '+14155550100'))).kind).toBe('invalid_request');
  });
});

describe('release', () => {
  it('DELETE by sid; a second release (or one after the console did it) is fine', async () => {
    const pn = fake.addOwned(sfNumber().e164);
    const p = provider();
    await p.release(pn.phone_number, pn.sid, pn.sid);
    expect(fake.owned.size).toBe(0);
    await p.release(pn.phone_number, pn.sid, pn.sid);
    expect(fake.requests.filter((r) => r.method === 'DELETE').map((r) => [r.path.endsWith(`/IncomingPhoneNumbers/${pn.sid}.json`), r.status])).toEqual([
      [true, 204],
      [true, 404],
    ]);
  });

  it('without a sid: looks the number up first; a number the account does not have needs nothing', async () => {
    const pn = fake.addOwned(sfNumber().e164);
    await provider().release(pn.phone_number, `lookup:${pn.phone_number}`, null);
    expect(fake.owned.size).toBe(0);
    await provider().release('+14155550199', null, null);
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('a 5xx on release is an error (the number may still be ours)', async () => {
    const pn = fake.addOwned(sfNumber().e164);
    fake.fault({ method: 'DELETE', action: { kind: 'status', status: 500 } });
    expect((await providerError(provider().release(pn.phone_number, pn.sid, pn.sid))).kind).toBe('unavailable_provider');
    expect(fake.owned.size).toBe(1);
  });
});

describe('importNumber', () => {
  it('an owned number: its voice URL and status callback now point here; priced like a search result', async () => {
    const pn = fake.addOwned('+4312077863', { voice_url: 'https://elsewhere.example/voice' });
    const imported = await provider().importNumber('+4312077863');
    expect(imported).toEqual({
      providerNumberId: pn.sid,
      number: { e164: '+4312077863', countryCode: 'AT', numberType: 'local', areaCode: '1', city: null, region: null, monthlyCost: 100, currency: 'EUR' },
    });
    expect(fake.owned.get(pn.sid)).toMatchObject({ voice_url: VOICE_URL, voice_method: 'POST', status_callback: STATUS_URL, status_callback_method: 'POST' });
    const update = fake.requests.find((r) => r.method === 'POST' && r.path.endsWith(`/IncomingPhoneNumbers/${pn.sid}.json`))!;
    expect(update.form).toEqual({ VoiceUrl: VOICE_URL, VoiceMethod: 'POST', StatusCallback: STATUS_URL, StatusCallbackMethod: 'POST' });
  });

  it("picks the exact number although Twilio's PhoneNumber filter matches longer ones too", async () => {
    fake.addOwned('+492112087721');
    const mine = fake.addOwned('+49211208772');
    expect((await provider().importNumber('+49211208772')).providerNumberId).toBe(mine.sid);
    expect(lookups()[0]!.query.PhoneNumber).toBe('+49211208772');
  });

  it('a number the account does not own → not_found, nothing updated', async () => {
    const err = await providerError(provider().importNumber('+14155550123'));
    expect(err.kind).toBe('not_found');
    expect(err.message).toMatch(/Twilio account does not own \+14155550123/);
    expect(fake.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });
});

describe('owned', () => {
  it('every number of the account across pages, with its voice URL (drift shows)', async () => {
    fake.maxPageSize = 2;
    const numbers = US.slice(0, 5).map((n) => fake.addOwned(n.e164, { voice_url: VOICE_URL }));
    fake.setVoiceUrl(numbers[1]!.phone_number, 'https://changed-by-hand.example/voice');
    fake.setVoiceUrl(numbers[2]!.phone_number, null);
    const owned = await provider().owned();
    expect(owned).toEqual(
      numbers.map((n, i) => ({
        e164: n.phone_number,
        providerNumberId: n.sid,
        voiceTarget: i === 1 ? 'https://changed-by-hand.example/voice' : i === 2 ? null : VOICE_URL,
      })),
    );
    expect(lookups().map((r) => r.query.Page ?? '0')).toEqual(['0', '1', '2']);
    expect(provider().expectedVoiceTarget()).toBe(VOICE_URL);
  });
});

describe('credentials', () => {
  it('a refused auth token → auth on every call, and the token is in no error and no log line', async () => {
    const token = 'wrong-token-must-never-be-logged-5150';
    const p = provider({ authToken: token });
    const basic = Buffer.from(`${fake.accountSid}:${token}`).toString('base64');
    const calls = [
      () => p.search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 2 }),
      () => p.quote(sfNumber().e164),
      () => p.placeOrder(sfNumber(), 'num_1'),
      () => p.importNumber(sfNumber().e164),
      () => p.owned(),
      () => p.release(sfNumber().e164, null, null),
    ];
    for (const call of calls) {
      const err = await providerError(call());
      expect(err).toMatchObject({ kind: 'auth', details: { status: 401, code: 20003 } });
      const seen = JSON.stringify({ message: err.message, stack: err.stack, details: err.details });
      expect(seen).not.toContain(token);
      expect(seen).not.toContain(basic);
    }
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(basic);
    }
    expect(fake.purchases()).toHaveLength(0);
  });

  it("no credential in the log of a failed transport either (the SDK's error holds the Authorization header)", async () => {
    fake.fault({ method: 'POST', action: { kind: 'hang' } });
    fake.fault({ method: 'GET', path: /IncomingPhoneNumbers\.json$/, action: { kind: 'hang' } });
    await provider({ requestTimeoutMs: 150 }).placeOrder(sfNumber(), 'num_1');
    const basic = Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64');
    expect(logLines.join('')).toContain('purchase outcome unknown');
    for (const line of logLines) {
      expect(line).not.toContain(fake.authToken);
      expect(line).not.toContain(basic);
    }
  });
});
