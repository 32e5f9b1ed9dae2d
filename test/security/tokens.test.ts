// Team tokens are governed (hardening issue, item 1), through the HTTP API:
//   - GET /api/teams/:id/tokens lists metadata only (never a token), marks the
//     one making the request as `current`;
//   - DELETE /api/teams/:id/tokens/:tokenId revokes, from the very next
//     request, in every process on the database (two gateways, one file);
//   - `expiresIn` (60 s .. 5 years) makes a token expire by itself;
//   - a revoked or expired token gets 401 saying so, without echoing it;
//   - lastUsedAt is filled, written at most once a minute per token;
//   - creating and revoking are audit events;
//   - another team's tokens are 404, to list and to revoke;
//   - at most 25 active tokens a team (409 TOKEN_LIMIT_REACHED), revoked and
//     expired ones not counted, and 25 concurrent creations cannot overshoot;
//   - rate limits apply per team (all its tokens together) as well as per token.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';
import { jsonRequest, simultaneous } from '../helpers/raw-http.js';

type Team = Awaited<ReturnType<typeof createTeam>>;
type Res = { status: number; body: any; text: string };

const MINUTE = 60_000;
const FIVE_YEARS_S = 5 * 365 * 24 * 3600;
const TOKEN_KEYS = ['createdAt', 'current', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix'];

const mint = async (t: TestGateway, team: Team, auth: Record<string, string>, body: unknown = {}) => {
  const res = await t.api
    .post(`/api/teams/${team.id}/tokens`)
    .set(auth)
    .send(body as object);
  expect(res.status, res.text).toBe(201);
  return res.body as { token: string; id: string; name: string | null; prefix: string; createdAt: string; lastUsedAt: string | null; expiresAt: string | null };
};
const list = (t: TestGateway, teamId: string, auth: Record<string, string>) => t.api.get(`/api/teams/${teamId}/tokens`).set(auth);
const revoke = (t: TestGateway, teamId: string, tokenId: string, auth: Record<string, string>) =>
  t.api.delete(`/api/teams/${teamId}/tokens/${tokenId}`).set(auth);
/** Any authenticated read, to see whether a token still works. */
const use = (t: TestGateway, teamId: string, token: string) => t.api.get(`/api/teams/${teamId}`).set(bearer(token));

/** A 401 for a token that once worked: says why, and does not repeat the token (nor its hash). */
function expectRefused(res: Res, token: string, why: RegExp) {
  expectApiError(res, 401, 'UNAUTHENTICATED', { json: true });
  expect(res.body.error.message).toMatch(why);
  expect(res.text).not.toContain(token);
  expect(res.text).not.toContain(token.slice(12)); // not even the secret part
}

// ---------------------------------------------------------------------------

describe('listing, revoking, lastUsedAt, audit, isolation', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let a: Team;
  let b: Team;

  beforeAll(async () => {
    clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
    t = await startGateway({ clock });
    a = await createTeam(t, 'tok-a');
    b = await createTeam(t, 'tok-b');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET lists metadata only (id, name, prefix, createdAt, lastUsedAt, expiresAt, current), never a token', async () => {
    const named = await mint(t, a, a.auth, { name: 'ci deploy' });
    const expiring = await mint(t, a, t.admin, { expiresIn: 3600 });
    const res = await list(t, a.id, a.auth);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body)).toEqual(['tokens']);
    const tokens = res.body.tokens as Array<Record<string, unknown>>;
    expect(tokens).toHaveLength(3);
    for (const row of tokens) expect(Object.keys(row).sort()).toEqual(TOKEN_KEYS);
    // No token in the answer, in any field, nor the stored hash.
    for (const secret of [a.token, named.token, expiring.token]) {
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain(secret.slice(12));
    }
    expect(res.text).not.toMatch(/[0-9a-f]{64}/);
    // The prefix tells them apart and is far too short to use.
    const byId = new Map(tokens.map((r) => [r.id as string, r]));
    expect(byId.get(named.id)).toMatchObject({ name: 'ci deploy', prefix: named.prefix, expiresAt: null, current: false });
    expect(named.token.startsWith(named.prefix)).toBe(true);
    expect(named.prefix.length).toBeLessThanOrEqual(16);
    expect(byId.get(expiring.id)).toMatchObject({ expiresAt: new Date(clock.now() + 3600_000).toISOString(), current: false });
    // `current` marks exactly the token that asked.
    const current = tokens.filter((r) => r.current);
    expect(current).toHaveLength(1);
    expect(a.token.startsWith(current[0]!.prefix as string)).toBe(true);
    const asNamed = (await list(t, a.id, bearer(named.token)).expect(200)).body.tokens as Array<Record<string, unknown>>;
    expect(asNamed.filter((r) => r.current).map((r) => r.id)).toEqual([named.id]);
    // The admin is none of them.
    const asAdmin = (await list(t, a.id, t.admin).expect(200)).body.tokens as Array<Record<string, unknown>>;
    expect(asAdmin.filter((r) => r.current)).toEqual([]);
  });

  it('DELETE revokes from the very next request: 401 saying it was revoked, without the token; gone from the list; twice is fine', async () => {
    const victim = await mint(t, a, a.auth, { name: 'laptop' });
    expect((await use(t, a.id, victim.token)).status).toBe(200);
    const del = await revoke(t, a.id, victim.id, a.auth);
    expect(del.status, del.text).toBe(204);
    expect(del.text).toBe('');
    expectRefused(await use(t, a.id, victim.token), victim.token, /revoked/);
    // On every route, writes included.
    expectRefused(await t.api.post(`/api/teams/${a.id}/tokens`).set(bearer(victim.token)).send({}), victim.token, /revoked/);
    expect(((await list(t, a.id, a.auth).expect(200)).body.tokens as Array<{ id: string }>).map((r) => r.id)).not.toContain(victim.id);
    // Revoking again is not an error (and not a second audit event, below).
    expect((await revoke(t, a.id, victim.id, a.auth)).status).toBe(204);
    // A token may revoke itself; its very next request is refused.
    const self = await mint(t, a, a.auth);
    expect((await revoke(t, a.id, self.id, bearer(self.token))).status).toBe(204);
    expectRefused(await use(t, a.id, self.token), self.token, /revoked/);
    // The team's other tokens are untouched.
    expect((await use(t, a.id, a.token)).status).toBe(200);
  });

  it("another team's token: DELETE is 404 and it keeps working; listing another team's tokens is 404 like a team that does not exist", async () => {
    const theirs = await mint(t, b, b.auth, { name: 'b-only' });
    // Through a's own path (a's token, a's team id, b's token id).
    const viaOwn = await revoke(t, a.id, theirs.id, a.auth);
    expectApiError(viaOwn, 404, 'NOT_FOUND');
    // Through b's path with a's token.
    const viaTheirs = await revoke(t, b.id, theirs.id, a.auth);
    expectApiError(viaTheirs, 404, 'NOT_FOUND');
    // Through a's path with the admin token: the id is still not a's.
    expectApiError(await revoke(t, a.id, theirs.id, t.admin), 404, 'NOT_FOUND');
    expect((await use(t, b.id, theirs.token)).status).toBe(200);
    // An id that never existed answers the same.
    const unknown = await revoke(t, a.id, '00000000-0000-4000-8000-000000000000', a.auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual(viaOwn.body.error);

    const foreign = await list(t, b.id, a.auth);
    const missing = await list(t, 'no-such-team', a.auth);
    expectApiError(foreign, 404, 'NOT_FOUND');
    expect(foreign.text).toBe(missing.text);
    expect(foreign.text).not.toContain(theirs.prefix);
  });

  it('lastUsedAt: null until used, then the time of use, written at most once a minute per token', async () => {
    const tok = await mint(t, a, a.auth, { name: 'usage' });
    expect(tok.lastUsedAt).toBeNull();
    const row = async () =>
      ((await list(t, a.id, t.admin).expect(200)).body.tokens as Array<{ id: string; lastUsedAt: string | null }>).find((r) => r.id === tok.id)!;
    expect((await row()).lastUsedAt).toBeNull();

    clock.advance(5_000);
    const firstUse = clock.now();
    expect((await use(t, a.id, tok.token)).status).toBe(200);
    expect((await row()).lastUsedAt).toBe(new Date(firstUse).toISOString());

    // Used again 30 s later: not written again (at most once a minute).
    clock.advance(30_000);
    expect((await use(t, a.id, tok.token)).status).toBe(200);
    expect((await row()).lastUsedAt).toBe(new Date(firstUse).toISOString());

    // A minute after the last write: written again.
    clock.advance(31_000);
    const later = clock.now();
    expect((await use(t, a.id, tok.token)).status).toBe(200);
    expect((await row()).lastUsedAt).toBe(new Date(later).toISOString());
    expect(later - firstUse).toBeGreaterThanOrEqual(MINUTE);
  });

  it('creating and revoking are audit events (token.create, token.revoke) with who, which token, and no token', async () => {
    const c = await createTeam(t, 'tok-audit');
    clock.advance(1000);
    const made = await mint(t, c, c.auth, { name: 'audited', expiresIn: 600 });
    clock.advance(1000);
    const byAdmin = await mint(t, c, t.admin);
    clock.advance(1000);
    expect((await revoke(t, c.id, made.id, t.admin)).status).toBe(204);
    clock.advance(1000);
    expect((await revoke(t, c.id, made.id, c.auth)).status).toBe(204); // already revoked: no second event
    const res = await t.api.get(`/api/audit-events?teamId=${c.id}`).set(c.auth).expect(200);
    const events = (res.body.events as Array<{ action: string; actor: string; details: Record<string, unknown> }>).filter((e) => e.action.startsWith('token.'));
    expect(events.map((e) => [e.action, e.actor, e.details.tokenId])).toEqual([
      ['token.revoke', 'admin', made.id],
      ['token.create', 'admin', byAdmin.id],
      ['token.create', `team:${c.id}`, made.id],
      // The team's first token, made with the team.
      ['token.create', 'admin', expect.any(String)],
    ]);
    expect(events[3]!.details).toMatchObject({ name: 'default' });
    expect(events[2]!.details).toMatchObject({ name: 'audited', prefix: made.prefix, expiresAt: made.expiresAt });
    for (const secret of [c.token, made.token, byAdmin.token]) expect(res.text).not.toContain(secret);
  });
});

