// GET /openapi.json, the API's description, generated from the zod schemas
// (src/http/openapi.ts). Four things are checked, and each check is shown
// failing on a broken input, so none of them passes by accident:
//
// 1. it is a valid OpenAPI 3.1 document (@readme/openapi-parser, which
//    validates against the official 3.1 schema plus the spec's own rules),
//    and every schema in it compiles as JSON Schema 2020-12 under ajv's
//    strict mode;
// 2. its operations are exactly the routes express has (walked at run time),
//    the way test/errors-doc.test.ts holds the error catalogue to its docs;
// 3. the real API's answers, through a representative flow on a real
//    gateway (SQLite, the simulated carrier and a fake Twilio account),
//    match the document's schema for their route and status, errors included;
// 4. the console's generated types (console/src/api/openapi.d.ts) are what
//    `npm run openapi` writes from the document now.
import { readFileSync } from 'node:fs';
import { validate, compileErrors } from '@readme/openapi-parser';
import { Router } from 'express';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApi, OPERATIONS, openApiPath, type JsonSchema } from '../../src/http/openapi.js';
import { CONSOLE_TYPES, consoleTypes } from '../../scripts/openapi.js';
import { FakeTwilioApi } from '../fakes/twilio-api.js';
import { callSid, PUBLIC_URL, twilioStatus, twilioVoice, voiceParams } from '../helpers/carrier.js';
import { bearer, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { gatewayApp, registeredRoutes } from '../helpers/routes.js';

type Doc = JsonSchema & {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Response>; schemas: Record<string, JsonSchema> };
};
interface Response {
  description: string;
  content?: Record<string, { schema: JsonSchema }>;
  headers?: Record<string, unknown>;
}
interface Operation {
  parameters?: Array<{ name: string; in: string; schema: JsonSchema }>;
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, Response | { $ref: string }>;
}

const METHODS = ['get', 'post', 'patch', 'delete', 'put'] as const;

let t: TestGateway;
let twilio: FakeTwilioApi;
let doc: Doc;

beforeAll(async () => {
  twilio = await FakeTwilioApi.start();
  t = await startGateway({
    env: {
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_API_URL: twilio.url,
      SWITCHBOARD_PROVIDERS: 'sim,twilio',
      SWITCHBOARD_DEFAULT_PROVIDER: 'sim',
      SWITCHBOARD_PUBLIC_URL: PUBLIC_URL,
    },
  });
  doc = (await t.api.get('/openapi.json').expect(200)).body as Doc;
});
afterAll(async () => {
  await t?.close();
  await twilio?.close();
});

// ---------------------------------------------------------------------------
// 1. A valid OpenAPI 3.1 document

