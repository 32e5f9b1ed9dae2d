// Who may do what (api.md section 1): ONE table of every express endpoint ×
// {no token, unknown token, another team's token, own team's token, admin}
// → the status each gets. The tests are generated from the table, and the
// table is checked against the routes the app really registers, so a new
// endpoint cannot be added without deciding who may call it.
//
// "Own team" is team A, which owns every resource a row builds; "another
// team" is team B. Another team's ids are 404 (never 403); an admin-only
// action with any team token is 403 FORBIDDEN.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, newAssistant } from '../helpers/carrier.js';
import { availableNumbers, bearer, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';
import { gatewayApp, registeredRoutes } from '../helpers/routes.js';

type Who = 'none' | 'unknown' | 'otherTeam' | 'ownTeam' | 'admin';
const WHO: Who[] = ['none', 'unknown', 'otherTeam', 'ownTeam', 'admin'];

interface Built {
  path: string;
  body?: unknown;
}

interface Row {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The express route, as registered (':param' names included). */
  route: string;
  /** Builds a fresh request whose resources belong to team A (so destructive rows do not interfere). */
  build: (c: Ctx) => Promise<Built>;
  expect: Record<Who, number>;
}

interface Ctx {
  t: TestGateway;
  a: Awaited<ReturnType<typeof createTeam>>;
  b: Awaited<ReturnType<typeof createTeam>>;
}

// Resource helpers, all in team A.
const freshAssistant = (c: Ctx) => newAssistant(c.t, c.a, `agent-${randomBytes(3).toString('hex')}`);
async function freshActiveNumber(c: Ctx): Promise<string> {
  const [e164] = await availableNumbers(c.t, 'US', 1);
  return buyActive(c.t, c.a, e164!);
}
async function assistantWithNumber(c: Ctx): Promise<string> {
  const id = await freshAssistant(c);
  await assign(c.t, c.a, id, [await freshActiveNumber(c)]);
  return id;
}
async function freshCall(c: Ctx): Promise<string> {
  const res = await c.t.api
    .post('/api/outbound/caller-id')
    .set(c.t.admin)
    .send({ assistantId: await assistantWithNumber(c), to: '+12125550123' });
  if (res.status !== 200) throw new Error(`caller-id: ${res.status} ${res.text}`);
  return res.body.callId as string;
}

//                          none unknown other  own   admin
const PUBLIC = { none: 200, unknown: 200, otherTeam: 200, ownTeam: 200, admin: 200 };
const TEAM_READ = { none: 401, unknown: 401, otherTeam: 404, ownTeam: 200, admin: 200 };
const ANY_TOKEN_READ = { none: 401, unknown: 401, otherTeam: 200, ownTeam: 200, admin: 200 };
const TEAM_READ_404 = { none: 401, unknown: 401, otherTeam: 404, ownTeam: 404, admin: 404 };
const ADMIN_ONLY = (ok: number) => ({ none: 401, unknown: 401, otherTeam: 403, ownTeam: 403, admin: ok });

const TABLE: Row[] = [
  // Operations: no token needed.
  { method: 'GET', route: '/healthz', build: async () => ({ path: '/healthz' }), expect: PUBLIC },
  { method: 'GET', route: '/readyz', build: async () => ({ path: '/readyz' }), expect: PUBLIC },
  { method: 'GET', route: '/metrics', build: async () => ({ path: '/metrics' }), expect: PUBLIC },
  { method: 'GET', route: '/openapi.json', build: async () => ({ path: '/openapi.json' }), expect: PUBLIC },

  { method: 'GET', route: '/api/me', build: async () => ({ path: '/api/me' }), expect: ANY_TOKEN_READ },

  // Teams.
  {
    method: 'POST',
    route: '/api/teams',
    build: async () => ({ path: '/api/teams', body: { name: 'New', slug: `new-${randomBytes(4).toString('hex')}`, plan: 'free' } }),
    expect: ADMIN_ONLY(201),
  },
  { method: 'GET', route: '/api/teams', build: async () => ({ path: '/api/teams' }), expect: ANY_TOKEN_READ },
  { method: 'GET', route: '/api/teams/:teamId', build: async (c) => ({ path: `/api/teams/${c.a.id}` }), expect: TEAM_READ },
  {
    method: 'PATCH',
    route: '/api/teams/:teamId',
    build: async (c) => ({ path: `/api/teams/${c.a.id}`, body: { plan: 'enterprise' } }),
    expect: ADMIN_ONLY(200),
  },
  {
    method: 'POST',
    route: '/api/teams/:teamId/tokens',
    build: async (c) => ({ path: `/api/teams/${c.a.id}/tokens` }),
    expect: { ...TEAM_READ, ownTeam: 201, admin: 201 },
  },
  { method: 'GET', route: '/api/teams/:teamId/tokens', build: async (c) => ({ path: `/api/teams/${c.a.id}/tokens` }), expect: TEAM_READ },
  {
    method: 'DELETE',
    route: '/api/teams/:teamId/tokens/:tokenId',
    build: async (c) => {
      const made = await c.t.api.post(`/api/teams/${c.a.id}/tokens`).set(c.t.admin).send({ name: 'to revoke' });
      if (made.status !== 201) throw new Error(`token: ${made.status} ${made.text}`);
      return { path: `/api/teams/${c.a.id}/tokens/${made.body.id}` };
    },
    expect: { ...TEAM_READ, ownTeam: 204, admin: 204 },
  },

  // Assistants.
  {
    method: 'POST',
    route: '/api/assistants',
    build: async (c) => ({ path: '/api/assistants', body: { teamId: c.a.id, name: 'x', mediaUrl: 'wss://agent.example.com/s' } }),
    expect: { ...TEAM_READ, ownTeam: 201, admin: 201 },
  },
  { method: 'GET', route: '/api/assistants', build: async (c) => ({ path: `/api/assistants?teamId=${c.a.id}` }), expect: TEAM_READ },
  { method: 'GET', route: '/api/assistants/:assistantId', build: async (c) => ({ path: `/api/assistants/${await freshAssistant(c)}` }), expect: TEAM_READ },
  {
    method: 'PATCH',
    route: '/api/assistants/:assistantId',
    build: async (c) => ({ path: `/api/assistants/${await freshAssistant(c)}`, body: { name: 'renamed' } }),
    expect: TEAM_READ,
  },
  {
    method: 'DELETE',
    route: '/api/assistants/:assistantId',
    build: async (c) => ({ path: `/api/assistants/${await freshAssistant(c)}` }),
    expect: { ...TEAM_READ, ownTeam: 204, admin: 204 },
  },
  {
    method: 'PATCH',
    route: '/api/assistants/:assistantId/telephony/phone-numbers',
    build: async (c) => ({
      path: `/api/assistants/${await freshAssistant(c)}/telephony/phone-numbers`,
      body: { accountSlug: c.a.slug, phoneNumberIds: [await freshActiveNumber(c)] },
    }),
    expect: TEAM_READ,
  },

  // Phone numbers.
  { method: 'GET', route: '/api/providers', build: async () => ({ path: '/api/providers' }), expect: ANY_TOKEN_READ },
  { method: 'GET', route: '/api/providers/drift', build: async () => ({ path: '/api/providers/drift' }), expect: ADMIN_ONLY(200) },
  {
    method: 'POST',
    route: '/api/phone-numbers/import',
    // The simulated carrier has no account numbers: a caller allowed to import gets the provider's 404.
    build: async (c) => ({ path: '/api/phone-numbers/import', body: { phoneNumber: '+14155550123', teamId: c.a.id } }),
    expect: TEAM_READ_404,
  },
  {
    method: 'POST',
    route: '/api/phone-numbers/search',
    build: async () => ({ path: '/api/phone-numbers/search', body: { filters: { countryCode: 'US', limit: 1 } } }),
    expect: ANY_TOKEN_READ,
  },
  {
    method: 'POST',
    route: '/api/phone-numbers/purchase',
    build: async (c) => ({ path: '/api/phone-numbers/purchase', body: { phoneNumber: (await availableNumbers(c.t, 'US', 1))[0], teamId: c.a.id } }),
    expect: { ...TEAM_READ, ownTeam: 201, admin: 201 },
  },
  { method: 'GET', route: '/api/phone-numbers/purchase', build: async (c) => ({ path: `/api/phone-numbers/purchase?teamId=${c.a.id}` }), expect: TEAM_READ },
  { method: 'GET', route: '/api/phone-numbers', build: async (c) => ({ path: `/api/phone-numbers?teamId=${c.a.id}&status=active` }), expect: TEAM_READ },
  { method: 'GET', route: '/api/phone-numbers/:id', build: async (c) => ({ path: `/api/phone-numbers/${await freshActiveNumber(c)}` }), expect: TEAM_READ },
  {
    method: 'PATCH',
    route: '/api/phone-numbers/:id',
    build: async (c) => ({ path: `/api/phone-numbers/${await freshActiveNumber(c)}`, body: { status: 'suspended' } }),
    expect: ADMIN_ONLY(200),
  },
  { method: 'DELETE', route: '/api/phone-numbers/:id', build: async (c) => ({ path: `/api/phone-numbers/${await freshActiveNumber(c)}` }), expect: TEAM_READ },

  // Audit, calls, outbound.
  { method: 'GET', route: '/api/audit-events', build: async (c) => ({ path: `/api/audit-events?teamId=${c.a.id}` }), expect: TEAM_READ },
  { method: 'GET', route: '/api/calls', build: async (c) => ({ path: `/api/calls?teamId=${c.a.id}` }), expect: TEAM_READ },
  { method: 'GET', route: '/api/calls/:callId', build: async (c) => ({ path: `/api/calls/${await freshCall(c)}` }), expect: TEAM_READ },
  {
    method: 'POST',
    route: '/api/outbound/caller-id',
    build: async (c) => ({ path: '/api/outbound/caller-id', body: { assistantId: await assistantWithNumber(c), to: '+12125550123' } }),
    expect: TEAM_READ,
  },
];

const EXPECTED_CODE: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };

