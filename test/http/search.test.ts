// POST /api/phone-numbers/search (api.md section 3, "Search"): every filter,
// limits, errors, and that held numbers are not offered.
import { RELEASED_NUMBERS_RETURN } from '../helpers/provider-under-test.js';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTeam, eventually, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

interface Offered {
  phoneNumber: string;
  countryCode: string;
  numberType: string;
  city: string | null;
  state: string | null;
  monthlyCost: { amount: number; currency: string };
}

let t: TestGateway;
beforeAll(async () => {
  t = await startGateway();
});
afterAll(async () => {
  await t?.close();
});

const search = (filters: unknown, auth = t.admin) => t.api.post('/api/phone-numbers/search').set(auth).send({ filters });

async function ok(filters: Record<string, unknown>): Promise<Offered[]> {
  const res = await search(filters);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(Object.keys(res.body)).toEqual(['numbers']);
  return res.body.numbers as Offered[];
}

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true, messageString: true });

describe('countryCode', () => {
  it('is required: missing is 400 INVALID_REQUEST naming filters.countryCode', async () => {
    const res = await search({ numberType: 'local' });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('filters.countryCode');
  });

  it('a missing filters object is 400 naming filters', async () => {
    const res = await t.api.post('/api/phone-numbers/search').set(t.admin).send({});
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bfilters\b/);
  });

  it.each(['GB', 'FR', 'XX'])('%s is 400 UNSUPPORTED_COUNTRY', async (countryCode) => {
    const res = await search({ countryCode });
    expectError(res, 400, 'UNSUPPORTED_COUNTRY');
    expect(res.body.error.message).toContain('countryCode');
  });

  it.each(['AE', 'US', 'CA', 'DE', 'AT', 'CH'])('%s returns local numbers that are valid E.164 numbers of %s', async (country) => {
    const numbers = await ok({ countryCode: country });
    expect(numbers.length).toBeGreaterThan(0);
    for (const n of numbers) {
      expect(n.phoneNumber).toMatch(/^\+[1-9]\d{6,14}$/);
      const parsed = parsePhoneNumberFromString(n.phoneNumber);
      expect(parsed?.isValid(), n.phoneNumber).toBe(true);
      expect(parsed?.country, n.phoneNumber).toBe(country);
      expect(parsed?.number).toBe(n.phoneNumber);
      expect(n.countryCode).toBe(country);
      expect(n.numberType).toBe('local');
      expect(Object.keys(n).sort()).toEqual(['city', 'countryCode', 'monthlyCost', 'numberType', 'phoneNumber', 'provider', 'state']);
      expect(Number.isInteger(n.monthlyCost.amount)).toBe(true);
      expect(n.monthlyCost.amount).toBeGreaterThan(0);
      expect(n.monthlyCost.currency).toMatch(/^[A-Z]{3}$/);
    }
  });

  it('a team token may search too', async () => {
    const team = await createTeam(t, 'searcher');
    const res = await search({ countryCode: 'US', limit: 3 }, team.auth);
    expect(res.status).toBe(200);
    expect(res.body.numbers).toHaveLength(3);
  });
});

describe('numberType', () => {
  it('toll-free, tollFree and toll_free are the same, and give toll-free numbers', async () => {
    const dashed = await ok({ countryCode: 'US', numberType: 'toll-free' });
    const camel = await ok({ countryCode: 'US', numberType: 'tollFree' });
    const snake = await ok({ countryCode: 'US', numberType: 'toll_free' });
    expect(dashed.length).toBeGreaterThan(0);
    expect(camel).toEqual(dashed);
    expect(snake).toEqual(dashed);
    for (const n of dashed) {
      expect(n.numberType).toBe('toll-free');
      expect(parsePhoneNumberFromString(n.phoneNumber)?.getType()).toBe('TOLL_FREE');
    }
    const local = await ok({ countryCode: 'US' });
    const localSet = new Set(local.map((n) => n.phoneNumber));
    expect(dashed.some((n) => localSet.has(n.phoneNumber))).toBe(false);
  });

  it('local is the default', async () => {
    expect(await ok({ countryCode: 'DE', numberType: 'local' })).toEqual(await ok({ countryCode: 'DE' }));
  });

  it('an unknown numberType is 400 naming filters.numberType', async () => {
    const res = await search({ countryCode: 'US', numberType: 'mobile' });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('filters.numberType');
  });
});

