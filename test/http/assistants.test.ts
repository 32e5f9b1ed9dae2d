// Assistants CRUD (api.md section 2) and team isolation, through the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableNumbers, buyActive, createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let a: Team;
let b: Team;

beforeAll(async () => {
  t = await startGateway();
  a = await createTeam(t, 'asst-a', 'starter');
  b = await createTeam(t, 'asst-b', 'starter');
});
afterAll(async () => {
  await t?.close();
});

const expectError = (res: { status: number; body: any; headers: Record<string, string> }, status: number, code: string) =>
  expectApiError(res, status, code, { json: true, messageString: true });

async function createAssistant(team: Team, name = 'Agent', mediaUrl = 'wss://agent.example.com/stream') {
  const res = await t.api.post('/api/assistants').set(team.auth).send({ name, mediaUrl }).expect(201);
  return res.body.assistant as { id: string; teamId: string; name: string; mediaUrl: string; phoneNumberIds: string[] };
}

describe('POST /api/assistants', () => {
  it('a team token may omit teamId: 201 { assistant } in its own team, with phoneNumberIds', async () => {
    const res = await t.api.post('/api/assistants').set(a.auth).send({ name: 'Front desk', mediaUrl: 'wss://agent.example.com/stream' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['assistant']);
    const asst = res.body.assistant;
    expect(asst).toMatchObject({ teamId: a.id, name: 'Front desk', mediaUrl: 'wss://agent.example.com/stream', phoneNumberIds: [] });
    expect(typeof asst.id).toBe('string');
    expect(asst.createdAt).toMatch(ISO);
    for (const k of ['id', 'teamId', 'name', 'mediaUrl', 'phoneNumberIds', 'createdAt']) expect(asst).toHaveProperty(k);
    const got = await t.api.get(`/api/assistants/${asst.id}`).set(a.auth).expect(200);
    expect(got.body).toEqual({ assistant: asst });
  });

  it('accepts ws:// as well as wss://', async () => {
    const res = await t.api.post('/api/assistants').set(a.auth).send({ name: 'Local', mediaUrl: 'ws://localhost:9000/media' }).expect(201);
    expect(res.body.assistant.mediaUrl).toBe('ws://localhost:9000/media');
  });

  it.each(['https://x', 'http://agent.example.com/stream', 'not a url', 'wss://', 'ftp://agent.example.com', ''])(
    'mediaUrl %j is 400 INVALID_REQUEST naming mediaUrl',
    async (mediaUrl) => {
      const before = (await t.api.get('/api/assistants').set(a.auth).expect(200)).body.assistants.length;
      const res = await t.api.post('/api/assistants').set(a.auth).send({ name: 'Bad URL', mediaUrl });
      expectError(res, 400, 'INVALID_REQUEST');
      expect(res.body.error.message).toMatch(/\bmediaUrl\b/);
      const after = (await t.api.get('/api/assistants').set(a.auth).expect(200)).body.assistants.length;
      expect(after).toBe(before);
    },
  );

  it('a missing mediaUrl or name is 400 naming it', async () => {
    const noUrl = await t.api.post('/api/assistants').set(a.auth).send({ name: 'No URL' });
    expectError(noUrl, 400, 'INVALID_REQUEST');
    expect(noUrl.body.error.message).toMatch(/\bmediaUrl\b/);
    const noName = await t.api.post('/api/assistants').set(a.auth).send({ mediaUrl: 'wss://a.example.com' });
    expectError(noName, 400, 'INVALID_REQUEST');
    expect(noName.body.error.message).toMatch(/\bname\b/);
  });

  it('the admin must give teamId (400 naming teamId), and may create in any team', async () => {
    const res = await t.api.post('/api/assistants').set(t.admin).send({ name: 'Orphan', mediaUrl: 'wss://agent.example.com/stream' });
    expectError(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.message).toMatch(/\bteamId\b/);

    const ok = await t.api
      .post('/api/assistants')
      .set(t.admin)
      .send({ teamId: b.id, name: 'By admin', mediaUrl: 'wss://agent.example.com/stream' })
      .expect(201);
    expect(ok.body.assistant.teamId).toBe(b.id);

    expectError(
      await t.api.post('/api/assistants').set(t.admin).send({ teamId: 'no-such-team', name: 'X', mediaUrl: 'wss://a.example.com' }),
      404,
      'NOT_FOUND',
    );
  });

  it("a team token naming another team's teamId is 404 and creates nothing there", async () => {
    const before = (await t.api.get(`/api/assistants?teamId=${b.id}`).set(t.admin).expect(200)).body.assistants.length;
    const res = await t.api.post('/api/assistants').set(a.auth).send({ teamId: b.id, name: 'Intruder', mediaUrl: 'wss://agent.example.com/stream' });
    expectError(res, 404, 'NOT_FOUND');
    const after = (await t.api.get(`/api/assistants?teamId=${b.id}`).set(t.admin).expect(200)).body.assistants;
    expect(after.length).toBe(before);
    expect(after.map((x: { name: string }) => x.name)).not.toContain('Intruder');
  });
});

describe('GET /api/assistants', () => {
  it('lists only the caller team; ?teamId= of its own team works; another team is 404', async () => {
    const team = await createTeam(t, 'list-a');
    const other = await createTeam(t, 'list-b');
    const x1 = await createAssistant(team, 'x1');
    const x2 = await createAssistant(team, 'x2');
    const y1 = await createAssistant(other, 'y1');

    const mine = await t.api.get('/api/assistants').set(team.auth).expect(200);
    expect(Object.keys(mine.body)).toEqual(['assistants']);
    expect(mine.body.assistants.map((x: { id: string }) => x.id).sort()).toEqual([x1.id, x2.id].sort());
    for (const asst of mine.body.assistants) expect(asst.phoneNumberIds).toEqual([]);

    const explicit = await t.api.get(`/api/assistants?teamId=${team.id}`).set(team.auth).expect(200);
    expect(explicit.body.assistants.map((x: { id: string }) => x.id).sort()).toEqual([x1.id, x2.id].sort());

    expectError(await t.api.get(`/api/assistants?teamId=${other.id}`).set(team.auth), 404, 'NOT_FOUND');

    const admin = await t.api.get(`/api/assistants?teamId=${other.id}`).set(t.admin).expect(200);
    expect(admin.body.assistants.map((x: { id: string }) => x.id)).toEqual([y1.id]);
  });
});

describe("another team's assistant", () => {
  it('get, patch and delete are 404 NOT_FOUND and change nothing', async () => {
    const theirs = await createAssistant(b, 'Theirs', 'wss://b.example.com/stream');

    expectError(await t.api.get(`/api/assistants/${theirs.id}`).set(a.auth), 404, 'NOT_FOUND');
    expectError(await t.api.patch(`/api/assistants/${theirs.id}`).set(a.auth).send({ name: 'Hijacked' }), 404, 'NOT_FOUND');
    expectError(await t.api.delete(`/api/assistants/${theirs.id}`).set(a.auth), 404, 'NOT_FOUND');

    const still = await t.api.get(`/api/assistants/${theirs.id}`).set(b.auth).expect(200);
    expect(still.body.assistant).toMatchObject({ id: theirs.id, name: 'Theirs', mediaUrl: 'wss://b.example.com/stream' });
  });

  it('is indistinguishable from an id that does not exist', async () => {
    const theirs = await createAssistant(b, 'Hidden');
    const other = await t.api.get(`/api/assistants/${theirs.id}`).set(a.auth);
    const none = await t.api.get('/api/assistants/00000000-0000-0000-0000-000000000000').set(a.auth);
    expectError(other, 404, 'NOT_FOUND');
    expectError(none, 404, 'NOT_FOUND');
    expect(other.body).toEqual(none.body);
  });
});

describe('PATCH /api/assistants/:id', () => {
  it('changes name and mediaUrl', async () => {
    const asst = await createAssistant(a, 'Before', 'wss://before.example.com');
    const res = await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({ name: 'After' }).expect(200);
    expect(res.body.assistant).toMatchObject({ id: asst.id, name: 'After', mediaUrl: 'wss://before.example.com', teamId: a.id });
    const res2 = await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({ mediaUrl: 'ws://after.example.com/m' }).expect(200);
    expect(res2.body.assistant).toMatchObject({ name: 'After', mediaUrl: 'ws://after.example.com/m' });
    const got = await t.api.get(`/api/assistants/${asst.id}`).set(a.auth).expect(200);
    expect(got.body.assistant).toMatchObject({ name: 'After', mediaUrl: 'ws://after.example.com/m' });
  });

  it('rejects a bad mediaUrl, an empty patch and unknown fields with 400, and changes nothing', async () => {
    const asst = await createAssistant(a, 'Stable', 'wss://stable.example.com');
    const bad = await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({ mediaUrl: 'https://x' });
    expectError(bad, 400, 'INVALID_REQUEST');
    expect(bad.body.error.message).toMatch(/\bmediaUrl\b/);
    expectError(await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({}), 400, 'INVALID_REQUEST');
    const teamMove = await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({ teamId: b.id });
    expectError(teamMove, 400, 'INVALID_REQUEST');
    expect(teamMove.body.error.message).toMatch(/teamId/);
    const got = await t.api.get(`/api/assistants/${asst.id}`).set(a.auth).expect(200);
    expect(got.body.assistant).toMatchObject({ name: 'Stable', mediaUrl: 'wss://stable.example.com', teamId: a.id });
  });
});

describe('DELETE /api/assistants/:id', () => {
  it('is 204 with no body, then the assistant is 404 everywhere', async () => {
    const asst = await createAssistant(a, 'Doomed');
    const res = await t.api.delete(`/api/assistants/${asst.id}`).set(a.auth);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectError(await t.api.get(`/api/assistants/${asst.id}`).set(a.auth), 404, 'NOT_FOUND');
    expectError(await t.api.get(`/api/assistants/${asst.id}`).set(t.admin), 404, 'NOT_FOUND');
    expectError(await t.api.delete(`/api/assistants/${asst.id}`).set(a.auth), 404, 'NOT_FOUND');
    expectError(await t.api.patch(`/api/assistants/${asst.id}`).set(a.auth).send({ name: 'Zombie' }), 404, 'NOT_FOUND');
    const list = await t.api.get('/api/assistants').set(a.auth).expect(200);
    expect(list.body.assistants.map((x: { id: string }) => x.id)).not.toContain(asst.id);
  });

  it('unassigns its numbers: assistantId becomes null, status stays active', async () => {
    const team = await createTeam(t, 'del-numbers', 'starter');
    const [e1, e2] = await availableNumbers(t, 'US', 2, { areaCode: '312' });
    const n1 = await buyActive(t, team, e1!);
    const n2 = await buyActive(t, team, e2!);
    const asst = await createAssistant(team, 'Has numbers');
    const keeper = await createAssistant(team, 'Keeper');

    const assigned = await t.api
      .patch(`/api/assistants/${asst.id}/telephony/phone-numbers`)
      .set(team.auth)
      .send({ accountSlug: team.slug, phoneNumberIds: [n1] })
      .expect(200);
    expect(assigned.body.assistant.phoneNumberIds).toEqual([n1]);
    await t.api
      .patch(`/api/assistants/${keeper.id}/telephony/phone-numbers`)
      .set(team.auth)
      .send({ accountSlug: team.slug, phoneNumberIds: [n2] })
      .expect(200);
    expect((await t.api.get(`/api/assistants/${asst.id}`).set(team.auth)).body.assistant.phoneNumberIds).toEqual([n1]);

    await t.api.delete(`/api/assistants/${asst.id}`).set(team.auth).expect(204);

    const num = (await t.api.get(`/api/phone-numbers/${n1}`).set(team.auth).expect(200)).body.phoneNumber;
    expect(num).toMatchObject({ id: n1, assistantId: null, status: 'active' });
    // The other assistant's number is untouched.
    const other = (await t.api.get(`/api/phone-numbers/${n2}`).set(team.auth).expect(200)).body.phoneNumber;
    expect(other).toMatchObject({ assistantId: keeper.id, status: 'active' });
    expect((await t.api.get(`/api/assistants/${keeper.id}`).set(team.auth)).body.assistant.phoneNumberIds).toEqual([n2]);

    // The freed number can be assigned again.
    const again = await t.api
      .patch(`/api/assistants/${keeper.id}/telephony/phone-numbers`)
      .set(team.auth)
      .send({ accountSlug: team.slug, phoneNumberIds: [n1, n2] })
      .expect(200);
    expect([...again.body.assistant.phoneNumberIds].sort()).toEqual([n1, n2].sort());
  });
});