let t: TestGateway;
let ctx: Ctx;

beforeAll(async () => {
  t = await startGateway();
  const a = await createTeam(t, 'authz-own', 'enterprise');
  const b = await createTeam(t, 'authz-other', 'enterprise');
  ctx = { t, a, b };
});
afterAll(async () => {
  await t?.close();
});

function headersFor(who: Who): Record<string, string> {
  switch (who) {
    case 'none':
      return {};
    case 'unknown':
      return bearer(`sb_team_${randomBytes(24).toString('base64url')}`);
    case 'otherTeam':
      return ctx.b.auth;
    case 'ownTeam':
      return ctx.a.auth;
    case 'admin':
      return t.admin;
  }
}

describe('authorization matrix', () => {
  for (const row of TABLE) {
    for (const who of WHO) {
      const want = row.expect[who];
      it(`${row.method} ${row.route} as ${who} → ${want}`, async () => {
        const { path, body } = await row.build(ctx);
        let req = t.api[row.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete'](path).set(headersFor(who));
        if (body !== undefined) req = req.send(body as object);
        const res = await req;
        expect(res.status, `${row.method} ${path} as ${who}: ${res.text.slice(0, 300)}`).toBe(want);
        if (want >= 400) {
          expect(res.body.error.code).toBe(EXPECTED_CODE[want]);
          // A refused request never leaks the resource it names.
          expect(JSON.stringify(res.body)).not.toContain(ctx.a.slug);
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------
// The table is complete: every route the express app registers is in it.

describe('the matrix covers every endpoint', () => {
  it('every route the app registers has a row, and every row is a registered route', () => {
    const registered = registeredRoutes(gatewayApp(t)).routes;
    expect(registered.length).toBeGreaterThanOrEqual(20);
    const inTable = [...new Set(TABLE.map((r) => `${r.method} ${r.route}`))].sort();
    const missing = registered.filter((r) => !inTable.includes(r));
    const stale = inTable.filter((r) => !registered.includes(r));
    expect(missing, 'routes with no row in the authorization table: add one').toEqual([]);
    expect(stale, 'rows for routes that do not exist').toEqual([]);
  });

  it('the table has no duplicate rows', () => {
    const keys = TABLE.map((r) => `${r.method} ${r.route}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