// ---------------------------------------------------------------------------

describe('revocation holds in every process on the database', () => {
  let one: TestGateway;
  let two: TestGateway;

  beforeAll(async () => {
    one = await startGateway({ keepDir: true });
    two = await startGateway({ dbPath: one.dbPath, keepDir: true });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
    if (one) rmSync(one.dir, { recursive: true, force: true });
  });

  it('revoked through one gateway, the next request through the other is 401 (both had used it)', async () => {
    const team = await createTeam(one, 'two-procs');
    const res = await one.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({ name: 'shared' }).expect(201);
    const token = res.body.token as string;
    // Warm both processes with the token (any per-process memory of it is now hot).
    for (let i = 0; i < 3; i++) {
      expect((await use(one, team.id, token)).status).toBe(200);
      expect((await use(two, team.id, token)).status).toBe(200);
    }
    expect((await revoke(one, team.id, res.body.id, team.auth)).status).toBe(204);
    expectRefused(await use(two, team.id, token), token, /revoked/);
    expectRefused(await use(one, team.id, token), token, /revoked/);
    // And the other way round, for a token revoked through the second.
    const other = await two.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({}).expect(201);
    expect((await use(one, team.id, other.body.token)).status).toBe(200);
    expect((await revoke(two, team.id, other.body.id, team.auth)).status).toBe(204);
    expectRefused(await use(one, team.id, other.body.token), other.body.token, /revoked/);
  });
});

