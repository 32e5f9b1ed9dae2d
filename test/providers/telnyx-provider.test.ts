/**
 * TelnyxProvider through the real `telnyx` SDK against the local fake of the
 * Telnyx v2 API (test/fakes/telnyx-api.ts), webhooks signed with Ed25519 and
 * checked by src/carriers/telnyx/signature.ts on their way in. Loopback only:
 * global fetch refuses every other host, and the end of the file checks that
 * every request went to 127.0.0.1.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseInventoryCsv } from '../../src/providers/sim/inventory-loader.js';
import { parseTelnyxPublicKey, verifyTelnyx } from '../../src/carriers/telnyx/signature.js';
import type { AvailableNumber } from '../../src/domain/types.js';
import { ProviderError, type OrderUpdate } from '../../src/providers/provider.js';
import { areaCodeOf, decimalToMinor, placeOf, toAvailable } from '../../src/providers/telnyx/mapping.js';
import { TELNYX_DEFAULT_API_URL, TelnyxProvider, type TelnyxProviderOptions } from '../../src/providers/telnyx/telnyx-provider.js';
import { FakeTelnyxApi, guardLoopbackFetch, INVENTORY_DIR } from '../fakes/telnyx-api.js';

const KEY = 'KEY0199SECRETtelnyxApiKey_Zq81';
const CONN = 'conn-texml-1';
const OTHER_CONN = 'conn-elsewhere';

const inventory: AvailableNumber[] = readdirSync(INVENTORY_DIR)
  .filter((f) => f.endsWith('.csv'))
  .sort()
  .flatMap((f) => parseInventoryCsv(readFileSync(`${INVENTORY_DIR}/${f}`, 'utf8'), f));

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const telnyxPublicKey = parseTelnyxPublicKey(publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64'));

let guard: ReturnType<typeof guardLoopbackFetch>;
let fake: FakeTelnyxApi;
let receiver: Server;
/** The provider webhooks are handed to (POST /carriers/telnyx/events in the gateway). */
let webhookTarget: TelnyxProvider | null = null;
const webhookResults: string[] = [];
const logLines: string[] = [];
const errorMessages: string[] = [];
const providers: TelnyxProvider[] = [];

const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

function make(over: Partial<TelnyxProviderOptions> = {}): { p: TelnyxProvider; updates: OrderUpdate[] } {
  const p = new TelnyxProvider({
    apiKey: KEY,
    apiUrl: fake.url,
    connectionId: CONN,
    log,
    // Short enough for the hang tests, long enough for a whole-inventory search on a loaded 2-core machine.
    requestTimeoutMs: 1500,
    orderBudgetMs: 3000,
    pollIntervalMs: 25,
    maxPollIntervalMs: 100,
    ...over,
  });
  const updates: OrderUpdate[] = [];
  p.onOrderUpdate((u) => updates.push(u));
  providers.push(p);
  return { p, updates };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The error a promise rejects with (recorded: no message may carry the API key). */
async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    errorMessages.push((err as Error).message);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

/** A number of the inventory, quoted (Telnyx sells only what a search returned). */
async function quoted(p: TelnyxProvider, pick: (n: AvailableNumber) => boolean = (n) => n.areaCode === '415'): Promise<AvailableNumber> {
  const n = inventory.find((x) => pick(x) && fake.isAvailable(x.e164))!;
  const q = await p.quote(n.e164);
  expect(q).toEqual(n);
  return q!;
}

beforeAll(async () => {
  guard = guardLoopbackFetch();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const reason = verifyTelnyx(telnyxPublicKey, req.headers, raw, Date.now());
      if (reason) {
        webhookResults.push(`refused: ${reason}`);
        res.writeHead(401).end();
        return;
      }
      const target = webhookTarget;
      if (!target) {
        webhookResults.push('no target');
        res.writeHead(200).end();
        return;
      }
      target.handleEvent(JSON.parse(raw.toString('utf8'))).then(
        (r) => {
          webhookResults.push(r);
          res.writeHead(200).end();
        },
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const { port } = receiver.address() as { port: number };
  fake = await FakeTelnyxApi.start({
    apiKey: KEY,
    connections: [CONN, OTHER_CONN],
    orderDelayMs: 40,
    webhook: { url: `http://127.0.0.1:${port}/carriers/telnyx/events`, privateKey },
  });
});

beforeEach(() => {
  fake.reset();
  webhookTarget = null;
  webhookResults.length = 0;
});

afterEach(() => {
  for (const p of providers.splice(0)) p.stop();
});

afterAll(async () => {
  await fake.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  guard.restore();
  // Loopback only, even for broken code: the guard refused nothing else, and everything went to 127.0.0.1.
  expect(guard.refused).toEqual([]);
  expect(guard.urls.length).toBeGreaterThan(50);
  for (const u of guard.urls) expect(new URL(u).hostname).toBe('127.0.0.1');
  for (const r of fake.requests) expect(r.host).toMatch(/^127\.0\.0\.1:\d+$/);
  // The API key is in no log line and no error message.
  expect(logLines.length).toBeGreaterThan(10);
  for (const l of logLines) expect(l).not.toContain(KEY);
  for (const m of errorMessages) expect(m).not.toContain(KEY);
});

describe('capabilities', () => {
  it('six countries, local and toll-free, per-number prices; the connection is the voice target', () => {
    const { p } = make();
    expect(p.name).toBe('telnyx');
    expect(p.capabilities()).toEqual({
      countries: ['AE', 'US', 'CA', 'DE', 'AT', 'CH'],
      numberTypes: ['local', 'toll-free'],
      filters: { local: ['areaCode', 'state', 'city'], 'toll-free': ['prefix'] },
      pricing: 'per-number',
    });
    expect(p.expectedVoiceTarget()).toBe(CONN);
    expect(make({ connectionId: undefined }).p.expectedVoiceTarget()).toBeNull();
  });

  it('refuses to start without an API key or with a URL that is not http(s)', () => {
    expect(() => make({ apiKey: ' ' })).toThrow(/TELNYX_API_KEY/);
    expect(() => make({ apiUrl: 'ftp://127.0.0.1/v2' })).toThrow(/http/);
  });

  it('the default API URL is Telnyx (and the test guard stops it from leaving this machine)', async () => {
    const before = guard.refused.length;
    const { p } = make({ apiUrl: undefined });
    const err = await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }));
    expect(err.kind).toBe('unavailable_provider');
    const refused = guard.refused.splice(before);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.startsWith(`${TELNYX_DEFAULT_API_URL}/available_phone_numbers?`)).toBe(true);
    // Asked for and refused before anything was sent: taken out of the record the end of the file checks.
    guard.urls.splice(guard.urls.lastIndexOf(refused[0]!), 1);
  });
});