describe('local filters', () => {
  it('areaCode: every US result for 415 starts with +1415', async () => {
    const numbers = await ok({ countryCode: 'US', areaCode: '415' });
    expect(numbers.length).toBeGreaterThan(0);
    for (const n of numbers) expect(n.phoneNumber.startsWith('+1415'), n.phoneNumber).toBe(true);
  });

  it('state matches case-insensitively (ca = CA)', async () => {
    const lower = await ok({ countryCode: 'US', state: 'ca' });
    const upper = await ok({ countryCode: 'US', state: 'CA' });
    expect(lower.length).toBeGreaterThan(0);
    expect(lower).toEqual(upper);
    for (const n of lower) expect(n.state).toBe('CA');
    const ny = await ok({ countryCode: 'US', state: 'ny' });
    for (const n of ny) expect(n.state).toBe('NY');
  });

  it('city matches case-insensitively, umlauts included (münchen, MÜNCHEN)', async () => {
    const lower = await ok({ countryCode: 'DE', city: 'münchen' });
    const upper = await ok({ countryCode: 'DE', city: 'MÜNCHEN' });
    const exact = await ok({ countryCode: 'DE', city: 'München' });
    expect(lower.length).toBeGreaterThan(0);
    expect(upper).toEqual(lower);
    expect(exact).toEqual(lower);
    for (const n of lower) {
      expect(n.city).toBe('München');
      expect(n.phoneNumber.startsWith('+4989'), n.phoneNumber).toBe(true);
    }
    const sf = await ok({ countryCode: 'US', city: 'san francisco' });
    expect(sf.length).toBeGreaterThan(0);
    for (const n of sf) expect(n.city).toBe('San Francisco');
  });

  it('filters combine (areaCode + state + city)', async () => {
    const numbers = await ok({ countryCode: 'US', areaCode: '415', state: 'ca', city: 'San Francisco', limit: 5 });
    expect(numbers).toHaveLength(5);
    for (const n of numbers) expect(n).toMatchObject({ state: 'CA', city: 'San Francisco' });
    expect(await ok({ countryCode: 'US', areaCode: '415', state: 'NY' })).toEqual([]);
  });

  it('a city of another country matches nothing', async () => {
    expect(await ok({ countryCode: 'US', city: 'München' })).toEqual([]);
  });
});

describe('toll-free prefix', () => {
  it('888 gives only +1888 numbers', async () => {
    const numbers = await ok({ countryCode: 'US', numberType: 'toll-free', prefix: '888' });
    expect(numbers.length).toBeGreaterThan(0);
    for (const n of numbers) {
      expect(n.phoneNumber.startsWith('+1888'), n.phoneNumber).toBe(true);
      expect(n.numberType).toBe('toll-free');
    }
    const p800 = await ok({ countryCode: 'US', numberType: 'tollFree', prefix: '800' });
    expect(p800.length).toBeGreaterThan(0);
    for (const n of p800) expect(n.phoneNumber.startsWith('+1800'), n.phoneNumber).toBe(true);
  });

  it('a prefix that is not digits is 400 naming filters.prefix', async () => {
    const res = await search({ countryCode: 'US', numberType: 'toll-free', prefix: '8x8' });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('filters.prefix');
  });
});

describe('limit', () => {
  it('defaults to 20', async () => {
    expect(await ok({ countryCode: 'US' })).toHaveLength(20);
  });

  it('more than 20 is clamped to 20', async () => {
    expect(await ok({ countryCode: 'US', limit: 50 })).toHaveLength(20);
    expect(await ok({ countryCode: 'US', limit: 1_000_000 })).toHaveLength(20);
  });

  it('1 to 20 is honoured', async () => {
    expect(await ok({ countryCode: 'US', limit: 1 })).toHaveLength(1);
    expect(await ok({ countryCode: 'CH', limit: 7 })).toHaveLength(7);
  });

  it.each([0, -1, 2.5, '5', null])('limit %j is 400 naming filters.limit', async (limit) => {
    const res = await search({ countryCode: 'US', limit });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('filters.limit');
  });
});

describe('results', () => {
  it('an empty result is 200 with []', async () => {
    const res = await search({ countryCode: 'US', areaCode: '999' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ numbers: [] });
    expect(await ok({ countryCode: 'DE', city: 'Atlantis' })).toEqual([]);
  });

  it('a bought number is no longer offered; once released it is offered again', async () => {
    const team = await createTeam(t, 'search-buyer', 'starter');
    const filters = { countryCode: 'US', areaCode: '212' };
    const first = (await ok(filters))[0]!;
    const bought = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: first.phoneNumber }).expect(201);

    const after = await ok(filters);
    expect(after.length).toBeGreaterThan(0);
    expect(after.map((n) => n.phoneNumber)).not.toContain(first.phoneNumber);
    // Not offered under any other filter either.
    const byCity = await ok({ countryCode: 'US', city: first.city, state: first.state });
    expect(byCity.map((n) => n.phoneNumber)).not.toContain(first.phoneNumber);

    // Wait for it to be active, then release it: it is back in the pool
    // (at once on the simulated carrier; Twilio keeps it a while first).
    const id = bought.body.phoneNumber.id as string;
    await eventually(async () => (await t.api.get(`/api/phone-numbers/${id}`).set(team.auth)).body.phoneNumber.status === 'active');
    await t.api.delete(`/api/phone-numbers/${id}`).set(team.auth).expect(200);
    const again = await ok(filters);
    expect(again.map((n) => n.phoneNumber).includes(first.phoneNumber)).toBe(RELEASED_NUMBERS_RETURN);
  });
});