// ---------------------------------------------------------------------------

describe('expiresIn', () => {
  let t: TestGateway;
  let clock: ManualClock;
  let team: Team;

  beforeAll(async () => {
    clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
    t = await startGateway({ clock });
    team = await createTeam(t, 'tok-exp');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('works until expiresAt, then 401 saying it expired (without the token), and leaves the list', async () => {
    const tok = await mint(t, team, team.auth, { expiresIn: 3600 });
    const expiresAt = clock.now() + 3600_000;
    expect(tok.expiresAt).toBe(new Date(expiresAt).toISOString());
    clock.advance(3600_000 - 1);
    expect((await use(t, team.id, tok.token)).status).toBe(200);
    clock.advance(1);
    const res = await use(t, team.id, tok.token);
    expectRefused(res, tok.token, /expired/);
    expect(res.body.error.message).toContain(new Date(expiresAt).toISOString());
    expect(((await list(t, team.id, team.auth).expect(200)).body.tokens as Array<{ id: string }>).map((r) => r.id)).not.toContain(tok.id);
    // Revoking an expired token is still possible (and harmless).
    expect((await revoke(t, team.id, tok.id, team.auth)).status).toBe(204);
  });

  it('is whole seconds from 60 to 5 years; anything else is 400 naming expiresIn', async () => {
    for (const expiresIn of [59, 0, -60, FIVE_YEARS_S + 1, 90.5, '3600', null, 1e308]) {
      const res = await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({ expiresIn });
      expectApiError(res, 400, 'INVALID_REQUEST');
      expect(res.body.error.message, JSON.stringify(expiresIn)).toMatch(/^expiresIn: /);
    }
    const min = await mint(t, team, team.auth, { expiresIn: 60 });
    expect(Date.parse(min.expiresAt!) - Date.parse(min.createdAt)).toBe(60_000);
    const max = await mint(t, team, team.auth, { expiresIn: FIVE_YEARS_S });
    expect(Date.parse(max.expiresAt!) - Date.parse(max.createdAt)).toBe(FIVE_YEARS_S * 1000);
    // Without expiresIn, it never expires.
    const forever = await mint(t, team, team.auth);
    expect(forever.expiresAt).toBeNull();
    clock.advance(6 * 365 * 24 * 3600_000);
    expect((await use(t, team.id, forever.token)).status).toBe(200);
    expectRefused(await use(t, team.id, max.token), max.token, /expired/);
  });
});

// ---------------------------------------------------------------------------

describe('at most 25 active tokens a team', () => {
  let t: TestGateway;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
    t = await startGateway({ clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const activeCount = async (teamId: string, now = clock.now()) =>
    Number(
      await t.sql.value('SELECT count(*) FROM api_tokens WHERE team_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)', teamId, now),
    );

  it('the 26th is 409 TOKEN_LIMIT_REACHED saying to revoke one; revoked and expired tokens do not count', async () => {
    const team = await createTeam(t, 'tok-limit'); // holds 1 (its first token)
    const made = [];
    for (let i = 0; i < 24; i++) made.push(await mint(t, team, i % 2 ? team.auth : t.admin, { name: `t${i}` }));
    const res = await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({ name: 'one too many' });
    expectApiError(res, 409, 'TOKEN_LIMIT_REACHED', { json: true });
    expect(res.body.error.message).toMatch(/25/);
    expect(res.body.error.message).toMatch(/revoke/i);
    expect(res.body.token).toBeUndefined();
    // The admin is held to it too.
    expectApiError(await t.api.post(`/api/teams/${team.id}/tokens`).set(t.admin).send({}), 409, 'TOKEN_LIMIT_REACHED');
    expect(await activeCount(team.id)).toBe(25);
    expect((await list(t, team.id, team.auth).expect(200)).body.tokens).toHaveLength(25);

    // Revoke one: room for exactly one more.
    expect((await revoke(t, team.id, made[0]!.id, team.auth)).status).toBe(204);
    await mint(t, team, team.auth, { name: 'replacement' });
    expectApiError(await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({}), 409, 'TOKEN_LIMIT_REACHED');

    // Expired ones free their place once they expire.
    for (const m of made.slice(1, 4)) expect((await revoke(t, team.id, m.id, team.auth)).status).toBe(204);
    const shortLived = [];
    for (let i = 0; i < 3; i++) shortLived.push(await mint(t, team, team.auth, { expiresIn: 60 }));
    expectApiError(await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({}), 409, 'TOKEN_LIMIT_REACHED');
    clock.advance(60_000);
    for (let i = 0; i < 3; i++) await mint(t, team, team.auth);
    expectApiError(await t.api.post(`/api/teams/${team.id}/tokens`).set(team.auth).send({}), 409, 'TOKEN_LIMIT_REACHED');
    expect(await activeCount(team.id)).toBe(25);

    // Another team is not affected by this one's count.
    const other = await createTeam(t, 'tok-limit-other');
    await mint(t, other, other.auth);
  });

  it('25 creations arriving in the same instant on a team holding 1: exactly 24 succeed, one 409, never more than 25 active', async () => {
    const team = await createTeam(t, 'tok-race');
    const port = (await t.gw.listen()).port;
    // Every connection open first, then all 25 requests written at once.
    const results = await simultaneous(
      port,
      Array.from({ length: 25 }, (_, i) => jsonRequest('POST', `/api/teams/${team.id}/tokens`, i % 2 ? team.auth : t.admin, { name: `race-${i}` })),
    );
    const statuses = results.map((r) => r.status);
    expect(
      statuses.filter((s) => s === 201),
      statuses.join(','),
    ).toHaveLength(24);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.status).toBe(409);
    expect(refused[0]!.json.error.code).toBe('TOKEN_LIMIT_REACHED');
    expect(await activeCount(team.id)).toBe(25);
    // Every token handed out works: none was created and then lost.
    for (const r of results.filter((x) => x.status === 201)) expect((await use(t, team.id, r.json.token)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------

describe('rate limits per team, all its tokens together', () => {
  let t: TestGateway;
  let explicit: TestGateway;

  beforeAll(async () => {
    // Per token: burst 20, 2/s. Per team by default twice that: burst 40, 4/s.
    t = await startGateway({ env: { SWITCHBOARD_API_RATE: '2', SWITCHBOARD_API_BURST: '20' } });
    // Explicitly: a team may do 3 at once, 1/s.
    explicit = await startGateway({
      env: { SWITCHBOARD_API_RATE: '100', SWITCHBOARD_API_BURST: '100', SWITCHBOARD_TEAM_API_RATE: '1', SWITCHBOARD_TEAM_API_BURST: '3' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await explicit?.close();
  });

  /** Ten tokens of the team, minted by the admin (whose requests are no team's: the team's budget stays whole). */
  async function tenTokens(g: TestGateway, team: Team): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < 10; i++) out.push((await g.api.post(`/api/teams/${team.id}/tokens`).set(g.admin).send({}).expect(201)).body.token);
    return out;
  }

  it("spreading requests over 10 self-minted tokens is throttled at the team budget (default: twice a token's)", async () => {
    const team = await createTeam(t, 'spread');
    const other = await createTeam(t, 'bystander');
    const started = performance.now();
    // The team mints ten more tokens itself (10 requests of its budget)...
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) tokens.push((await mint(t, team, team.auth, { name: `spread-${i}` })).token);
    // ...and spreads 80 requests over them: 8 a token, well within each token's own burst of 20.
    const results = await Promise.all(Array.from({ length: 80 }, (_, i) => use(t, team.id, tokens[i % 10]!)));
    const elapsed = (performance.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    expect(ok + limited.length).toBe(80);
    // All the team's requests together: its burst (40), plus what 4/s earned meanwhile.
    expect(10 + ok, `${ok} passed in ${elapsed.toFixed(3)} s`).toBeLessThanOrEqual(40 + Math.ceil(elapsed * 4));
    expect(10 + ok).toBeGreaterThanOrEqual(40);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      expectApiError(r, 429, 'RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.body.error.message).toMatch(/team/);
    }
    // Another team, and the admin, are not affected.
    expect((await use(t, other.id, other.token)).status).toBe(200);
    expect((await t.api.get('/api/teams').set(t.admin)).status).toBe(200);
  });

  it('SWITCHBOARD_TEAM_API_RATE / _BURST set the team budget', async () => {
    const team = await createTeam(explicit, 'explicit');
    const tokens = await tenTokens(explicit, team);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await use(explicit, team.id, tokens[i]!)).status);
    // 3 at once, then at most one more per elapsed second (these take far less).
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(4);
    expect(statuses.at(-1)).toBe(429);
  });
});