describe('search', () => {
  const sortedQuery = (q: Array<[string, string]>) => [...q].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  it('local by area code: deepObject filters exactly, and the same numbers, prices and places as the simulated carrier', async () => {
    const { p } = make();
    const found = await p.search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 5 });
    const [req] = fake.requests;
    expect(req!.method).toBe('GET');
    expect(req!.path).toBe('/available_phone_numbers');
    expect(sortedQuery(req!.query)).toEqual([
      ['filter[country_code]', 'US'],
      ['filter[features][]', 'voice'],
      ['filter[limit]', '5'],
      ['filter[national_destination_code]', '415'],
      ['filter[phone_number_type]', 'local'],
    ]);
    // Brackets percent-encoded by the SDK's query encoder; Telnyx decodes them.
    expect(req!.rawQuery).toContain('filter%5Bnational_destination_code%5D=415');
    expect(req!.rawQuery).toContain('filter%5Bfeatures%5D%5B%5D=voice');
    expect(found).toEqual(inventory.filter((n) => n.countryCode === 'US' && n.numberType === 'local' && n.areaCode === '415').slice(0, 5));
    expect(found[0]).toMatchObject({ city: 'San Francisco', region: 'CA', monthlyCost: 115, currency: 'USD' });
  });

  it('local by state and city', async () => {
    const { p } = make();
    const found = await p.search({ countryCode: 'DE', numberType: 'local', region: 'Nordrhein-Westfalen', city: 'Köln', limit: 3 });
    expect(sortedQuery(fake.requests[0]!.query)).toEqual([
      ['filter[administrative_area]', 'Nordrhein-Westfalen'],
      ['filter[country_code]', 'DE'],
      ['filter[features][]', 'voice'],
      ['filter[limit]', '3'],
      ['filter[locality]', 'Köln'],
      ['filter[phone_number_type]', 'local'],
    ]);
    expect(found).toEqual(inventory.filter((n) => n.countryCode === 'DE' && n.city === 'Köln').slice(0, 3));
  });

  it.each([
    ['US', '800', '1800'],
    ['CA', '888', '1888'],
    ['DE', '800', '49800'],
    ['CH', '800', '41800'],
  ] as const)('toll-free %s prefix %s: filter[phone_number][starts_with]=%s (country code + prefix)', async (country, prefix, startsWith) => {
    const { p } = make();
    const found = await p.search({ countryCode: country, numberType: 'toll-free', prefix, areaCode: '999', city: 'ignored', limit: 4 });
    expect(sortedQuery(fake.requests[0]!.query)).toEqual([
      ['filter[country_code]', country],
      ['filter[features][]', 'voice'],
      ['filter[limit]', '4'],
      ['filter[phone_number][starts_with]', startsWith],
      ['filter[phone_number_type]', 'toll_free'],
    ]);
    const expected = inventory.filter((n) => n.countryCode === country && n.numberType === 'toll-free' && n.e164.slice(1).startsWith(startsWith)).slice(0, 4);
    expect(expected.length).toBeGreaterThan(0);
    expect(found).toEqual(expected);
  });

  it('every country and type maps to exactly what the simulated carrier sells (area codes, cities, regions, prices)', async () => {
    const { p } = make();
    for (const country of ['AE', 'US', 'CA', 'DE', 'AT', 'CH'] as const) {
      for (const numberType of ['local', 'toll-free'] as const) {
        const found = await p.search({ countryCode: country, numberType, limit: 100 });
        expect(found, `${country} ${numberType}`).toEqual(inventory.filter((n) => n.countryCode === country && n.numberType === numberType).slice(0, 100));
      }
    }
  });

  it('results without a usable price, without voice, or best-effort are skipped (and logged)', async () => {
    const { p } = make();
    const good = {
      phone_number: '+14155550100',
      cost_information: { monthly_cost: '1.00', currency: 'USD' },
      features: [{ name: 'voice' }],
      region_information: [],
    };
    fake.extraSearchResults = [
      { ...good, phone_number: '+14155550101', cost_information: { monthly_cost: 'free', currency: 'USD' } },
      { ...good, phone_number: '+14155550102', cost_information: undefined },
      { ...good, phone_number: '+14155550103', features: [{ name: 'sms' }] },
      { ...good, phone_number: '+14155550104', best_effort: true },
      { ...good, phone_number: '14155550105' },
      good,
    ];
    const found = await p.search({ countryCode: 'US', numberType: 'local', areaCode: '999', limit: 10 });
    expect(found.map((n) => n.e164)).toEqual(['+14155550100']);
    expect(found[0]).toMatchObject({ monthlyCost: 100, areaCode: '415', city: null, region: null });
    expect(logLines.filter((l) => l.includes('search result skipped'))).toHaveLength(5);
  });

  it('no more than the limit, even when Telnyx sends more', async () => {
    const { p } = make();
    fake.extraSearchResults = [{ phone_number: '+14155550100', cost_information: { monthly_cost: '1.00', currency: 'USD' }, features: [{ name: 'voice' }] }];
    const found = await p.search({ countryCode: 'US', numberType: 'local', areaCode: '415', limit: 2 });
    expect(found).toHaveLength(2);
  });

  it('a filter Telnyx refuses is invalid_request; a 503 is unavailable_provider with no retry by the SDK', async () => {
    const { p } = make();
    expect((await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1000 }))).kind).toBe('invalid_request');
    fake.inject({ path: '/available_phone_numbers', fault: { kind: 'status', status: 503 } });
    const err = await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }));
    expect(err.kind).toBe('unavailable_provider');
    expect(err.details?.status).toBe(503);
    expect(fake.requestsTo('GET', '/available_phone_numbers')).toHaveLength(2);
  });

  it('a hung request, or a body that stops halfway, times out as unavailable_provider', async () => {
    const { p } = make({ requestTimeoutMs: 300 });
    for (const fault of [{ kind: 'hang' }, { kind: 'stall-body' }] as const) {
      fake.inject({ path: '/available_phone_numbers', fault });
      const t0 = Date.now();
      const err = await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }));
      expect(err.kind).toBe('unavailable_provider');
      expect(err.message).toMatch(/in time/);
      expect(Date.now() - t0).toBeLessThan(2000);
    }
  });

  it('an answer without data is bad_response', async () => {
    const { p } = make();
    fake.inject({ path: '/available_phone_numbers', fault: { kind: 'status', status: 200, body: { nothing: true } } });
    expect((await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }))).kind).toBe('bad_response');
  });
});

