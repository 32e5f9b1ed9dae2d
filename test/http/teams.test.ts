// Teams, plans and team tokens (api.md sections 1 and 2), through the HTTP API
// on a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableNumbers, bearer, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

const TEAM_KEYS = ['createdAt', 'id', 'name', 'numberLimit', 'numbersHeld', 'plan', 'slug'];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

let t: TestGateway;
beforeAll(async () => {
  t = await startGateway();
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true, messageString: true, messageNonEmpty: true });

async function teamSlugs(): Promise<string[]> {
  const res = await t.api.get('/api/teams').set(t.admin).expect(200);
  return (res.body.teams as Array<{ slug: string }>).map((x) => x.slug);
}

describe('POST /api/teams: who may create teams', () => {
  it('without a token is 401 UNAUTHENTICATED', async () => {
    const res = await t.api.post('/api/teams').send({ name: 'No Auth', slug: 'no-auth' });
    expectError(res, 401, 'UNAUTHENTICATED');
    expect(await teamSlugs()).not.toContain('no-auth');
  });

  it('with an unknown token is 401 UNAUTHENTICATED', async () => {
    const res = await t.api.post('/api/teams').set(bearer('sb_admin_this_token_does_not_exist_0123')).send({ name: 'X', slug: 'unknown-token' });
    expectError(res, 401, 'UNAUTHENTICATED');
    const short = await t.api.post('/api/teams').set(bearer('nope')).send({ name: 'X', slug: 'unknown-token' });
    expectError(short, 401, 'UNAUTHENTICATED');
    const notBearer = await t.api
      .post('/api/teams')
      .set('Authorization', `Basic ${Buffer.from('admin:x').toString('base64')}`)
      .send({ name: 'X', slug: 'unknown-token' });
    expectError(notBearer, 401, 'UNAUTHENTICATED');
    expect(await teamSlugs()).not.toContain('unknown-token');
  });

  it('with a team token is 403 FORBIDDEN and creates nothing', async () => {
    const team = await createTeam(t, 'creator-team');
    const res = await t.api.post('/api/teams').set(team.auth).send({ name: 'Sneaky', slug: 'sneaky' });
    expectError(res, 403, 'FORBIDDEN');
    expect(await teamSlugs()).not.toContain('sneaky');
  });
});