describe('the document', () => {
  it('is served without a token, as JSON, and is what the builder builds', async () => {
    const res = await t.api.get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(buildOpenApi());
    expect(res.body.openapi).toMatch(/^3\.1\./);
  });

  it('is valid OpenAPI 3.1 (@readme/openapi-parser), without warnings', async () => {
    const result = await validate(structuredClone(doc) as never, { resolve: { external: false } });
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it('the validator is not a rubber stamp: a broken copy is refused', async () => {
    const broken = structuredClone(doc);
    // A path parameter the operation does not declare, and an operation without responses.
    const ops = broken.paths['/api/teams/{teamId}']!;
    delete ops.get!.parameters;
    delete (ops.patch as Partial<Operation>).responses;
    const result = await validate(broken as never, { resolve: { external: false } });
    expect(result.valid).toBe(false);
  });

  it('every schema in it compiles as JSON Schema 2020-12 under ajv strict mode', () => {
    const { ajv, at } = schemaCompiler(doc);
    const pointers = schemaPointers(doc);
    expect(pointers.length).toBeGreaterThan(80);
    for (const p of pointers) expect(() => at(p), p.join(' / ')).not.toThrow();
    // And strict mode does refuse what is not JSON Schema.
    const bad = structuredClone(doc);
    bad.components.schemas.Team!.properties = { id: { type: 'strin' } };
    expect(() => schemaCompiler(bad).at(['components', 'schemas', 'Team'])).toThrow();
    expect(ajv).toBeTruthy();
  });
});

// ---------------------------------------------------------------------------
// 2. Exactly the routes express has

/** "METHOD /express/:path" for every operation in the document. */
function documentedRoutes(d: Doc): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(d.paths)) {
    for (const m of METHODS) if (item[m]) out.push(`${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  return out.sort();
}

function coverageGaps(app: unknown, d: Doc) {
  const { routes, catchAll } = registeredRoutes(app);
  const documented = documentedRoutes(d);
  return {
    routes,
    undocumented: routes.filter((r) => !documented.includes(r)),
    notRouted: documented.filter((r) => !routes.includes(r)),
    // A catch-all (405 for the other methods) guards a path that must itself be documented.
    catchAllOnUndocumentedPath: catchAll.filter((p) => !d.paths[openApiPath(p)]),
  };
}

describe('route coverage', () => {
  it('every route express has is in the document, and every operation in the document is a route', () => {
    const gaps = coverageGaps(gatewayApp(t), doc);
    expect(gaps.routes.length).toBeGreaterThanOrEqual(30);
    expect(gaps.undocumented, 'routes missing from the OpenAPI document: describe them in src/http/openapi.ts').toEqual([]);
    expect(gaps.notRouted, 'operations in the document that no route answers').toEqual([]);
    expect(gaps.catchAllOnUndocumentedPath).toEqual([]);
  });

  it('notices a route added without describing it, wherever it is mounted', () => {
    const app = gatewayApp(t);
    app.get('/api/teams/:teamId/secrets', () => {});
    const r = Router();
    r.delete('/widgets/:id', () => {});
    app.use('/api', r);
    expect(coverageGaps(app, doc).undocumented).toEqual(['DELETE /api/widgets/:id', 'GET /api/teams/:teamId/secrets']);
    // And an operation that no route answers.
    const extra = structuredClone(doc);
    extra.paths['/api/widgets'] = { get: { responses: {} } };
    expect(coverageGaps(gatewayApp(t), extra).notRouted).toEqual(['GET /api/widgets']);
  });

  it('every operation has an operationId, a summary and a tag, and errors from the catalogue only', () => {
    for (const op of OPERATIONS) {
      expect(op.operationId).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary.length).toBeGreaterThan(3);
    }
    expect(new Set(OPERATIONS.map((o) => o.operationId)).size).toBe(OPERATIONS.length);
  });
});

// ---------------------------------------------------------------------------
// 3. Real answers match the document

/** Compiles the document's schemas with ajv (2020-12, formats checked): `at(pointer)` is the validator for the schema there. */
function schemaCompiler(d: Doc) {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  (addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
  // The document's own fields are no JSON Schema keywords: known, and inert.
  ajv.addVocabulary(['openapi', 'jsonSchemaDialect', 'info', 'tags', 'security', 'paths', 'components']);
  const id = 'https://switchboard.invalid/openapi.json';
  ajv.addSchema({ ...d, $id: id });
  const cache = new Map<string, ValidateFunction>();
  const at = (pointer: string[]): ValidateFunction => {
    const fragment = pointer.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
    let v = cache.get(fragment);
    if (!v) cache.set(fragment, (v = ajv.compile({ $ref: `${id}#/${fragment}` })));
    return v;
  };
  return { ajv, at };
}

/** Where the document has schemas: components, parameters, request bodies, responses. */
function schemaPointers(d: Doc): string[][] {
  const out: string[][] = Object.keys(d.components.schemas).map((n) => ['components', 'schemas', n]);
  for (const [name, r] of Object.entries(d.components.responses))
    for (const type of Object.keys(r.content ?? {})) out.push(['components', 'responses', name, 'content', type, 'schema']);
  for (const [path, item] of Object.entries(d.paths)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      (op.parameters ?? []).forEach((_p, i) => out.push(['paths', path, m, 'parameters', String(i), 'schema']));
      for (const type of Object.keys(op.requestBody?.content ?? {})) out.push(['paths', path, m, 'requestBody', 'content', type, 'schema']);
      for (const [status, r] of Object.entries(op.responses)) {
        if ('$ref' in r) continue;
        for (const type of Object.keys(r.content ?? {})) out.push(['paths', path, m, 'responses', status, 'content', type, 'schema']);
      }
    }
  }
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
}

/**
 * Why an answer does not match the document for its route ('' when it does):
 * the status must be documented for the operation, the Content-Type must be
 * the documented one, and the body must validate against its schema (or be
 * empty where none is documented).
 */
