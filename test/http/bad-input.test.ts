// What a client can send wrong, and how every error looks (api.md section 1):
// malformed JSON, wrong types, unknown fields, size and media-type limits,
// invalid phone numbers, unknown routes, headers. Never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

type Res = { status: number; body: any; headers: Record<string, string | string[] | undefined>; text: string };

let t: TestGateway;
let team: Awaited<ReturnType<typeof createTeam>>;

beforeAll(async () => {
  t = await startGateway();
  team = await createTeam(t, 'bad-input', 'starter');
});
afterAll(async () => {
  await t?.close();
});

/** Every error: JSON, exactly { error: { code, message, details? } }, never 5xx. */
function expectErrorShape(res: Res) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  expect(res.status, res.text).toBeLessThan(500);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(['error']);
  const keys = Object.keys(res.body.error);
  expect(keys).toEqual(expect.arrayContaining(['code', 'message']));
  for (const k of keys) expect(['code', 'message', 'details']).toContain(k);
  expect(typeof res.body.error.code).toBe('string');
  expect(res.body.error.code).toMatch(/^[A-Z_]+$/);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
}

function expectError(res: Res, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expectErrorShape(res);
  expect(res.body.error.code).toBe(code);
}

async function teamCount(): Promise<number> {
  return (await t.api.get('/api/teams').set(t.admin).expect(200)).body.teams.length;
}

describe('malformed JSON', () => {
  it.each([
    ['post', '/api/teams', '{"name": "x", "slug":'],
    ['post', '/api/phone-numbers/search', "{'filters': {}}"],
    ['post', '/api/phone-numbers/purchase', '{"phoneNumber": "+14155550100",}'],
    ['patch', '/api/assistants/whatever', 'not json at all'],
  ] as const)('%s %s with %j is 400 INVALID_JSON', async (method, path, raw) => {
    const res = await t.api[method](path).set(t.admin).set('Content-Type', 'application/json').send(raw);
    expectError(res, 400, 'INVALID_JSON');
  });

  it('creates nothing', async () => {
    const before = await teamCount();
    await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').send('{"name":"x","slug":"half"').expect(400);
    expect(await teamCount()).toBe(before);
  });
});

describe('wrong types', () => {
  it('limit: "5" is 400 INVALID_REQUEST naming filters.limit', async () => {
    const res = await t.api
      .post('/api/phone-numbers/search')
      .set(t.admin)
      .send({ filters: { countryCode: 'US', limit: '5' } });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('filters.limit');
  });

  it('phoneNumber: 12 is 400 INVALID_REQUEST naming phoneNumber', async () => {
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: 12 });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bphoneNumber\b/);
  });

  it('several wrong fields are all named', async () => {
    const res = await t.api
      .post('/api/teams')
      .set(t.admin)
      .send({ name: 5, slug: ['a'], plan: true });
    expectError(res, 400, 'INVALID_REQUEST');
    for (const f of ['name', 'slug', 'plan']) expect(res.body.error.message).toMatch(new RegExp(`\\b${f}\\b`));
  });

  it.each([['[]'], ['"a string"'], ['42'], ['null'], ['true']])('a JSON body that is not an object (%s) is 400 INVALID_REQUEST', async (raw) => {
    const res = await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').send(raw);
    expectError(res, 400, 'INVALID_REQUEST');
  });

  it('a repeated query parameter is 400 naming it', async () => {
    const res = await t.api.get(`/api/assistants?teamId=${team.id}&teamId=${team.id}`).set(t.admin);
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bteamId\b/);
  });
});

describe('unknown body fields', () => {
  it('an unknown top-level field is 400 naming it, and creates nothing', async () => {
    const before = await teamCount();
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Extra', slug: 'extra-field', plan: 'free', isAdmin: true });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('isAdmin');
    expect(await teamCount()).toBe(before);
  });

  it('an unknown nested field is 400 naming it', async () => {
    const res = await t.api
      .post('/api/phone-numbers/search')
      .set(t.admin)
      .send({ filters: { countryCode: 'US', areacode: '415' } });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('areacode');
  });

  it('an unknown field on purchase is 400 and buys nothing', async () => {
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: '+14155550100', price: 0 });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toContain('price');
    const list = await t.api.get('/api/phone-numbers').set(team.auth).expect(200);
    expect(list.body.phoneNumbers).toEqual([]);
  });
});