describe('POST /api/teams: response and validation', () => {
  it('answers 201 with exactly { team, token }, and the token works for that team', async () => {
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Acme Inc', slug: 'acme', plan: 'starter' });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['team', 'token']);
    const team = res.body.team;
    expect(Object.keys(team).sort()).toEqual(TEAM_KEYS);
    expect(team).toMatchObject({ slug: 'acme', name: 'Acme Inc', plan: 'starter', numberLimit: 5, numbersHeld: 0 });
    expect(typeof team.id).toBe('string');
    expect(team.id.length).toBeGreaterThan(0);
    expect(team.createdAt).toMatch(ISO);
    expect(typeof res.body.token).toBe('string');
    expect(res.body.token.length).toBeGreaterThanOrEqual(16);

    const own = await t.api.get(`/api/teams/${team.id}`).set(bearer(res.body.token)).expect(200);
    expect(own.body).toEqual({ team });
  });

  it('defaults the plan to free (limit 1)', async () => {
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Defaulted', slug: 'defaulted' }).expect(201);
    expect(res.body.team.plan).toBe('free');
    expect(res.body.team.numberLimit).toBe(1);
  });

  it.each([
    ['free', 1],
    ['starter', 5],
    ['pro', 50],
    ['enterprise', null],
  ])('plan %s has numberLimit %s', async (plan, limit) => {
    const res = await t.api
      .post('/api/teams')
      .set(t.admin)
      .send({ name: plan, slug: `plan-${plan}`, plan })
      .expect(201);
    expect(res.body.team.plan).toBe(plan);
    expect(res.body.team.numberLimit).toBe(limit);
    const got = await t.api.get(`/api/teams/${res.body.team.id}`).set(t.admin).expect(200);
    expect(got.body.team.numberLimit).toBe(limit);
  });

  it.each(['Acme', 'ACME', 'acme corp', ' acme', 'acme_corp', 'acmé', ''])('slug %j is 400 INVALID_REQUEST naming slug', async (slug) => {
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Bad Slug', slug });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bslug\b/);
    expect(await teamSlugs()).not.toContain(slug);
  });

  it('a missing slug, a non-string slug, an unknown plan and a missing name are 400 naming the field', async () => {
    const missing = await t.api.post('/api/teams').set(t.admin).send({ name: 'No slug' });
    expectError(missing, 400, 'INVALID_REQUEST');
    expect(missing.body.error.message).toMatch(/\bslug\b/);

    const numeric = await t.api.post('/api/teams').set(t.admin).send({ name: 'Numeric', slug: 42 });
    expectError(numeric, 400, 'INVALID_REQUEST');
    expect(numeric.body.error.message).toMatch(/\bslug\b/);

    const plan = await t.api.post('/api/teams').set(t.admin).send({ name: 'Gold', slug: 'gold-plan', plan: 'gold' });
    expectError(plan, 400, 'INVALID_REQUEST');
    expect(plan.body.error.message).toMatch(/\bplan\b/);

    const name = await t.api.post('/api/teams').set(t.admin).send({ slug: 'no-name' });
    expectError(name, 400, 'INVALID_REQUEST');
    expect(name.body.error.message).toMatch(/\bname\b/);
    expect(await teamSlugs()).not.toContain('gold-plan');
    expect(await teamSlugs()).not.toContain('no-name');
  });

  it('a lowercase slug with digits and dashes is accepted', async () => {
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Dashes', slug: 'team-42-x' }).expect(201);
    expect(res.body.team.slug).toBe('team-42-x');
  });

  it('a duplicate slug is 409 SLUG_TAKEN and does not create a second team', async () => {
    await t.api.post('/api/teams').set(t.admin).send({ name: 'First', slug: 'dup-slug' }).expect(201);
    const res = await t.api.post('/api/teams').set(t.admin).send({ name: 'Second', slug: 'dup-slug', plan: 'pro' });
    expectError(res, 409, 'SLUG_TAKEN');
    const teams = (await t.api.get('/api/teams').set(t.admin).expect(200)).body.teams as Array<{ slug: string; name: string }>;
    const dups = teams.filter((x) => x.slug === 'dup-slug');
    expect(dups).toHaveLength(1);
    expect(dups[0]!.name).toBe('First');
  });
});

describe('GET /api/teams/:teamId', () => {
  it('a team sees its own team; another team id is 404 NOT_FOUND; the admin sees any', async () => {
    const a = await createTeam(t, 'get-a');
    const b = await createTeam(t, 'get-b');

    const own = await t.api.get(`/api/teams/${a.id}`).set(a.auth).expect(200);
    expect(own.body.team).toMatchObject({ id: a.id, slug: 'get-a' });

    const other = await t.api.get(`/api/teams/${b.id}`).set(a.auth);
    expectError(other, 404, 'NOT_FOUND');
    // The same answer as an id that does not exist at all: existence is not revealed.
    const none = await t.api.get('/api/teams/00000000-0000-0000-0000-000000000000').set(a.auth);
    expectError(none, 404, 'NOT_FOUND');
    expect(other.body.error.message).toBe(none.body.error.message);

    const adminA = await t.api.get(`/api/teams/${a.id}`).set(t.admin).expect(200);
    const adminB = await t.api.get(`/api/teams/${b.id}`).set(t.admin).expect(200);
    expect(adminA.body.team.slug).toBe('get-a');
    expect(adminB.body.team.slug).toBe('get-b');
    expectError(await t.api.get('/api/teams/no-such-team').set(t.admin), 404, 'NOT_FOUND');
  });
});