function mismatch(d: Doc, method: string, route: string, res: Answer): string {
  const op = d.paths[openApiPath(route)]?.[method.toLowerCase()];
  if (!op) return `${method} ${route} is not in the document`;
  let r = op.responses[String(res.status)];
  if (!r)
    return `${method} ${route} answered ${res.status}, which the document does not list (${Object.keys(op.responses).join(', ')}): ${res.text.slice(0, 200)}`;
  let pointer = ['paths', openApiPath(route), method.toLowerCase(), 'responses', String(res.status)];
  if ('$ref' in r) {
    const name = r.$ref.replace('#/components/responses/', '');
    r = d.components.responses[name]!;
    pointer = ['components', 'responses', name];
  }
  if (!res.headers['x-request-id']) return 'no X-Request-Id';
  if (!r.content) return res.text === '' ? '' : `${res.status} should have no body, got ${res.text.slice(0, 200)}`;
  const got = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!r.content[got]) return `Content-Type ${got}, documented ${Object.keys(r.content).join(', ')}`;
  const v = compiler.at([...pointer, 'content', got, 'schema']);
  const value = got === 'application/json' ? res.body : res.text;
  if (v(value)) return '';
  return `${method} ${route} ${res.status} does not match its schema: ${JSON.stringify(v.errors?.slice(0, 5))}\n${res.text.slice(0, 500)}`;
}

let compiler: ReturnType<typeof schemaCompiler>;
/** "METHOD /route STATUS" of every answer checked. */
const checked = new Set<string>();

interface Req {
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  body?: unknown;
  /** Raw body, with its Content-Type. */
  raw?: { type: string; data: string };
  auth?: Record<string, string> | null;
  headers?: Record<string, string>;
}