describe('prices and places', () => {
  it.each([
    ['1.15', 'USD', 115],
    ['1.15000', 'USD', 115],
    ['2', 'EUR', 200],
    ['0.125', 'USD', 13],
    ['0.124', 'USD', 12],
    ['1.005', 'CHF', 101],
    ['0.99999', 'AED', 100],
    ['150', 'JPY', 150],
    ['1.2345', 'KWD', 1235],
    ['0', 'USD', 0],
  ])('monthly_cost %s %s → %d minor units', (amount, currency, minor) => {
    expect(decimalToMinor(amount, currency)).toBe(minor);
  });

  it.each([
    ['', 'USD'],
    ['1,15', 'USD'],
    ['-1', 'USD'],
    ['1.', 'USD'],
    ['abc', 'USD'],
    ['1.00', 'usd'],
    ['1.00', ''],
    [1.15, 'USD'],
    ['1.00', undefined],
  ])('not a price: %j %j', (amount, currency) => {
    expect(decimalToMinor(amount, currency)).toBeNull();
  });

  it('a price set at Telnyx reaches the quote', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.countryCode === 'CH' && x.numberType === 'local')!;
    fake.setCost(n.e164, '4.50000', 'CHF');
    expect(await p.quote(n.e164)).toEqual({ ...n, monthlyCost: 450 });
  });

  it('region_information: location (else rate centre, title-cased) is the city, state the region', () => {
    expect(
      placeOf([
        { region_type: 'country_code', region_name: 'US' },
        { region_type: 'rate_center', region_name: 'SAN FRANCISCO' },
        { region_type: 'state', region_name: 'CA' },
      ]),
    ).toEqual({ city: 'San Francisco', region: 'CA' });
    expect(
      placeOf([
        { region_type: 'rate_center', region_name: "ST. JOHN'S" },
        { region_type: 'location', region_name: 'Zürich' },
      ]),
    ).toEqual({ city: 'Zürich', region: null });
    expect(placeOf([{ region_type: 'country_code', region_name: 'DE' }])).toEqual({ city: null, region: null });
    expect(placeOf('nonsense')).toEqual({ city: null, region: null });
  });

  it('area codes: the NPA of NANP numbers even when libphonenumber cannot format them; the first national group elsewhere', () => {
    expect(areaCodeOf('+11234567890')).toBe('123');
    expect(areaCodeOf('+14152072819')).toBe('415');
    expect(areaCodeOf('+4312077863')).toBe('1');
    expect(areaCodeOf('+41212365540')).toBe('21');
    expect(areaCodeOf('+97122070714')).toBe('2');
    expect(areaCodeOf('+4980012345678')).toBe('800');
  });

  it('the searched area code is kept; otherwise it is read from the number (without trunk prefix)', () => {
    const item = { phone_number: '+492112047899', cost_information: { monthly_cost: '1.00', currency: 'EUR' }, features: [{ name: 'voice' }] };
    expect(toAvailable(item, { countryCode: 'DE', numberType: 'local' })).toMatchObject({ areaCode: '211' });
    expect(toAvailable(item, { countryCode: 'DE', numberType: 'local', areaCode: '2112' })).toMatchObject({ areaCode: '2112' });
    expect(toAvailable(item, { countryCode: 'DE', numberType: 'local', areaCode: '30' })).toMatchObject({ areaCode: '211' });
  });
});

describe('quote', () => {
  it('searches for the exact number by its digits and returns it only on an exact match', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.countryCode === 'AT' && x.numberType === 'local')!;
    expect(await p.quote(n.e164)).toEqual(n);
    const [req] = fake.requests;
    expect([...req!.query].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toEqual([
      ['filter[country_code]', 'AT'],
      ['filter[features][]', 'voice'],
      ['filter[limit]', '10'],
      ['filter[phone_number][starts_with]', n.e164.slice(1)],
      ['filter[phone_number_type]', 'local'],
    ]);
  });

  it('a NANP toll-free number is looked for in the US, then in Canada', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.countryCode === 'CA' && x.numberType === 'toll-free')!;
    expect(await p.quote(n.e164)).toEqual(n);
    expect(fake.requests.map((r) => r.query.find(([k]) => k === 'filter[country_code]')?.[1])).toEqual(['US', 'CA']);
  });

  it('a number the search does not return exactly is not quoted, whatever else comes back', async () => {
    const { p } = make();
    fake.extraSearchResults = [{ phone_number: '+14155550123', cost_information: { monthly_cost: '1.00', currency: 'USD' }, features: [{ name: 'voice' }] }];
    expect(await p.quote('+14155550124')).toBeNull();
    expect((await p.quote('+14155550123'))?.e164).toBe('+14155550123');
  });

  it('null for a number sold meanwhile, a prefix match that is not the number, a country we do not sell', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.areaCode === '212')!;
    fake.takeNumber(n.e164);
    expect(await p.quote(n.e164)).toBeNull();
    // +1415207 is the start of inventory numbers, not a number itself.
    expect(await p.quote('+1415207')).toBeNull();
    expect(await p.quote('+442071838750')).toBeNull();
  });
});