describe('PATCH /api/teams/:teamId (plan)', () => {
  it('is admin only: a team token gets 403 FORBIDDEN, even for its own team, and the plan stays', async () => {
    const a = await createTeam(t, 'patch-self', 'free');
    const res = await t.api.patch(`/api/teams/${a.id}`).set(a.auth).send({ plan: 'enterprise' });
    expectError(res, 403, 'FORBIDDEN');
    const got = await t.api.get(`/api/teams/${a.id}`).set(t.admin).expect(200);
    expect(got.body.team.plan).toBe('free');
    expect(got.body.team.numberLimit).toBe(1);
  });

  it('an invalid plan is 400 naming plan and changes nothing', async () => {
    const a = await createTeam(t, 'patch-invalid', 'starter');
    for (const plan of ['gold', 'FREE', 5, null]) {
      const res = await t.api.patch(`/api/teams/${a.id}`).set(t.admin).send({ plan });
      expectError(res, 400, 'INVALID_REQUEST');
      expect(res.body.error.message).toMatch(/\bplan\b/);
    }
    const empty = await t.api.patch(`/api/teams/${a.id}`).set(t.admin).send({});
    expectError(empty, 400, 'INVALID_REQUEST');
    expect((await t.api.get(`/api/teams/${a.id}`).set(t.admin)).body.team.plan).toBe('starter');
  });

  it('the admin changes the plan: 200 { team } with the new plan and limit', async () => {
    const a = await createTeam(t, 'patch-ok', 'starter');
    const res = await t.api.patch(`/api/teams/${a.id}`).set(t.admin).send({ plan: 'enterprise' }).expect(200);
    expect(Object.keys(res.body)).toEqual(['team']);
    expect(Object.keys(res.body.team).sort()).toEqual(TEAM_KEYS);
    expect(res.body.team).toMatchObject({ id: a.id, plan: 'enterprise', numberLimit: null });
    const got = await t.api.get(`/api/teams/${a.id}`).set(a.auth).expect(200);
    expect(got.body.team).toMatchObject({ plan: 'enterprise', numberLimit: null });
  });

  it('an unknown team is 404', async () => {
    expectError(await t.api.patch('/api/teams/no-such-team').set(t.admin).send({ plan: 'pro' }), 404, 'NOT_FOUND');
  });

  it('moving free → starter makes the trial number permanent (trial:false, expiresAt:null)', async () => {
    const team = await createTeam(t, 'trial-upgrade', 'free');
    const [e164] = await availableNumbers(t, 'US', 1, { areaCode: '212' });
    const numberId = await buyActive(t, team, e164!);

    const before = (await t.api.get(`/api/phone-numbers/${numberId}`).set(team.auth).expect(200)).body.phoneNumber;
    expect(before.trial).toBe(true);
    expect(before.expiresAt).toMatch(ISO);
    expect(Date.parse(before.expiresAt) - Date.parse(before.createdAt)).toBe(5 * 24 * 3600 * 1000);

    const res = await t.api.patch(`/api/teams/${team.id}`).set(t.admin).send({ plan: 'starter' }).expect(200);
    expect(res.body.team).toMatchObject({ plan: 'starter', numberLimit: 5, numbersHeld: 1 });

    const after = (await t.api.get(`/api/phone-numbers/${numberId}`).set(team.auth).expect(200)).body.phoneNumber;
    expect(after).toMatchObject({ id: numberId, status: 'active', trial: false, expiresAt: null });
  });

  it('moving down below the numbers held is allowed, but no new purchase succeeds', async () => {
    const team = await createTeam(t, 'downgrade', 'starter');
    const [e1, e2, e3] = await availableNumbers(t, 'US', 3, { areaCode: '206' });
    await buyActive(t, team, e1!);
    await buyActive(t, team, e2!);
    const res = await t.api.patch(`/api/teams/${team.id}`).set(t.admin).send({ plan: 'free' }).expect(200);
    expect(res.body.team).toMatchObject({ plan: 'free', numberLimit: 1, numbersHeld: 2 });
    const buy = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e3 });
    expectError(buy, 403, 'PLAN_LIMIT_REACHED');
    const list = await t.api.get('/api/phone-numbers').set(team.auth).expect(200);
    expect(list.body.phoneNumbers.map((n: { phoneNumber: string }) => n.phoneNumber).sort()).toEqual([e1, e2].sort());
  });
});

