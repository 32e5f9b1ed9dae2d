// Text that cannot be stored as sent is refused, not stored or silently
// replaced (hardening issue, item 4): a mediaUrl with a control character
// (NUL, CR, LF, tab, DEL, ...) or a space, and a name (team, assistant, token)
// with an unpaired UTF-16 surrogate or a control character, get 400
// INVALID_REQUEST naming the field, and nothing is created or changed.
//
// Bodies are sent as raw JSON text with the escapes in them (\u0000, \r\n,
// \ud800), exactly as a client would put them on the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAssistant } from '../helpers/carrier.js';
import { createTeam, expectApiError, startGateway, type TestGateway } from '../helpers/gateway.js';

type Team = Awaited<ReturnType<typeof createTeam>>;

let t: TestGateway;
let team: Team;
let assistantId: string;
const GOOD_URL = 'wss://agent.example.com/stream';

beforeAll(async () => {
  t = await startGateway();
  team = await createTeam(t, 'text-val');
  assistantId = await newAssistant(t, team, 'Reception', GOOD_URL);
});
afterAll(async () => {
  await t?.close();
});

/** Sends `json` (JSON text, escapes and all) as the body. */
const raw = (method: 'post' | 'patch', path: string, auth: Record<string, string>, json: string) =>
  t.api[method](path).set(auth).set('Content-Type', 'application/json').send(json);

/** 400 INVALID_REQUEST naming exactly this field, in the message and in details.fields. */
function expectFieldRefused(res: { status: number; body: any; headers: Record<string, string>; text: string }, field: string) {
  expectApiError(res, 400, 'INVALID_REQUEST', { json: true });
  expect(res.body.error.message, res.text).toMatch(new RegExp(`^${field}: `));
  expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).toEqual([field]);
}

/** What the API shows: the team's assistants, every team's slug, the team's tokens. */
const assistants = async () => (await t.api.get('/api/assistants').set(team.auth).expect(200)).body.assistants as Array<{ name: string; mediaUrl: string }>;
const slugs = async () => ((await t.api.get('/api/teams').set(t.admin).expect(200)).body.teams as Array<{ slug: string }>).map((x) => x.slug);
const tokens = async () => (await t.api.get(`/api/teams/${team.id}/tokens`).set(t.admin).expect(200)).body.tokens as unknown[];

// JSON-escaped text pieces (as they appear in the body, backslashes included).
const CONTROL = {
  NUL: '\\u0000',
  CR: '\\r',
  LF: '\\n',
  CRLF: '\\r\\n',
  tab: '\\t',
  DEL: '\\u007f',
  'C1 NEL': '\\u0085',
  ESC: '\\u001b',
} as const;
const LONE = {
  'lone high surrogate': '\\ud800',
  'lone high surrogate at the end': 'x\\udbff',
  'lone low surrogate': '\\udc00',
  'reversed pair': '\\udc00\\ud800',
} as const;

describe('mediaUrl with a control character or a space', () => {
  const cases = Object.entries({ ...CONTROL, space: ' ', ...LONE });

  it.each(cases)('%s in POST /api/assistants → 400 naming mediaUrl, nothing created', async (_what, piece) => {
    const before = await assistants();
    for (const url of [`wss://agent.example.com/str${piece}eam`, `wss://agent.example.com/stream${piece}`, `wss://agent.example.com/s?x=1${piece}Host: evil`]) {
      const res = await raw('post', '/api/assistants', team.auth, `{"teamId":"${team.id}","name":"Bad URL","mediaUrl":"${url}"}`);
      expectFieldRefused(res, 'mediaUrl');
    }
    expect(await assistants()).toEqual(before);
  });

  it.each(cases)('%s in PATCH /api/assistants/:id → 400 naming mediaUrl, the URL unchanged', async (_what, piece) => {
    const res = await raw('patch', `/api/assistants/${assistantId}`, team.auth, `{"mediaUrl":"wss://agent.example.com/other${piece}path"}`);
    expectFieldRefused(res, 'mediaUrl');
    const now = await t.api.get(`/api/assistants/${assistantId}`).set(team.auth).expect(200);
    expect(now.body.assistant.mediaUrl).toBe(GOOD_URL);
  });

  it('a leading or trailing control character is not trimmed away and accepted', async () => {
    for (const url of [
      '\\u0000wss://agent.example.com/s',
      'wss://agent.example.com/s\\u0000',
      '\\twss://agent.example.com/s',
      'wss://agent.example.com/s\\n',
    ]) {
      expectFieldRefused(await raw('post', '/api/assistants', team.auth, `{"name":"Edge","mediaUrl":"${url}"}`), 'mediaUrl');
    }
  });
});