describe('ordering: pending, then settled once', () => {
  it('POST /number_orders with the number, our connection and the reference; settled by polling with the phone number id', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_poll');
    expect(placed.outcome).toBe('pending');
    const [post] = fake.requestsTo('POST', '/number_orders');
    expect(post!.body).toEqual({ phone_numbers: [{ phone_number: n.e164 }], connection_id: CONN, customer_reference: 'num_poll' });
    expect(placed.orderId).toBe(fake.ordersFor('num_poll')[0]!.id);
    await until(() => updates.length > 0, 'the update');
    const owned = fake.numberByE164(n.e164)!;
    expect(owned.connection_id).toBe(CONN);
    // The phone number's own id (DELETE /phone_numbers/{id} takes it), not the order's number_order_phone_number id.
    const orderNumberId = fake.orders.get(placed.orderId)!.phone_numbers[0]!.id;
    expect(orderNumberId).not.toBe(owned.id);
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: owned.id }]);
    expect(fake.requestsTo('GET', `/number_orders/${placed.orderId}`).length).toBeGreaterThan(0);
    await sleep(150);
    expect(updates).toHaveLength(1);
  });

  it('without TELNYX_CONNECTION_ID the order carries no connection_id', async () => {
    const { p } = make({ connectionId: undefined });
    const n = await quoted(p);
    await p.placeOrder(n, 'num_noconn');
    expect(fake.requestsTo('POST', '/number_orders')[0]!.body).toEqual({ phone_numbers: [{ phone_number: n.e164 }], customer_reference: 'num_noconn' });
  });

  it('settled by a signed number_order.complete webhook alone (no poll comes due)', async () => {
    const { p, updates } = make({ pollIntervalMs: 60_000 });
    webhookTarget = p;
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_hook');
    await until(() => updates.length > 0, 'the update');
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
    expect(webhookResults).toEqual(['settled']);
    await until(() => fake.webhooks.length > 0, 'the delivery record');
    expect(fake.webhooks.map((w) => w.status)).toEqual([200]);
    expect(fake.requestsTo('GET', `/number_orders/${placed.orderId}`)).toHaveLength(0);
  });

  it('duplicated webhooks and polling together settle once; a late redelivery is a duplicate', async () => {
    fake.webhookKnobs.duplicates = 3;
    const { p, updates } = make({ pollIntervalMs: 20 });
    webhookTarget = p;
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_dup');
    await until(() => webhookResults.length === 4, 'four webhooks');
    await sleep(100);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ orderId: placed.orderId, status: 'active' });
    expect(webhookResults.filter((r) => r === 'duplicate').length).toBeGreaterThanOrEqual(3);
    await fake.redeliver(placed.orderId);
    expect(webhookResults.at(-1)).toBe('duplicate');
    expect(updates).toHaveLength(1);
  });

  it('a poll that finds the order complete while the webhook is still settling it (number lookup under way) does not settle it again', async () => {
    fake.holdOrders = true;
    const { p, updates } = make({ pollIntervalMs: 15, maxPollIntervalMs: 15 });
    webhookTarget = p;
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_race');
    await sleep(60);
    // Polls are answered 50 ms late (with the state they found on arrival), number lookups 250 ms late: the
    // webhook, sent when the order completes, starts settling first, and polls see "success" while it is still at it.
    fake.inject({ method: 'GET', path: /^\/number_orders\/[^/]+$/, times: Infinity, fault: { kind: 'slow', delayMs: 50 } });
    fake.inject({ method: 'GET', path: '/phone_numbers', times: Infinity, fault: { kind: 'slow', delayMs: 250 } });
    const completedAt = Date.now();
    fake.completeOrder(placed.orderId);
    await until(() => webhookResults.length > 0, 'the webhook');
    await sleep(100);
    expect(webhookResults).toEqual(['settled']);
    expect(fake.requestsTo('GET', `/number_orders/${placed.orderId}`).filter((r) => r.at >= completedAt).length).toBeGreaterThanOrEqual(1);
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
  });

  it('stopped while a poll is under way: its answer is not lost, start() settles the order', async () => {
    fake.holdOrders = true;
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make({ pollIntervalMs: 15, maxPollIntervalMs: 15 });
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_stop_inflight');
    fake.completeOrder(placed.orderId);
    fake.inject({ method: 'GET', path: `/number_orders/${placed.orderId}`, times: Infinity, fault: { kind: 'slow', delayMs: 100 } });
    const seen = fake.requestsTo('GET', `/number_orders/${placed.orderId}`).length;
    await until(() => fake.requestsTo('GET', `/number_orders/${placed.orderId}`).length > seen, 'a slow poll');
    p.stop();
    await sleep(200);
    expect(updates).toEqual([]);
    await p.start();
    await until(() => updates.length > 0, 'the update');
    expect(updates).toHaveLength(1);
  });

  it('a webhook that overtakes the create response settles the order once, under the id placeOrder returns', async () => {
    fake.orderDelayMs = 0;
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'slow', delayMs: 150 } });
    const { p, updates } = make({ pollIntervalMs: 20 });
    webhookTarget = p;
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_early');
    expect(webhookResults).toEqual(['settled']);
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
    await sleep(120);
    expect(updates).toHaveLength(1);
    expect(fake.requestsTo('GET', `/number_orders/${placed.orderId}`)).toHaveLength(0);
  });

  it('webhooks of two orders arriving in the opposite order settle each order with its own number', async () => {
    fake.holdOrders = true;
    const { p, updates } = make({ pollIntervalMs: 60_000 });
    webhookTarget = p;
    const a = await quoted(p, (x) => x.areaCode === '212');
    const b = await quoted(p, (x) => x.areaCode === '617');
    const oa = await p.placeOrder(a, 'num_a');
    const ob = await p.placeOrder(b, 'num_b');
    fake.completeOrder(ob.orderId);
    await until(() => updates.length === 1, 'b');
    fake.completeOrder(oa.orderId, 'failure');
    await until(() => updates.length === 2, 'a');
    expect(updates).toEqual([
      { orderId: ob.orderId, e164: b.e164, status: 'active', providerNumberId: fake.numberByE164(b.e164)!.id },
      { orderId: oa.orderId, e164: a.e164, status: 'failed', reason: 'carrier_rejected' },
    ]);
  });

  it('a lost webhook: polling settles it', async () => {
    fake.webhookKnobs.drop = 1;
    const { p, updates } = make({ pollIntervalMs: 30 });
    webhookTarget = p;
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_lost_hook');
    await until(() => updates.length > 0, 'the update');
    expect(webhookResults).toEqual([]);
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
  });

  it('webhooks that settle nothing are recognised: other events, pending ones, unknown shapes, bad signatures', async () => {
    const { p, updates } = make();
    webhookTarget = p;
    expect(await p.handleEvent({ data: { event_type: 'call.initiated', payload: {} } })).toBe('ignored');
    expect(await p.handleEvent(null)).toBe('ignored');
    expect(
      await p.handleEvent({
        data: { event_type: 'number_order.complete', payload: { id: 'x', status: 'pending', phone_numbers: [{ phone_number: '+14155550100' }] } },
      }),
    ).toBe('ignored');
    expect(await p.handleEvent({ data: { event_type: 'number_order.complete', payload: { id: 'x', status: 'success', phone_numbers: [] } } })).toBe('ignored');
    fake.webhookKnobs.timestampSkewS = -301;
    await fake.sendWebhook({
      data: { event_type: 'number_order.complete', payload: { id: 'y', status: 'success', phone_numbers: [{ phone_number: '+14155550100' }] } },
    });
    expect(webhookResults).toEqual(['refused: stale telnyx-timestamp (more than 300 s from now)']);
    expect(updates).toEqual([]);
  });

  it('a webhook for an order this process does not watch (another instance placed it) is news all the same, once', async () => {
    const { p, updates } = make();
    const payload = {
      id: 'order-elsewhere',
      status: 'success',
      customer_reference: 'num_other',
      phone_numbers: [{ phone_number: '+14155550100', status: 'success' }],
    };
    expect(await p.handleEvent({ data: { event_type: 'number_order.complete', payload } })).toBe('settled');
    expect(await p.handleEvent({ data: { event_type: 'number_order.complete', payload } })).toBe('duplicate');
    expect(updates).toEqual([{ orderId: 'order-elsewhere', e164: '+14155550100', status: 'active' }]);
  });

  it('a failed order: failed with a reason, by polling and by getOrder; the number is for sale again', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const n = await quoted(p);
    fake.failOrdersFor(n.e164);
    const placed = await p.placeOrder(n, 'num_fail');
    await until(() => updates.length > 0, 'the update');
    expect(updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'failed', reason: 'carrier_rejected' }]);
    expect(await p.getOrder(placed.orderId, n.e164)).toEqual({ status: 'failed', reason: 'carrier_rejected' });
    expect(fake.isAvailable(n.e164)).toBe(true);
  });

  it('after a restart, track() resumes polling an order placed before', async () => {
    fake.holdOrders = true;
    fake.webhookKnobs.drop = 100;
    const first = make();
    const n = await quoted(first.p);
    const placed = await first.p.placeOrder(n, 'num_restart');
    first.p.stop();
    const second = make();
    await second.p.start();
    second.p.track(placed.orderId, n.e164);
    await sleep(80);
    expect(second.updates).toEqual([]);
    fake.completeOrder(placed.orderId);
    await until(() => second.updates.length > 0, 'the update');
    expect(second.updates).toEqual([{ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
    expect(first.updates).toEqual([]);
  });

  it('stop() stops polling; start() resumes it', async () => {
    fake.holdOrders = true;
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_stop');
    p.stop();
    fake.completeOrder(placed.orderId);
    const polls = fake.requestsTo('GET', `/number_orders/${placed.orderId}`).length;
    await sleep(120);
    expect(fake.requestsTo('GET', `/number_orders/${placed.orderId}`).length).toBe(polls);
    // A webhook during shutdown is left to polling too.
    expect(await p.handleEvent({ data: { event_type: 'number_order.complete', payload: fake.orders.get(placed.orderId) } })).toBe('ignored');
    expect(updates).toEqual([]);
    await p.start();
    await until(() => updates.length > 0, 'the update');
  });

  it('polling backs off while an order stays pending', async () => {
    fake.holdOrders = true;
    fake.webhookKnobs.drop = 100;
    const { p } = make({ pollIntervalMs: 20, maxPollIntervalMs: 1000 });
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_backoff');
    await sleep(600);
    const polls = fake.requestsTo('GET', `/number_orders/${placed.orderId}`).map((r) => r.at);
    // 20, 30, 45, 67, 101, 151, 227 ms...: about 7 in 600 ms, where a fixed 20 ms would make 30.
    expect(polls.length).toBeGreaterThanOrEqual(4);
    expect(polls.length).toBeLessThanOrEqual(9);
    const gaps = polls.slice(1).map((t, i) => t - polls[i]!);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]! * 2);
  });
});