describe('POST /api/teams/:teamId/tokens', () => {
  it('gives a second, different token that works for the team and only for it', async () => {
    const a = await createTeam(t, 'tokens-a');
    const b = await createTeam(t, 'tokens-b');
    const res = await t.api.post(`/api/teams/${a.id}/tokens`).set(a.auth).expect(201);
    expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'token']);
    expect(res.body.token.startsWith(res.body.prefix)).toBe(true);
    const second = res.body.token as string;
    expect(typeof second).toBe('string');
    expect(second).not.toBe(a.token);

    // Both tokens work.
    await t.api.get(`/api/teams/${a.id}`).set(bearer(second)).expect(200);
    await t.api.get(`/api/teams/${a.id}`).set(a.auth).expect(200);
    // The new token is a team token, not an admin one.
    expectError(await t.api.get(`/api/teams/${b.id}`).set(bearer(second)), 404, 'NOT_FOUND');
    expectError(await t.api.post('/api/teams').set(bearer(second)).send({ name: 'x', slug: 'from-second' }), 403, 'FORBIDDEN');

    // The admin may issue one too.
    const byAdmin = await t.api.post(`/api/teams/${a.id}/tokens`).set(t.admin).expect(201);
    expect(byAdmin.body.token).not.toBe(second);
    await t.api.get(`/api/teams/${a.id}`).set(bearer(byAdmin.body.token)).expect(200);
  });

  it("a team token asking for another team's token is 404 and gets none", async () => {
    const a = await createTeam(t, 'tokens-thief');
    const b = await createTeam(t, 'tokens-victim');
    const res = await t.api.post(`/api/teams/${b.id}/tokens`).set(a.auth);
    expectError(res, 404, 'NOT_FOUND');
    expect(res.body.token).toBeUndefined();
  });

  it('tokens are stored hashed: no api_tokens row contains a plaintext token', async () => {
    const a = await createTeam(t, 'tokens-hashed');
    const second = (await t.api.post(`/api/teams/${a.id}/tokens`).set(a.auth).expect(201)).body.token as string;
    const rows = (await t.sql.all('SELECT * FROM api_tokens')) as Array<Record<string, unknown>>;
    const mine = rows.filter((r) => r.team_id === a.id);
    expect(mine).toHaveLength(2);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(a.token);
    expect(dump).not.toContain(second);
    expect(dump).not.toContain(t.admin.Authorization.slice('Bearer '.length));
    // Nor does anything else in the database file carry them.
    for (const name of (await t.sql.tables()).filter((n) => !n.startsWith('sim_'))) {
      const all = JSON.stringify(await t.sql.all(`SELECT * FROM "${name}"`));
      expect(all, name).not.toContain(a.token);
      expect(all, name).not.toContain(second);
    }
  });
});

describe('GET /api/me', () => {
  it('says who the token is: the admin, or a team with its summary', async () => {
    const admin = await t.api.get('/api/me').set(t.admin).expect(200);
    expect(admin.body).toEqual({ kind: 'admin', tokenId: expect.any(String) });
    const team = await createTeam(t, 'me-team', 'pro');
    const me = await t.api.get('/api/me').set(team.auth).expect(200);
    expect(me.body).toMatchObject({
      kind: 'team',
      tokenId: expect.any(String),
      team: { id: team.id, slug: 'me-team', plan: 'pro', numberLimit: 50, numbersHeld: 0 },
    });
    const tokens = await t.api.get(`/api/teams/${team.id}/tokens`).set(team.auth).expect(200);
    expect(tokens.body.tokens.find((x: { current: boolean }) => x.current).id).toBe(me.body.tokenId);
    expect((await t.api.get('/api/me')).status).toBe(401);
  });
});