// Inside the text: a name is trimmed first (surrounding spaces, tabs and line
// breaks go, as before the fix), so only what stays in it is judged.
describe('names with an unpaired surrogate or a control character', () => {
  const cases = Object.entries({ ...LONE, NUL: CONTROL.NUL, CRLF: CONTROL.CRLF, DEL: CONTROL.DEL, 'C1 NEL': CONTROL['C1 NEL'] });

  it.each(cases)('%s in a team name → 400 naming name, no team', async (_what, piece) => {
    const slug = `bad-name-${Math.random().toString(36).slice(2, 8)}`;
    const res = await raw('post', '/api/teams', t.admin, `{"name":"Acme ${piece} Inc","slug":"${slug}","plan":"free"}`);
    expectFieldRefused(res, 'name');
    expect(await slugs()).not.toContain(slug);
  });

  it.each(cases)('%s in an assistant name (POST and PATCH) → 400 naming name, nothing stored', async (_what, piece) => {
    const before = await assistants();
    expectFieldRefused(await raw('post', '/api/assistants', team.auth, `{"name":"Agent ${piece} Smith","mediaUrl":"${GOOD_URL}"}`), 'name');
    expect(await assistants()).toEqual(before);
    expectFieldRefused(await raw('patch', `/api/assistants/${assistantId}`, team.auth, `{"name":"Agent ${piece} Smith"}`), 'name');
    expect((await t.api.get(`/api/assistants/${assistantId}`).set(team.auth).expect(200)).body.assistant.name).toBe('Reception');
  });

  it.each(cases)('%s in a token name → 400 naming name, no token made', async (_what, piece) => {
    const before = (await tokens()).length;
    const res = await raw('post', `/api/teams/${team.id}/tokens`, team.auth, `{"name":"ci ${piece} deploy"}`);
    expectFieldRefused(res, 'name');
    expect(res.body.token).toBeUndefined();
    expect(await tokens()).toHaveLength(before);
  });

  it('well-formed text beyond ASCII is kept exactly: a surrogate pair (emoji), accents, CJK', async () => {
    const name = 'Zoë’s 受付 \u{1F600}';
    const json = JSON.stringify(name); // JSON.stringify keeps the pair as the two UTF-16 units, as sent
    const slug = 'well-formed';
    const created = await raw('post', '/api/teams', t.admin, `{"name":${json},"slug":"${slug}"}`);
    expect(created.status, created.text).toBe(201);
    expect(created.body.team.name).toBe(name);
    expect((await t.api.get(`/api/teams/${created.body.team.id}`).set(t.admin).expect(200)).body.team.name).toBe(name);
    // Escaped in the body (\ud83d\ude00), the pair is just as good.
    const a = await raw('post', '/api/assistants', team.auth, `{"name":"Agent \\ud83d\\ude00","mediaUrl":"${GOOD_URL}"}`);
    expect(a.status, a.text).toBe(201);
    expect(a.body.assistant.name).toBe('Agent \u{1F600}');
    const tok = await raw('post', `/api/teams/${team.id}/tokens`, team.auth, `{"name":"ci \\ud83d\\ude00"}`);
    expect(tok.status, tok.text).toBe(201);
    expect(tok.body.name).toBe('ci \u{1F600}');
  });
});