describe('placeOrder errors', () => {
  it('a number sold meanwhile: unavailable, nothing ordered', async () => {
    const { p } = make();
    const n = await quoted(p);
    fake.takeNumber(n.e164);
    const err = await failure(p.placeOrder(n, 'num_taken'));
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/no longer sell/);
    expect(err.message).toContain('is not available for purchase');
    expect(err.details?.status).toBe(422);
    expect(fake.orders.size).toBe(0);
    expect(fake.requestsTo('GET', '/number_orders')).toHaveLength(0);
  });

  it('a number no search returned cannot be ordered (Telnyx: only searched numbers)', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.areaCode === '415')!;
    expect((await failure(p.placeOrder(n, 'num_unsearched'))).kind).toBe('unavailable');
  });

  it('regulatory requirements refused at ordering: regulatory, saying what Telnyx needs', async () => {
    fake.requireRegulatory('DE', 'reject');
    const { p } = make();
    const n = await quoted(p, (x) => x.countryCode === 'DE' && x.numberType === 'local');
    const err = await failure(p.placeOrder(n, 'num_de'));
    expect(err.kind).toBe('regulatory');
    expect(err.message).toMatch(/requirement group or bundle/);
    expect(err.message).toMatch(/DE numbers require a requirement group or bundle \(address and identity documents\)/);
    expect(fake.orders.size).toBe(0);
  });

  it('an order Telnyx holds for documents: regulatory at once; watched silently, and the number given back if it ever completes', async () => {
    fake.requireRegulatory('AT', 'hold');
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const n = await quoted(p, (x) => x.countryCode === 'AT' && x.numberType === 'local');
    const err = await failure(p.placeOrder(n, 'num_at'));
    expect(err.kind).toBe('regulatory');
    expect(err.message).toMatch(/requirement-info-pending/);
    expect(err.message).toMatch(/requirement group or bundle/);
    const [order] = fake.ordersFor('num_at');
    expect(order!.status).toBe('pending');
    fake.completeOrder(order!.id, 'success');
    await until(() => fake.requestsTo('DELETE', /^\/phone_numbers\//).length > 0, 'the release');
    expect(fake.numberByE164(n.e164)).toBeUndefined();
    await sleep(60);
    expect(updates).toEqual([]);
  });

  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [429, 'unavailable_provider'],
    [400, 'invalid_request'],
  ] as const)('HTTP %d on the create (nothing created): %s, without looking anything up', async (status, kind) => {
    const { p } = make();
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'status', status, headers: status === 429 ? { 'retry-after': '7' } : {} } });
    const err = await failure(p.placeOrder(n, 'num_status'));
    expect(err.kind).toBe(kind);
    expect(err.details?.status).toBe(status);
    if (status === 429) expect(err.details?.retryAfterS).toBe(7);
    expect(fake.requestsTo('GET', '/number_orders')).toHaveLength(0);
    expect(fake.requestsTo('POST', '/number_orders')).toHaveLength(1);
  });

  it('a 503 with nothing created: looked up by customer_reference, not found, unavailable_provider, not retried', async () => {
    const { p } = make();
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'status', status: 503 } });
    const err = await failure(p.placeOrder(n, 'num_503'));
    expect(err.kind).toBe('unavailable_provider');
    const lookups = fake.requestsTo('GET', '/number_orders');
    expect(lookups).toHaveLength(1);
    expect(lookups[0]!.query).toEqual([['filter[customer_reference]', 'num_503']]);
    expect(fake.requestsTo('POST', '/number_orders')).toHaveLength(1);
    expect(fake.orders.size).toBe(0);
  });

  it('a 502 after Telnyx created the order: found by customer_reference, pending with its id', async () => {
    const { p } = make();
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'lose-response', status: 502 } });
    const placed = await p.placeOrder(n, 'num_502');
    expect(placed).toEqual({ outcome: 'pending', orderId: fake.ordersFor('num_502')[0]!.id });
    expect(fake.ordersFor('num_502')).toHaveLength(1);
  });

  it.each(['hang', 'reset'] as const)(
    'create response lost after the order was created (%s): found by customer_reference, one order, never two',
    async (mode) => {
      fake.webhookKnobs.drop = 100;
      const { p, updates } = make();
      const n = await quoted(p);
      fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'lose-response', mode } });
      const placed = await p.placeOrder(n, `num_lost_${mode}`);
      const orders = fake.ordersFor(`num_lost_${mode}`);
      expect(orders).toHaveLength(1);
      expect(placed).toEqual({ outcome: 'pending', orderId: orders[0]!.id });
      expect(fake.requestsTo('POST', '/number_orders')).toHaveLength(1);
      await until(() => updates.length > 0, 'the update');
      expect(updates).toEqual([{ orderId: orders[0]!.id, e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
    },
  );

  it('a connection dropped before Telnyx did anything: not found, retried once, one order', async () => {
    const { p } = make();
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'reset' } });
    const placed = await p.placeOrder(n, 'num_retry');
    expect(fake.requestsTo('POST', '/number_orders')).toHaveLength(2);
    expect(fake.ordersFor('num_retry')).toHaveLength(1);
    expect(placed).toEqual({ outcome: 'pending', orderId: fake.ordersFor('num_retry')[0]!.id });
  });

  it('no answer twice and nothing created: unavailable_provider after one retry, no order', async () => {
    const { p } = make({ requestTimeoutMs: 300 });
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', times: 2, fault: { kind: 'hang' } });
    const err = await failure(p.placeOrder(n, 'num_hang'));
    expect(err.kind).toBe('unavailable_provider');
    expect(fake.requestsTo('POST', '/number_orders')).toHaveLength(2);
    expect(fake.requestsTo('GET', '/number_orders')).toHaveLength(2);
    expect(fake.orders.size).toBe(0);
  });

  it('lost create response and the lookup failing: unknown, ref: id; getOrder then resolves it and the update comes under the ref: id', async () => {
    fake.webhookKnobs.drop = 100;
    fake.holdOrders = true;
    const { p, updates } = make();
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'lose-response', mode: 'reset' } });
    fake.inject({ method: 'GET', path: '/number_orders', fault: { kind: 'status', status: 503 } });
    const placed = await p.placeOrder(n, 'num_unknown');
    expect(placed).toEqual({ outcome: 'unknown', orderId: 'ref:num_unknown' });
    expect(await p.getOrder('ref:num_unknown', n.e164)).toEqual({ status: 'pending' });
    const [order] = fake.ordersFor('num_unknown');
    fake.completeOrder(order!.id);
    await until(() => updates.length > 0, 'the update');
    expect(updates).toEqual([{ orderId: 'ref:num_unknown', e164: n.e164, status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id }]);
    expect(await p.getOrder('ref:num_unknown', n.e164)).toEqual({ status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id });
    expect(fake.ordersFor('num_unknown')).toHaveLength(1);
  });

  it('an unknown (ref:) order is settled by its webhook under the ref: id', async () => {
    fake.holdOrders = true;
    const { p, updates } = make({ pollIntervalMs: 60_000 });
    webhookTarget = p;
    const n = await quoted(p);
    fake.inject({ method: 'POST', path: '/number_orders', fault: { kind: 'lose-response', mode: 'reset' } });
    fake.inject({ method: 'GET', path: '/number_orders', fault: { kind: 'status', status: 503 } });
    expect(await p.placeOrder(n, 'num_unknown_hook')).toEqual({ outcome: 'unknown', orderId: 'ref:num_unknown_hook' });
    fake.completeOrder(fake.ordersFor('num_unknown_hook')[0]!.id, 'failure');
    await until(() => updates.length > 0, 'the update');
    expect(updates).toEqual([{ orderId: 'ref:num_unknown_hook', e164: n.e164, status: 'failed', reason: 'carrier_rejected' }]);
  });

  it('connection refused (nothing listening): unavailable_provider, nothing looked up', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((r) => closed.close(() => r()));
    const { p } = make({ apiUrl: `http://127.0.0.1:${port}/v2` });
    const n = inventory.find((x) => x.areaCode === '415')!;
    const err = await failure(p.placeOrder(n, 'num_refused'));
    expect(err.kind).toBe('unavailable_provider');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect((await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }))).kind).toBe('unavailable_provider');
  });
});