describe('size and media type', () => {
  it('a body over 64 KiB is 413 PAYLOAD_TOO_LARGE', async () => {
    const before = await teamCount();
    const res = await t.api
      .post('/api/teams')
      .set(t.admin)
      .send({ name: 'x'.repeat(70 * 1024), slug: 'too-large' });
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await teamCount()).toBe(before);
  });

  it('a body just under 64 KiB is read (and then validated)', async () => {
    const res = await t.api
      .post('/api/teams')
      .set(t.admin)
      .send({ name: 'x'.repeat(60 * 1024), slug: 'nearly-large' });
    // Parsed fine; the name is too long for the schema, so 400 and not 413.
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bname\b/);
  });

  it('Content-Type: text/plain with a body is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await t.api
      .post('/api/teams')
      .set(t.admin)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ name: 'Plain', slug: 'plain-text' }));
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await teamCount()).toBeGreaterThan(0);
    const slugs = (await t.api.get('/api/teams').set(t.admin)).body.teams.map((x: { slug: string }) => x.slug);
    expect(slugs).not.toContain('plain-text');
  });

  it('a form-encoded body is 415 too', async () => {
    const res = await t.api.post('/api/phone-numbers/search').set(t.admin).type('form').send('filters[countryCode]=US');
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('application/json with a charset parameter is accepted', async () => {
    const res = await t.api
      .post('/api/phone-numbers/search')
      .set(t.admin)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ filters: { countryCode: 'US', limit: 1 } }));
    expect(res.status).toBe(200);
    expect(res.body.numbers).toHaveLength(1);
  });
});

describe('invalid phone numbers', () => {
  it.each(['+1 555', 'hello', '+1 415 555', '', '+999 123 456 789', 'sip:nobody@example.com'])('purchase of %j is 400', async (phoneNumber) => {
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber });
    expect(res.status, res.text).toBe(400);
    expectErrorShape(res);
    expect(['INVALID_PHONE_NUMBER', 'INVALID_REQUEST']).toContain(res.body.error.code);
    expect(res.body.error.message).toMatch(/\bphoneNumber\b/);
  });

  it.each(['+1 555', 'hello'])('%j is specifically INVALID_PHONE_NUMBER', async (phoneNumber) => {
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber });
    expectError(res, 400, 'INVALID_PHONE_NUMBER');
  });

  it('a valid number of an unsupported country is 400 UNSUPPORTED_COUNTRY', async () => {
    const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: '+44 20 7946 0958' });
    expectError(res, 400, 'UNSUPPORTED_COUNTRY');
  });

  it('nothing was bought by any of them', async () => {
    const list = await t.api.get('/api/phone-numbers').set(team.auth).expect(200);
    expect(list.body.phoneNumbers).toEqual([]);
  });
});

describe('unknown routes', () => {
  it.each([
    ['get', '/api/nope'],
    ['post', '/api/teams/x/y/z'],
    ['get', '/nope'],
  ] as const)('%s %s is 404 NOT_FOUND with the error shape', async (method, path) => {
    const res = await t.api[method](path).set(t.admin);
    expectError(res, 404, 'NOT_FOUND');
  });

  it.each([
    ['delete', '/api/teams', 'GET, POST'],
    ['put', '/api/phone-numbers/some-id', 'DELETE, GET, PATCH'],
    ['get', '/api/outbound/caller-id', 'POST'],
    ['get', '/api/phone-numbers/search', 'POST'],
    ['put', '/api/phone-numbers/purchase', 'GET, POST'],
  ] as const)('%s %s is 405 METHOD_NOT_ALLOWED naming the methods allowed', async (method, path, allow) => {
    const res = await t.api[method](path).set(t.admin);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe(allow);
  });

  it('an unknown /api route without a token is 401, not a hint about the route', async () => {
    expectError(await t.api.get('/api/nope'), 401, 'UNAUTHENTICATED');
  });
});