/** Sends a request to an express route, checks the answer against the document, and returns it. */
async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', route: string, o: Req = {}): Promise<Answer> {
  let path = route.replace(/:(\w+)/g, (_m, k: string) => encodeURIComponent(o.params?.[k] ?? `missing-${k}`));
  if (o.query) path += '?' + new URLSearchParams(Object.entries(o.query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  let req = t.api[method.toLowerCase() as 'get'](path);
  const auth = o.auth === undefined ? t.admin : o.auth;
  if (auth) req = req.set(auth);
  if (o.headers) req = req.set(o.headers);
  if (o.raw) req = req.set('Content-Type', o.raw.type).send(o.raw.data);
  else if (o.body !== undefined) req = req.send(o.body as object);
  const res = (await req) as unknown as Answer;
  const why = mismatch(doc, method, route, res);
  expect(why, why).toBe('');
  checked.add(`${method} ${route} ${res.status}`);
  return res;
}

describe('real answers match the document', () => {
  beforeAll(() => {
    compiler = schemaCompiler(doc);
  });

  it('the check refuses an answer the document does not describe', () => {
    const team = { id: 't', slug: 's', name: 'n', plan: 'free', numberLimit: 1, numbersHeld: 0, createdAt: '2026-01-01T00:00:00.000Z' };
    const ok = { status: 200, headers: { 'x-request-id': 'r', 'content-type': 'application/json' }, text: '{}', body: { team } };
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', ok)).toBe('');
    // A field the schema lacks, one missing, a wrong enum value, a time that is no time.
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, body: { team: { ...team, secret: 'x' } } })).toMatch(/additional/);
    const { numbersHeld: _n, ...without } = team;
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, body: { team: without } })).toMatch(/numbersHeld/);
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, body: { team: { ...team, plan: 'gold' } } })).toMatch(/allowed values/);
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, body: { team: { ...team, createdAt: 'yesterday' } } })).toMatch(/date-time/);
    // A status, an error code or a Content-Type the document does not list for the route.
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, status: 418 })).toMatch(/does not list/);
    const error = (code: string) => ({ ...ok, status: 404, body: { error: { code, message: 'm' } } });
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', error('NOT_FOUND'))).toBe('');
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', error('SLUG_TAKEN'))).toMatch(/allowed values/);
    expect(mismatch(doc, 'GET', '/api/teams/:teamId', { ...ok, headers: { ...ok.headers, 'content-type': 'text/html' } })).toMatch(/Content-Type/);
    expect(mismatch(doc, 'GET', '/api/widgets', ok)).toMatch(/not in the document/);
  });

  it('through a representative flow, every answer matches, errors included, and every operation is exercised', async () => {
    // Operations.
    await call('GET', '/healthz', { auth: null });
    await call('GET', '/readyz', { auth: null });
    await call('GET', '/metrics', { auth: null });
    await call('GET', '/openapi.json', { auth: null });

    // Who, teams, tokens.
    expect((await call('GET', '/api/me')).body).toMatchObject({ kind: 'admin' });
    const created = await call('POST', '/api/teams', { body: { name: 'Acme', slug: 'acme', plan: 'starter' } });
    const team = { id: created.body.team.id as string, slug: 'acme', auth: bearer(created.body.token) };
    const freeTeam = await call('POST', '/api/teams', { body: { name: 'Trial', slug: 'trial' } });
    const free = { id: freeTeam.body.team.id as string, auth: bearer(freeTeam.body.token) };
    expect((await call('GET', '/api/me', { auth: team.auth })).body).toMatchObject({ kind: 'team', team: { id: team.id } });
    await call('GET', '/api/teams');
    await call('GET', '/api/teams', { auth: team.auth });
    await call('GET', '/api/teams/:teamId', { params: { teamId: team.id }, auth: team.auth });
    await call('PATCH', '/api/teams/:teamId', { params: { teamId: team.id }, body: { plan: 'pro' } });
    const token = await call('POST', '/api/teams/:teamId/tokens', { params: { teamId: team.id }, body: { name: 'ci', expiresIn: 3600 }, auth: team.auth });
    await call('POST', '/api/teams/:teamId/tokens', { params: { teamId: team.id }, auth: team.auth }); // no body at all
    expect((await call('GET', '/api/teams/:teamId/tokens', { params: { teamId: team.id }, auth: team.auth })).body.tokens.length).toBe(3);
    await call('DELETE', '/api/teams/:teamId/tokens/:tokenId', { params: { teamId: team.id, tokenId: token.body.id }, auth: team.auth });

    // Assistants.
    const agent = (await call('POST', '/api/assistants', { body: { name: 'Agent', mediaUrl: 'wss://agent.example.com/stream' }, auth: team.auth })).body
      .assistant.id as string;
    const spare = (await call('POST', '/api/assistants', { body: { teamId: team.id, name: 'Spare', mediaUrl: 'ws://spare.example.com/s' } })).body.assistant
      .id as string;
    await call('GET', '/api/assistants', { query: { teamId: team.id } });
    await call('GET', '/api/assistants', { auth: team.auth });
    await call('GET', '/api/assistants/:assistantId', { params: { assistantId: agent }, auth: team.auth });
    await call('PATCH', '/api/assistants/:assistantId', { params: { assistantId: agent }, body: { name: 'Agent 1' }, auth: team.auth });

    // Providers, search, purchase (with its Idempotency-Key), the listings.
    const providers = (await call('GET', '/api/providers', { auth: team.auth })).body.providers;
    expect(providers.map((p: { name: string }) => p.name)).toEqual(['sim', 'twilio']);
    const found = (await call('POST', '/api/phone-numbers/search', { body: { filters: { countryCode: 'us', areaCode: '415', limit: 5 } }, auth: team.auth }))
      .body.numbers;
    expect(found.length).toBeGreaterThan(1);
    await call('POST', '/api/phone-numbers/search', { body: { filters: { countryCode: 'US', numberType: 'toll-free', prefix: '800' } }, auth: team.auth });
    await call('POST', '/api/phone-numbers/search', { body: { provider: 'twilio', filters: { countryCode: 'US', state: 'CA' } }, auth: team.auth });
    const order = { phoneNumber: found[0].phoneNumber };
    const bought = await call('POST', '/api/phone-numbers/purchase', { body: order, headers: { 'Idempotency-Key': 'buy-1' }, auth: team.auth });
    const replay = await call('POST', '/api/phone-numbers/purchase', { body: order, headers: { 'Idempotency-Key': 'buy-1' }, auth: team.auth });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const numberId = bought.body.phoneNumber.id as string;
    await eventually(
      async () => (await call('GET', '/api/phone-numbers/:id', { params: { id: numberId }, auth: team.auth })).body.phoneNumber.status === 'active',
    );
    await call('PATCH', '/api/assistants/:assistantId/telephony/phone-numbers', {
      params: { assistantId: agent },
      body: { accountSlug: team.slug, phoneNumberIds: [numberId] },
      auth: team.auth,
    });
    await call('GET', '/api/phone-numbers', { query: { teamId: team.id, status: 'active', assistantId: agent }, auth: team.auth });
    await call('GET', '/api/phone-numbers/purchase', { query: { teamId: team.id } });
    const trial = (await call('POST', '/api/phone-numbers/purchase', { body: { phoneNumber: found[1].phoneNumber, teamId: free.id } })).body.phoneNumber;
    expect(trial).toMatchObject({ trial: true, expiresAt: expect.any(String) });

    // Import through the Twilio account, and the drift the reconciler then finds.
    const owned = found[2]?.phoneNumber ?? '+14155550199';
    twilio.addOwned(owned);
    const imported = await call('POST', '/api/phone-numbers/import', { body: { phoneNumber: owned, provider: 'twilio' }, auth: team.auth });
    expect(imported.body.phoneNumber).toMatchObject({ imported: true, provider: 'twilio' });
    twilio.releaseInConsole(owned);
    await t.gw.services.reconciler.run();
    expect((await call('GET', '/api/providers/drift')).body.drift.length).toBeGreaterThan(0);

    // Calls: an inbound one through Twilio's webhook, completed by its status callback, and an outbound caller ID.
    const sid = callSid();
    expect((await twilioVoice(t, voiceParams({ CallSid: sid, To: order.phoneNumber }), { authToken: twilio.authToken })).status).toBe(200);
    await twilioStatus(t, { CallSid: sid, CallStatus: 'completed', CallDuration: '42', SequenceNumber: '3' }, { authToken: twilio.authToken });
    const outbound = await call('POST', '/api/outbound/caller-id', { body: { assistantId: agent, to: '+12125550123' }, auth: team.auth });
    const calls = await call('GET', '/api/calls', { query: { teamId: team.id, limit: 1 }, auth: team.auth });
    expect(calls.body.nextCursor).toEqual(expect.any(String));
    const older = await call('GET', '/api/calls', { query: { cursor: calls.body.nextCursor }, auth: team.auth });
    expect(older.body.calls.length).toBeGreaterThan(0);
    await call('GET', '/api/calls/:callId', { params: { callId: outbound.body.callId }, auth: team.auth });
    const inbound = (await call('GET', '/api/calls', { query: { phoneNumberId: numberId } })).body.calls.find(
      (c: { carrierCallId: string }) => c.carrierCallId === sid,
    );
    expect(inbound).toMatchObject({ direction: 'inbound', durationSec: 42, carrierStatus: 'completed' });

    // Suspend, reactivate, the audit trail, release, delete.
    await call('PATCH', '/api/phone-numbers/:id', { params: { id: numberId }, body: { status: 'suspended' } });
    await call('PATCH', '/api/phone-numbers/:id', { params: { id: numberId }, body: { status: 'active' } });
    const audit = await call('GET', '/api/audit-events', { query: { teamId: team.id, limit: 2 }, auth: team.auth });
    await call('GET', '/api/audit-events', { query: { cursor: audit.body.nextCursor } });
    await call('DELETE', '/api/phone-numbers/:id', { params: { id: numberId }, auth: team.auth });
    await call('DELETE', '/api/assistants/:assistantId', { params: { assistantId: spare }, auth: team.auth });

    // Errors, each with a code the document lists for its route and status.
    const code = async (want: string, a: Promise<Answer>) => expect((await a).body.error.code).toBe(want);
    await code('UNAUTHENTICATED', call('GET', '/api/teams', { auth: null }));
    await code('UNAUTHENTICATED', call('POST', '/api/assistants', { body: { name: 'x' }, auth: bearer('sb_team_nope') }));
    await code('FORBIDDEN', call('POST', '/api/teams', { body: { name: 'X', slug: 'x' }, auth: team.auth }));
    await code('FORBIDDEN', call('GET', '/api/providers/drift', { auth: team.auth }));
    await code('NOT_FOUND', call('GET', '/api/teams/:teamId', { params: { teamId: free.id }, auth: team.auth }));
    await code('NOT_FOUND', call('GET', '/api/assistants/:assistantId', { params: { assistantId: 'nope' }, auth: team.auth }));
    await code('NOT_FOUND', call('GET', '/api/calls/:callId', { params: { callId: 'nope' } }));
    await code('NOT_FOUND', call('DELETE', '/api/teams/:teamId/tokens/:tokenId', { params: { teamId: team.id, tokenId: 'nope' } }));
    await code('NOT_FOUND', call('POST', '/api/phone-numbers/import', { body: { phoneNumber: '+14155550123' }, auth: team.auth }));
    await code('SLUG_TAKEN', call('POST', '/api/teams', { body: { name: 'Acme', slug: 'acme' } }));
    await code('INVALID_REQUEST', call('POST', '/api/phone-numbers/search', { body: { filters: { areaCode: '415' } }, auth: team.auth }));
    await code('INVALID_REQUEST', call('GET', '/api/calls', { query: { limit: 0 }, auth: team.auth }));
    await code('INVALID_REQUEST', call('GET', '/api/audit-events', { query: { cursor: 'not-a-cursor' } }));
    await code('INVALID_REQUEST', call('PATCH', '/api/assistants/:assistantId', { params: { assistantId: agent }, body: {}, auth: team.auth }));
    await code(
      'INVALID_REQUEST',
      call('POST', '/api/phone-numbers/purchase', { body: order, headers: { 'Idempotency-Key': 'k'.repeat(256) }, auth: team.auth }),
    );
    await code('INVALID_JSON', call('POST', '/api/assistants', { raw: { type: 'application/json', data: '{"name":' }, auth: team.auth }));
    await code('UNSUPPORTED_MEDIA_TYPE', call('PATCH', '/api/teams/:teamId', { params: { teamId: team.id }, raw: { type: 'text/plain', data: 'plan=pro' } }));
    await code('PAYLOAD_TOO_LARGE', call('POST', '/api/assistants', { body: { name: 'x'.repeat(70_000) }, auth: team.auth }));
    await code('UNSUPPORTED_COUNTRY', call('POST', '/api/phone-numbers/search', { body: { filters: { countryCode: 'FR' } }, auth: team.auth }));
    await code(
      'PROVIDER_NOT_AVAILABLE',
      call('POST', '/api/phone-numbers/search', { body: { provider: 'telnyx', filters: { countryCode: 'US' } }, auth: team.auth }),
    );
    await code('INVALID_PHONE_NUMBER', call('POST', '/api/phone-numbers/purchase', { body: { phoneNumber: 'call me' }, auth: team.auth }));
    await code('INVALID_PHONE_NUMBER', call('POST', '/api/outbound/caller-id', { body: { assistantId: agent, to: '12' }, auth: team.auth }));
    await code('PLAN_LIMIT_REACHED', call('POST', '/api/phone-numbers/purchase', { body: { phoneNumber: found[3].phoneNumber }, auth: free.auth }));
    await code('NUMBER_UNAVAILABLE', call('POST', '/api/phone-numbers/purchase', { body: { phoneNumber: found[1].phoneNumber }, auth: team.auth }));
    await code(
      'IDEMPOTENCY_CONFLICT',
      call('POST', '/api/phone-numbers/purchase', { body: { phoneNumber: found[3].phoneNumber }, headers: { 'Idempotency-Key': 'buy-1' }, auth: team.auth }),
    );
    await code('INVALID_STATUS_TRANSITION', call('PATCH', '/api/phone-numbers/:id', { params: { id: numberId }, body: { status: 'suspended' } })); // released
    await code(
      'NUMBER_NOT_ACTIVE',
      call('PATCH', '/api/assistants/:assistantId/telephony/phone-numbers', {
        params: { assistantId: agent },
        body: { accountSlug: team.slug, phoneNumberIds: [numberId] },
        auth: team.auth,
      }),
    );
    await code('NO_CALLER_ID', call('POST', '/api/outbound/caller-id', { body: { assistantId: agent, to: '+12125550123' }, auth: team.auth }));
    twilio.fault({ times: 10, action: { kind: 'status', status: 401, code: 20003, message: 'Authenticate' } });
    await code(
      'PROVIDER_AUTH_FAILED',
      call('POST', '/api/phone-numbers/search', { body: { provider: 'twilio', filters: { countryCode: 'US' } }, auth: team.auth }),
    );
    twilio.reset();

    // Every operation's answers that are not errors were seen at least once (readyz's 503 needs a draining gateway).
    const unseen: string[] = [];
    for (const op of OPERATIONS) {
      for (const status of Object.keys(op.responses)) {
        if (op.operationId === 'readiness' && status === '503') continue;
        if (!checked.has(`${op.method.toUpperCase()} ${op.path} ${status}`)) unseen.push(`${op.method.toUpperCase()} ${op.path} ${status}`);
      }
    }
    expect(unseen, 'operations this flow never exercised: add a step').toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// 4. The console's generated types are fresh

describe("the console's API types", () => {
  it('console/src/api/openapi.d.ts is what `npm run openapi` generates now', async () => {
    const fresh = await consoleTypes();
    expect(fresh).toContain('TeamCreateRequest: {');
    const committed = readFileSync(CONSOLE_TYPES, 'utf8');
    expect(committed === fresh, 'console/src/api/openapi.d.ts is stale: run `npm run openapi` and commit it').toBe(true);
  });
});