describe('getOrder', () => {
  it('pending, then active with the phone number id; unknown for ids Telnyx does not know', async () => {
    fake.holdOrders = true;
    const { p } = make({ pollIntervalMs: 60_000 });
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_get');
    expect(await p.getOrder(placed.orderId, n.e164)).toEqual({ status: 'pending' });
    fake.completeOrder(placed.orderId);
    expect(await p.getOrder(placed.orderId, n.e164)).toEqual({ status: 'active', providerNumberId: fake.numberByE164(n.e164)!.id });
    expect(await p.getOrder('5f0c0d6c-0000-4000-8000-000000000000', n.e164)).toEqual({ status: 'unknown' });
    expect(await p.getOrder('ref:never-placed', n.e164)).toEqual({ status: 'unknown' });
  });

  it('active without an id when the number lookup fails (release finds it by its digits)', async () => {
    fake.webhookKnobs.drop = 100;
    fake.holdOrders = true;
    const { p } = make({ pollIntervalMs: 60_000 });
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_noid');
    fake.completeOrder(placed.orderId);
    fake.inject({ method: 'GET', path: '/phone_numbers', fault: { kind: 'status', status: 503 } });
    expect(await p.getOrder(placed.orderId, n.e164)).toEqual({ status: 'active' });
  });

  it('when getOrder reports the final state first, no update follows (reported once)', async () => {
    fake.webhookKnobs.drop = 100;
    fake.holdOrders = true;
    const { p, updates } = make({ pollIntervalMs: 80 });
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_once');
    fake.completeOrder(placed.orderId);
    expect((await p.getOrder(placed.orderId, n.e164)).status).toBe('active');
    await sleep(250);
    expect(updates).toEqual([]);
  });

  it('a transport failure is thrown (the number stays purchasing), not reported as a state', async () => {
    const { p } = make();
    fake.inject({ method: 'GET', path: /^\/number_orders\//, fault: { kind: 'status', status: 500 } });
    expect((await failure(p.getOrder('some-order', '+14155550100'))).kind).toBe('unavailable_provider');
  });
});

describe('release', () => {
  async function activeNumber(p: TelnyxProvider, updates: OrderUpdate[], ref: string) {
    const n = await quoted(p);
    const placed = await p.placeOrder(n, ref);
    await until(() => updates.length > 0, 'the update');
    return { n, placed, id: (updates[0] as { providerNumberId: string }).providerNumberId };
  }

  it('DELETE /phone_numbers/{id}; again: already gone, fine', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const { n, placed, id } = await activeNumber(p, updates, 'num_rel');
    await p.release(n.e164, placed.orderId, id);
    expect(fake.requestsTo('DELETE', `/phone_numbers/${id}`)).toHaveLength(1);
    expect(fake.numberByE164(n.e164)).toBeUndefined();
    await p.release(n.e164, placed.orderId, id);
    await p.release(n.e164, null, null);
    expect(fake.requestsTo('DELETE', /^\/phone_numbers\//)).toHaveLength(2);
  });

  it('without the id, or with a wrong one, the number is found by its digits', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const { n, id } = await activeNumber(p, updates, 'num_rel2');
    await p.release(n.e164, null, 'not-the-id');
    expect(fake.numberByE164(n.e164)).toBeUndefined();
    const lookup = fake.requestsTo('GET', '/phone_numbers').at(-1)!;
    expect(lookup.query).toEqual(expect.arrayContaining([['filter[phone_number]', n.e164.slice(1)]]));
    expect(fake.requestsTo('DELETE', `/phone_numbers/${id}`)).toHaveLength(1);
  });

  it('a number deleted in the portal meanwhile: fine', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const { n, placed, id } = await activeNumber(p, updates, 'num_rel3');
    fake.deleteInPortal(n.e164);
    await p.release(n.e164, placed.orderId, id);
  });

  it('released while its order is pending: no update, and the number goes back when the order completes', async () => {
    fake.webhookKnobs.drop = 100;
    fake.holdOrders = true;
    const { p, updates } = make();
    const n = await quoted(p);
    const placed = await p.placeOrder(n, 'num_rel_pending');
    await p.release(n.e164, placed.orderId, null);
    fake.completeOrder(placed.orderId);
    await until(() => fake.requestsTo('DELETE', /^\/phone_numbers\//).length > 0, 'the release');
    expect(fake.numberByE164(n.e164)).toBeUndefined();
    await sleep(60);
    expect(updates).toEqual([]);
  });

  it('after a restart, release of an order still pending watches it and gives the number back', async () => {
    fake.webhookKnobs.drop = 100;
    fake.holdOrders = true;
    const first = make();
    const n = await quoted(first.p);
    const placed = await first.p.placeOrder(n, 'num_rel_restart');
    first.p.stop();
    const second = make();
    await second.p.release(n.e164, placed.orderId, null);
    fake.completeOrder(placed.orderId);
    await until(() => fake.numberByE164(n.e164) === undefined && fake.requestsTo('DELETE', /^\/phone_numbers\//).length > 0, 'the release');
    expect(second.updates).toEqual([]);
  });

  it('a failing DELETE is thrown, not swallowed', async () => {
    fake.webhookKnobs.drop = 100;
    const { p, updates } = make();
    const { n, placed, id } = await activeNumber(p, updates, 'num_rel_fail');
    fake.inject({ method: 'DELETE', fault: { kind: 'status', status: 503 } });
    expect((await failure(p.release(n.e164, placed.orderId, id))).kind).toBe('unavailable_provider');
    expect(fake.numberByE164(n.e164)).toBeDefined();
  });
});

describe('importNumber', () => {
  it('an owned number pointing elsewhere is pointed at our connection', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.countryCode === 'CH' && x.numberType === 'local')!;
    const rec = fake.addOwned(n.e164, { connectionId: OTHER_CONN });
    const got = await p.importNumber(n.e164);
    expect(got).toEqual({
      providerNumberId: rec.id,
      // Telnyx's phone number record has no price: imported numbers cost 0.
      number: { e164: n.e164, countryCode: 'CH', numberType: 'local', areaCode: n.areaCode, city: null, region: null, monthlyCost: 0, currency: 'USD' },
    });
    const [patch] = fake.requestsTo('PATCH', `/phone_numbers/${rec.id}`);
    expect(patch!.body).toEqual({ connection_id: CONN });
    expect(fake.numberByE164(n.e164)!.connection_id).toBe(CONN);
    expect(fake.requestsTo('GET', '/phone_numbers')[0]!.query).toEqual(expect.arrayContaining([['filter[phone_number]', n.e164.slice(1)]]));
  });

  it('already on our connection: no PATCH; a toll-free number is toll-free', async () => {
    const { p } = make();
    const n = inventory.find((x) => x.countryCode === 'US' && x.numberType === 'toll-free')!;
    fake.addOwned(n.e164, { connectionId: CONN });
    expect((await p.importNumber(n.e164)).number).toMatchObject({ numberType: 'toll-free', areaCode: n.areaCode, countryCode: 'US' });
    expect(fake.requestsTo('PATCH', /^\/phone_numbers\//)).toHaveLength(0);
  });

  it('not owned: not_found; a partial match is not the number', async () => {
    const { p } = make();
    fake.addOwned('+14155550199');
    expect((await failure(p.importNumber('+1415555019'))).kind).toBe('not_found');
    expect((await failure(p.importNumber('+14155550100'))).kind).toBe('not_found');
  });
});

describe('owned', () => {
  it('pages through every number (250 a page) with its connection; drift shows', async () => {
    const { p } = make();
    const mine = inventory.filter((n) => n.countryCode === 'US').slice(0, 601);
    for (const n of mine) fake.addOwned(n.e164, { connectionId: CONN });
    fake.setConnection(mine[0]!.e164, OTHER_CONN);
    fake.deleteInPortal(mine[1]!.e164);
    const owned = await p.owned();
    expect(owned).toHaveLength(600);
    expect(owned!.find((o) => o.e164 === mine[0]!.e164)!.voiceTarget).toBe(OTHER_CONN);
    expect(owned!.find((o) => o.e164 === mine[1]!.e164)).toBeUndefined();
    expect(owned!.filter((o) => o.voiceTarget === CONN)).toHaveLength(599);
    expect(new Set(owned!.map((o) => o.providerNumberId)).size).toBe(600);
    const pages = fake.requestsTo('GET', '/phone_numbers').map((r) => Object.fromEntries(r.query));
    expect(pages).toEqual([
      { 'page[number]': '1', 'page[size]': '250' },
      { 'page[number]': '2', 'page[size]': '250' },
      { 'page[number]': '3', 'page[size]': '250' },
    ]);
  });

  it('an account with no numbers: one request, empty', async () => {
    const { p } = make();
    expect(await p.owned()).toEqual([]);
    expect(fake.requestsTo('GET', '/phone_numbers')).toHaveLength(1);
  });
});

describe('the API key stays secret', () => {
  it('a refused key: auth, with the key in no message and no log line', async () => {
    const { p } = make({ apiKey: 'KEY0199WRONGkey_never_logged' });
    for (const call of [
      () => p.search({ countryCode: 'US', numberType: 'local', limit: 1 }),
      () => p.quote('+14152072819'),
      () => p.placeOrder(inventory[0]!, 'num_auth'),
      () => p.getOrder('x', '+14152072819'),
      () => p.importNumber('+14152072819'),
      () => p.owned(),
      () => p.release('+14152072819', null, 'id'),
    ]) {
      const err = await failure(call());
      expect(err.kind).toBe('auth');
      expect(err.details?.status).toBe(401);
      expect(err.message).toMatch(/TELNYX_API_KEY/);
      expect(err.message).not.toContain('KEY0199WRONGkey_never_logged');
    }
    expect(fake.requests.every((r) => !r.authorized)).toBe(true);
    for (const l of logLines) expect(l).not.toContain('KEY0199WRONGkey_never_logged');
  });

  it('a key echoed back by Telnyx (or a proxy) is cut out of the message', async () => {
    const { p } = make();
    fake.inject({
      fault: {
        kind: 'status',
        status: 400,
        body: { errors: [{ code: '10015', title: 'Bad Request', detail: `Authorization: Bearer ${KEY} is not allowed here` }] },
      },
    });
    const err = await failure(p.search({ countryCode: 'US', numberType: 'local', limit: 1 }));
    expect(err.kind).toBe('invalid_request');
    expect(err.message).toContain('Bearer [redacted]');
    expect(err.message).not.toContain(KEY);
  });
});