describe('never a 5xx', () => {
  const cases: Array<[string, string, string | undefined, string | undefined]> = [
    ['POST', '/api/teams', 'application/json', '{"name":{"$gt":""},"slug":"x"}'],
    ['POST', '/api/teams', 'application/json', '{"__proto__":{"admin":true},"name":"p","slug":"proto"}'],
    ['POST', '/api/teams', 'application/json', JSON.stringify({ name: 'n', slug: 'a'.repeat(5000) })],
    ['POST', '/api/teams', 'application/json', '['.repeat(5000) + ']'.repeat(5000)],
    ['POST', '/api/teams', 'application/json', ''],
    ['POST', '/api/teams', 'application/json; charset=latin-9', '{}'],
    ['POST', '/api/phone-numbers/search', 'application/json', '{"filters":null}'],
    ['POST', '/api/phone-numbers/search', 'application/json', '{"filters":[]}'],
    ['POST', '/api/phone-numbers/search', 'application/json', '{"filters":{"countryCode":["US"]}}'],
    ['POST', '/api/phone-numbers/purchase', 'application/json', '{"phoneNumber":"+14155550100","teamId":{"x":1}}'],
    ['POST', '/api/phone-numbers/purchase', 'application/json', '{"phoneNumber":"\\ud800"}'],
    ['PATCH', '/api/assistants/x/telephony/phone-numbers', 'application/json', '{"accountSlug":"bad-input","phoneNumberIds":null}'],
    ['PATCH', '/api/phone-numbers/x', 'application/json', '{"status":"released"}'],
    ['PATCH', '/api/teams/x', 'application/json', '{"plan":{}}'],
    ['GET', '/api/teams/%E0%A4%A', undefined, undefined],
    ['GET', '/api/phone-numbers?status=bogus', undefined, undefined],
    ['GET', '/api/audit-events?limit=abc', undefined, undefined],
    ['GET', '/api/audit-events?cursor=%%%', undefined, undefined],
    ['GET', '/api/audit-events?cursor=bm90IGEgY3Vyc29y', undefined, undefined],
    ['DELETE', '/api/phone-numbers/does-not-exist', undefined, undefined],
  ];

  it.each(cases)('%s %s (%s) %j is a 4xx with the error shape', async (method, path, type, raw) => {
    let req = t.api[method.toLowerCase() as 'get'](path).set(t.admin);
    if (type !== undefined) req = req.set('Content-Type', type);
    const res = await (raw !== undefined ? req.send(raw) : req);
    expectErrorShape(res);
  });

  it('a gzip body that is not gzip is a 4xx', async () => {
    const res = await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('definitely not gzip');
    expectErrorShape(res);
  });

  it('an unknown Content-Encoding is 415', async () => {
    const res = await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').set('Content-Encoding', 'zstd-ish').send('{}');
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('headers', () => {
  it('security headers are on successes and errors, and there is no x-powered-by', async () => {
    const responses = [
      await t.api.get('/healthz'),
      await t.api.get(`/api/teams/${team.id}`).set(team.auth),
      await t.api.get('/api/nope').set(t.admin),
      await t.api.post('/api/teams'),
      await t.api.post('/api/teams').set(t.admin).set('Content-Type', 'application/json').send('{'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 401, 400]);
    for (const res of responses) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it('X-Request-Id is echoed; an absent or unusable one is replaced by a generated id', async () => {
    const echoed = await t.api.get(`/api/teams/${team.id}`).set(team.auth).set('X-Request-Id', 'req-abc.123:xyz');
    expect(echoed.status).toBe(200);
    expect(echoed.headers['x-request-id']).toBe('req-abc.123:xyz');

    const onError = await t.api.get('/api/nope').set(t.admin).set('X-Request-Id', 'err-42');
    expect(onError.status).toBe(404);
    expect(onError.headers['x-request-id']).toBe('err-42');

    const generated = await t.api.get('/healthz');
    expect(generated.headers['x-request-id']).toMatch(/^[\w.:-]{8,64}$/);

    const unsafe = await t.api.get('/healthz').set('X-Request-Id', 'has spaces\tand "quotes"');
    expect(unsafe.headers['x-request-id']).toBeDefined();
    expect(unsafe.headers['x-request-id']).not.toContain(' ');
    const long = await t.api.get('/healthz').set('X-Request-Id', 'x'.repeat(500));
    expect(long.headers['x-request-id']).not.toBe('x'.repeat(500));
  });

  it('an unknown token does not leak which part was wrong', async () => {
    const a = await t.api.get('/api/teams').set(bearer('sb_team_' + 'A'.repeat(32)));
    const b = await t.api.get('/api/teams').set(bearer('sb_admin_' + 'B'.repeat(32)));
    expectError(a, 401, 'UNAUTHENTICATED');
    expectError(b, 401, 'UNAUTHENTICATED');
    expect(a.body).toEqual(b.body);
  });
});
