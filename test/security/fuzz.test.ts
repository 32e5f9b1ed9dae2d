// Hostile and broken input (issue 5): property tests over every JSON endpoint
// and every carrier endpoint, over real sockets. Whatever a client sends (any
// JSON, any bytes, invalid UTF-8, odd content types and encodings, huge
// headers, 10,000 levels of nesting, repeated form keys, phone numbers in
// every odd shape, prototype property names), the gateway:
//   - never answers 5xx,
//   - never dies (GET /healthz is still 200 after every run),
//   - answers every error as { error: { code, message, details? } } with a
//     code from the catalogue (src/errors.ts) whose status is the one sent.
// Fixed seed, printed, so a failure can be replayed.
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genericSignature } from '../../src/carriers/generic/index.js';
import { ERRORS } from '../../src/errors.js';
import {
  CARRIER_ENV,
  GENERIC_SECRET,
  TWILIO_TOKEN,
  assign,
  callSid,
  newAssistant,
  twilioSignature,
  twilioVoice,
  voiceParams,
  type Params,
} from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway, type TestGateway } from '../helpers/gateway.js';

const SEED = 0x5b0a2d;
const RUNS = 120;
console.log(`fuzz: fast-check seed ${SEED}, ${RUNS} runs per endpoint (replay with this seed)`);

let t: TestGateway;
let port: number;
let team: Awaited<ReturnType<typeof createTeam>>;
let assistantId: string;
let numberId: string;
let callId: string;
let knownSid: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  t = await startGateway({ env: { ...CARRIER_ENV } });
  const addr = await t.gw.listen();
  port = addr.port;
  team = await createTeam(t, 'fuzz-team', 'enterprise');
  assistantId = await newAssistant(t, team, 'fuzz-agent');
  const [e164] = await availableNumbers(t, 'US', 1);
  numberId = await buyActive(t, team, e164!);
  await assign(t, team, assistantId, [numberId]);
  knownSid = callSid();
  const res = await twilioVoice(t, voiceParams({ CallSid: knownSid, To: e164! }));
  expect(res.status).toBe(200);
  callId = /name="callId" value="([^"]+)"/.exec(res.text)![1]!;
});
afterAll(async () => {
  agent.destroy();
  await t?.close();
});

// ---------------------------------------------------------------------------
// A raw client: exact bytes out, status + headers + text back.

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The property: never 5xx; every error is the catalogue's shape with a catalogue code and its status. */
function checkAnswer(res: Res, what: string): void {
  const ctx = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, ctx).toBeLessThan(500);
  if (res.status < 400) return;
  expect(res.headers['content-type'], ctx).toMatch(/^application\/json/);
  let body: any;
  expect(() => (body = JSON.parse(res.text)), ctx).not.toThrow();
  expect(Object.keys(body), ctx).toEqual(['error']);
  const e = body.error;
  expect(typeof e.code, ctx).toBe('string');
  expect(typeof e.message, ctx).toBe('string');
  expect(e.message.length, ctx).toBeGreaterThan(0);
  for (const k of Object.keys(e)) expect(['code', 'message', 'details'], ctx).toContain(k);
  expect(Object.hasOwn(ERRORS, e.code), ctx).toBe(true);
  expect(ERRORS[e.code as keyof typeof ERRORS].status, ctx).toBe(res.status);
}

async function alive(): Promise<void> {
  const res = await send('GET', '/healthz', {});
  expect(res.status).toBe(200);
}

// ---------------------------------------------------------------------------
// Arbitraries.

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype', 'isPrototypeOf', '__defineGetter__'];

/** Phone numbers written every odd way: digits, +, spaces, parens, dashes, dots, schemes, unicode digits. */
const phoneish: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...'0123456789') },
      fc.constantFrom('+', ' ', '(', ')', '-', '.', '/', '\u00a0', '\t', 'x', '#', '*', ',', ';', '@'),
      fc.constantFrom('tel:', 'sip:', 'sips:', 'TEL:', '@gw.example.com', ';user=phone', '00', '+1', '+41', '+971', '+49 ', '+1 (415) '),
      // Arabic-Indic, Eastern Arabic, fullwidth, Devanagari, mathematical digits
      fc.constantFrom('٠', '٣', '۵', '０', '９', '४', '𝟙', '¹', '½'),
    ),
    { minLength: 0, maxLength: 30 },
  )
  .map((parts) => parts.join(''));

const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(...PROTO_NAMES),
  phoneish,
  fc.constantFrom(
    '',
    ' ',
    'US',
    'us',
    'local',
    'toll-free',
    'tollFree',
    'free',
    'starter',
    'active',
    'suspended',
    'completed',
    'ws://x',
    'wss://agent.example.com/s',
    'null',
    '\u0000',
    '\ud800',
    'ℌ'.repeat(100),
  ),
  fc.string({ minLength: 100, maxLength: 3000 }),
);

/** Any value that could sit in a JSON field. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, 20, 21, 1000),
  fc.array(nastyString, { maxLength: 5 }),
);

/** An object with (mostly) the endpoint's own keys, with any values, sometimes an extra key. */
function nearValid(keys: string[], fixed: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const k of keys) rec[k] = fixed[k] ? fc.oneof({ weight: 3, arbitrary: fixed[k]! }, anyValue) : anyValue;
  return fc
    .tuple(fc.record(rec, { requiredKeys: [] }), fc.option(fc.tuple(fc.oneof(nastyString, fc.constantFrom(...PROTO_NAMES)), anyValue), { freq: 4 }))
    .map(([o, extra]) => {
      const out: Record<string, unknown> = { ...o };
      if (extra) Object.defineProperty(out, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      return out;
    });
}

const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);

/** Bodies that are not JSON values built by fast-check: huge, nested, truncated, not UTF-8. */
const hostileRaw: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .constantFrom(
      deep(10_000, '[', ']'),
      '['.repeat(10_000),
      deep(10_000, '{"a":', '}'),
      deep(6_000, '{"phoneNumber":', '}'),
      deep(6_000, '{"filters":', '}'),
      deep(30_000, '[', ']'),
      '{"a":' + '"' + 'x'.repeat(70_000) + '"}',
      '[' + '1,'.repeat(20_000) + '1]',
      '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
      '{"phoneNumber":"+14155550100","phoneNumber":"+14155550101"}',
      '',
      ' ',
      'null',
      '"str"',
      '1e999999',
      '-',
      '{"a":1}garbage',
      '\ufeff{"a":1}',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
    )
    .map((s) => Buffer.from(s, 'utf8')),
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  // Invalid UTF-8 sequences spliced into JSON text.
  fc
    .tuple(
      fc.json(),
      fc.constantFrom([0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28], [0xff], [0xfe, 0xff], [0xed, 0xa0, 0x80]),
      fc.nat(),
    )
    .map(([j, bad, at]) => {
      const b = Buffer.from(j, 'utf8');
      const i = b.length ? at % b.length : 0;
      return Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]);
    }),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'latin1')),
);

const jsonBody = (v: fc.Arbitrary<unknown>): fc.Arbitrary<Buffer> =>
  v.map((x) => Buffer.from(typeof x === 'string' ? x : (JSON.stringify(x) ?? 'undefined'), 'utf8'));

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=koi8-r',
  'application/json; charset="utf-8"; foo=bar',
  'application/json;;;',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'text/xml',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  'json',
  '',
];

/** Header values Node's client will send: visible ASCII, spaces, latin-1; up to 8 KiB (Node's server limit is 16 KiB in all). */
const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.string({ unit: fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.integer({ min: 1000, max: 8000 }).map((n) => 'A'.repeat(n)),
  fc.constantFrom('', ' ', ',', 'gzip', 'deflate', 'br', 'identity', 'compress', 'x-gzip', 'gzip, deflate', 'chunked'),
);

const tokenChars = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-_0123456789'), minLength: 1, maxLength: 20 });

interface Extras {
  contentType: string | null;
  encoding: string | null;
  auth: 'admin' | 'team' | 'random';
  randomAuth: string;
  extra: Array<[string, string]>;
}

const extras: fc.Arbitrary<Extras> = fc.record({
  contentType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, fc.constantFrom(...CONTENT_TYPES), headerValue, fc.constant(null)),
  encoding: fc.option(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x-gzip', 'gzip, gzip', 'zstd', 'UTF-8'), { freq: 8 }),
  auth: fc.oneof(
    { weight: 6, arbitrary: fc.constant('admin' as const) },
    { weight: 3, arbitrary: fc.constant('team' as const) },
    fc.constant('random' as const),
  ),
  randomAuth: fc.oneof(
    headerValue,
    headerValue.map((v) => `Bearer ${v}`),
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'bearer sb_admin_test_0123456789abcdef',
      'Basic YWRtaW46YWRtaW4=',
      'Bearer a b',
      'Bearer\tsb_admin_test_0123456789abcdef',
    ),
  ),
  extra: fc.array(
    fc.tuple(
      fc.oneof(
        tokenChars.map((s) => `x-${s}`),
        fc.constantFrom(
          'x-request-id',
          'idempotency-key',
          'accept',
          'accept-charset',
          'x-forwarded-for',
          'x-forwarded-proto',
          'host',
          'x-twilio-signature',
          'x-switchboard-signature',
          'origin',
          'cookie',
        ),
      ),
      headerValue,
    ),
    { maxLength: 3 },
  ),
});

function headersFor(x: Extras): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of x.extra) h[k] = v;
  if (x.contentType !== null) h['Content-Type'] = x.contentType;
  if (x.encoding !== null) h['Content-Encoding'] = x.encoding;
  if (x.auth === 'admin') h.Authorization = t.admin.Authorization;
  else if (x.auth === 'team') h.Authorization = team.auth.Authorization!;
  else h.Authorization = x.randomAuth;
  return h;
}

/** A path segment: a real id most of the time, else anything, percent-encoded or raw-broken. */
const segment = (real: () => string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(null).map(() => real()) },
    nastyString.filter((s) => s.length > 0).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))),
    fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%C0%AF', '%00', '..', '%2e%2e', 'a%2Fb', '__proto__', 'constructor', 'x'.repeat(3000)),
  );

const QUERY_KEYS = ['teamId', 'status', 'assistantId', 'phoneNumberId', 'limit', 'cursor', '__proto__', 'constructor', 'teamId[]', 'teamId[a]'];
const queryString: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, nastyString),
      fc.oneof(
        nastyString,
        fc.constantFrom(
          '0',
          '-1',
          '201',
          '1e3',
          '50.5',
          'NaN',
          'Infinity',
          'active',
          'completed',
          Buffer.from('99999999999999999:x').toString('base64url'),
          Buffer.from('1:' + 'x'.repeat(200)).toString('base64url'),
        ),
        fc.constant(null).map(() => team.id),
      ),
    ),
    { maxLength: 6 },
  )
  .chain((pairs) =>
    fc.constantFrom(
      pairs.map(([k, v]) => `${encodeURIComponent(k.replace(/[\ud800-\udfff]/g, 'x'))}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, 'x'))}`).join('&'),
      pairs.map(([k]) => `${encodeURIComponent(k.replace(/[\ud800-\udfff]/g, 'x'))}=%E0%A4%A&x=%`).join('&'),
    ),
  )
  .map((q) => (q ? `?${q}` : ''));

// ---------------------------------------------------------------------------
// The JSON endpoints, each with bodies near its own shape.

interface JsonEndpoint {
  method: string;
  name: string;
  path: fc.Arbitrary<string>;
  /** Near-valid bodies; undefined = no body (GET/DELETE). */
  body?: fc.Arbitrary<unknown>;
}

const teamSeg = segment(() => team.id);
const asstSeg = segment(() => assistantId);
const numSeg = segment(() => numberId);
const callSeg = segment(() => callId);

const JSON_ENDPOINTS: JsonEndpoint[] = [
  {
    method: 'POST',
    name: '/api/teams',
    path: fc.constant('/api/teams'),
    body: nearValid(['name', 'slug', 'plan'], { plan: fc.constantFrom('free', 'starter', 'pro', 'enterprise'), slug: tokenChars }),
  },
  { method: 'GET', name: '/api/teams', path: queryString.map((q) => `/api/teams${q}`) },
  { method: 'GET', name: '/api/teams/:id', path: teamSeg.map((s) => `/api/teams/${s}`) },
  {
    method: 'PATCH',
    name: '/api/teams/:id',
    path: teamSeg.map((s) => `/api/teams/${s}`),
    body: nearValid(['plan'], { plan: fc.constantFrom('free', 'starter', 'pro', 'enterprise') }),
  },
  { method: 'POST', name: '/api/teams/:id/tokens', path: teamSeg.map((s) => `/api/teams/${s}/tokens`), body: anyValue },
  {
    method: 'POST',
    name: '/api/assistants',
    path: fc.constant('/api/assistants'),
    body: nearValid(['teamId', 'name', 'mediaUrl'], { teamId: fc.constant(null).map(() => team.id) }),
  },
  { method: 'GET', name: '/api/assistants', path: queryString.map((q) => `/api/assistants${q}`) },
  { method: 'GET', name: '/api/assistants/:id', path: asstSeg.map((s) => `/api/assistants/${s}`) },
  { method: 'PATCH', name: '/api/assistants/:id', path: asstSeg.map((s) => `/api/assistants/${s}`), body: nearValid(['name', 'mediaUrl']) },
  {
    method: 'PATCH',
    name: '/api/assistants/:id/telephony/phone-numbers',
    path: asstSeg.map((s) => `/api/assistants/${s}/telephony/phone-numbers`),
    body: nearValid(['accountSlug', 'phoneNumberIds'], {
      accountSlug: fc.constant('fuzz-team'),
      phoneNumberIds: fc.array(
        fc.oneof(
          nastyString,
          fc.constant(null).map(() => numberId),
        ),
        { maxLength: 4 },
      ),
    }),
  },
  {
    method: 'POST',
    name: '/api/phone-numbers/search',
    path: fc.constant('/api/phone-numbers/search'),
    body: fc.oneof(
      nearValid(['filters']),
      nearValid(['countryCode', 'numberType', 'areaCode', 'state', 'city', 'prefix', 'limit'], {
        countryCode: fc.constantFrom('US', 'ca', 'DE', 'AT', 'CH', 'AE', 'GB'),
        numberType: fc.constantFrom('local', 'toll-free', 'tollFree', 'toll_free', ...PROTO_NAMES),
        areaCode: phoneish,
        prefix: phoneish,
        limit: fc.integer({ min: -5, max: 50 }),
      }).map((filters) => ({ filters })),
    ),
  },
  {
    method: 'POST',
    name: '/api/phone-numbers/purchase',
    path: fc.constant('/api/phone-numbers/purchase'),
    body: nearValid(['phoneNumber', 'teamId'], { phoneNumber: phoneish, teamId: fc.constant(null).map(() => team.id) }),
  },
  { method: 'GET', name: '/api/phone-numbers/purchase', path: queryString.map((q) => `/api/phone-numbers/purchase${q}`) },
  { method: 'GET', name: '/api/phone-numbers', path: queryString.map((q) => `/api/phone-numbers${q}`) },
  { method: 'GET', name: '/api/phone-numbers/:id', path: numSeg.map((s) => `/api/phone-numbers/${s}`) },
  {
    method: 'PATCH',
    name: '/api/phone-numbers/:id',
    path: numSeg.map((s) => `/api/phone-numbers/${s}`),
    body: nearValid(['status'], { status: fc.constantFrom('active', 'suspended') }),
  },
  { method: 'GET', name: '/api/audit-events', path: queryString.map((q) => `/api/audit-events${q}`) },
  { method: 'GET', name: '/api/calls', path: queryString.map((q) => `/api/calls${q}`) },
  { method: 'GET', name: '/api/calls/:id', path: callSeg.map((s) => `/api/calls/${s}`) },
  {
    method: 'POST',
    name: '/api/outbound/caller-id',
    path: fc.constant('/api/outbound/caller-id'),
    body: nearValid(['assistantId', 'to'], { assistantId: fc.constant(null).map(() => assistantId), to: phoneish }),
  },
  // Destructive ones last: they may take the fixtures away (the property still holds).
  { method: 'DELETE', name: '/api/phone-numbers/:id', path: numSeg.map((s) => `/api/phone-numbers/${s}`) },
  { method: 'DELETE', name: '/api/assistants/:id', path: asstSeg.map((s) => `/api/assistants/${s}`) },
];

const bodyArb = (ep: JsonEndpoint): fc.Arbitrary<Buffer | undefined> => {
  if (!ep.body) return fc.option(hostileRaw, { freq: 5, nil: undefined });
  return fc.oneof(
    { weight: 5, arbitrary: jsonBody(ep.body) },
    { weight: 2, arbitrary: jsonBody(fc.anything({ withNullPrototype: true, withObjectString: true, withBoxedValues: true })) },
    { weight: 2, arbitrary: fc.json().map((s) => Buffer.from(s, 'utf8')) },
    { weight: 3, arbitrary: hostileRaw },
  );
};

describe('every JSON endpoint: any body, any headers, never 5xx, errors in the catalogue shape', () => {
  for (const ep of JSON_ENDPOINTS) {
    it(`${ep.method} ${ep.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(ep.path, bodyArb(ep), extras, async (path, body, x) => {
          const headers = headersFor(x);
          const res = await send(ep.method, path, headers, body);
          checkAnswer(res, `${ep.method} ${path.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)} body=${body?.subarray(0, 200).toString('utf8')}`);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      await alive();
    });
  }
});

// ---------------------------------------------------------------------------
// Carrier endpoints, signed (so the body reaches the parsers) and unsigned.

const CARRIER_PATHS = [
  '/carriers/twilio/voice',
  '/carriers/twilio/status',
  '/carriers/twilio/connect-action',
  '/carriers/generic/inbound',
  '/carriers/generic/status',
];

/** Twilio form bodies: known fields with odd values, repeated keys, prototype names, raw junk. */
const twilioForm: fc.Arbitrary<Array<[string, string]>> = fc
  .tuple(
    fc.record(
      {
        CallSid: fc.oneof(
          fc.constant(null).map(() => callSid()),
          fc.constant(null).map(() => knownSid),
          nastyString,
        ),
        AccountSid: fc.constant('AC' + 'ab'.repeat(16)),
        From: fc.oneof(phoneish, nastyString),
        To: fc.oneof({ weight: 3, arbitrary: phoneish }, nastyString),
        ToCountry: fc.oneof(fc.constantFrom('US', 'DE', 'ch', 'XX', ''), nastyString),
        CallStatus: fc.oneof(
          fc.constantFrom('ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled', 'queued'),
          fc.constantFrom(...PROTO_NAMES),
          nastyString,
        ),
        CallDuration: fc.oneof(fc.nat().map(String), nastyString),
        SequenceNumber: fc.oneof(fc.nat().map(String), nastyString),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom('To', 'CallSid', 'From', 'CallStatus', ...PROTO_NAMES), nastyString), fc.oneof(phoneish, nastyString)), {
      maxLength: 6,
    }),
  )
  .map(([rec, dup]) => [...Object.entries(rec).filter((e): e is [string, string] => e[1] !== undefined), ...dup]);

const sanitize = (s: string) => s.replace(/[\ud800-\udfff]/g, '\ufffd');

function twilioRequest(path: string, pairs: Array<[string, string]>, signed: boolean): { body: Buffer; headers: Record<string, string> } {
  const u = new URLSearchParams();
  for (const [k, v] of pairs) u.append(sanitize(k), sanitize(v));
  const raw = u.toString();
  const params: Params = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = params[k];
    params[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (signed) headers['X-Twilio-Signature'] = twilioSignature(TWILIO_TOKEN, t.gw.publicUrl() + path, params);
  return { body: Buffer.from(raw, 'utf8'), headers };
}

const genericBody: fc.Arbitrary<Buffer> = fc.oneof(
  jsonBody(
    nearValid(['callId', 'from', 'to', 'status', 'durationSec', 'sequence'], {
      callId: fc.oneof(
        tokenChars,
        fc.constant(null).map(() => knownSid),
      ),
      to: phoneish,
      from: phoneish,
      status: fc.oneof(fc.constantFrom('completed', 'in-progress', 'ringing', 'failed'), fc.constantFrom(...PROTO_NAMES)),
      durationSec: fc.oneof(fc.nat(), fc.double()),
    }),
  ),
  jsonBody(fc.anything({ withNullPrototype: true })),
  hostileRaw,
);

function genericRequest(path: string, body: Buffer, signed: boolean, contentType: string): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': contentType };
  if (signed) {
    const ts = Math.floor(t.clock.now() / 1000);
    h['X-Switchboard-Signature'] = `t=${ts},v2=${genericSignature(GENERIC_SECRET, ts, path, body)}`;
  }
  return h;
}

describe('every carrier endpoint: any body, signed or not, never 5xx', () => {
  for (const path of CARRIER_PATHS) {
    const twilio = path.startsWith('/carriers/twilio/');
    it(`POST ${path}`, async () => {
      const request = twilio
        ? fc.record({
            form: twilioForm,
            raw: fc.option(hostileRaw, { freq: 4 }),
            signed: fc.boolean(),
            contentType: fc.oneof({ weight: 5, arbitrary: fc.constant('application/x-www-form-urlencoded') }, fc.constantFrom(...CONTENT_TYPES), headerValue),
            query: fc.oneof(fc.constant(''), queryString),
            extra: extras.map((x) => x.extra),
            signature: fc.option(headerValue, { freq: 5 }),
          })
        : fc.record({
            form: fc.constant([] as Array<[string, string]>),
            raw: fc.option(genericBody, { freq: 1, nil: null }).map((b) => b ?? Buffer.from('{}')),
            signed: fc.boolean(),
            contentType: fc.oneof({ weight: 5, arbitrary: fc.constant('application/json') }, fc.constantFrom(...CONTENT_TYPES), headerValue),
            query: fc.oneof(fc.constant(''), queryString),
            extra: extras.map((x) => x.extra),
            signature: fc.option(fc.oneof(headerValue, fc.constantFrom('t=', 'v2=', 't=1,v2=', ',,,', 't=99999999999999999999,v2=ab', '=')), { freq: 5 }),
          });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const full = path + r.query;
          let body: Buffer;
          const headers: Record<string, string> = {};
          for (const [k, v] of r.extra) if (!/signature/i.test(k)) headers[k] = v;
          if (twilio) {
            const built = twilioRequest(full, r.form, r.signed);
            body = r.raw ?? built.body;
            if (r.raw && r.signed) {
              // Sign exactly what the server will parse out of the raw bytes.
              const params: Params = {};
              for (const [k, v] of new URLSearchParams(r.raw.toString('utf8'))) {
                const prev = params[k];
                params[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
              }
              built.headers['X-Twilio-Signature'] = twilioSignature(TWILIO_TOKEN, t.gw.publicUrl() + full, params);
            }
            Object.assign(headers, built.headers, { 'Content-Type': r.contentType });
          } else {
            body = r.raw ?? Buffer.from('{}');
            Object.assign(headers, genericRequest(path, body, r.signed, r.contentType));
          }
          if (r.signature !== null) headers[twilio ? 'X-Twilio-Signature' : 'X-Switchboard-Signature'] = r.signature;
          const res = await send('POST', full, headers, body);
          checkAnswer(res, `POST ${full.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)} body=${body.subarray(0, 200).toString('utf8')}`);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      await alive();
    });
  }

  it('other methods and unknown carrier paths are catalogue errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'POST'),
        fc.oneof(
          fc.constantFrom(...CARRIER_PATHS),
          segment(() => 'twilio/voice').map((s) => `/carriers/${s}`),
          fc.constantFrom(
            '/carriers/__proto__',
            '/carriers/constructor',
            '/carriers/',
            '/carriers//twilio/voice',
            '/carriers/twilio/voice/',
            '/carriers/TWILIO/VOICE',
          ),
        ),
        async (method, path) => {
          const res = await send(method, path, { 'Content-Type': 'application/json' }, method === 'GET' ? undefined : Buffer.from('{}'));
          checkAnswer(res, `${method} ${path}`);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
    await alive();
  });
});

// ---------------------------------------------------------------------------
// Specific hostile cases worth naming (each was a 5xx or a wrong answer).

describe('named hostile cases', () => {
  it.each(PROTO_NAMES)('search numberType %j is 400, not a 500', async (name) => {
    const res = await send(
      'POST',
      '/api/phone-numbers/search',
      { ...t.admin, 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify({ filters: { countryCode: 'US', numberType: name } })),
    );
    checkAnswer(res, name);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.code).toBe('INVALID_REQUEST');
  });

  it.each(PROTO_NAMES)('a status callback with CallStatus %j is 400 and leaves the call alone', async (name) => {
    const sid = callSid();
    const e164 = (await t.api.get(`/api/calls/${callId}`).set(t.admin)).body.call?.to ?? '+12025550100';
    expect((await twilioVoice(t, voiceParams({ CallSid: sid, To: e164 }))).status).toBe(200);
    const { body, headers } = twilioRequest(
      '/carriers/twilio/status',
      [
        ['AccountSid', 'AC' + 'ab'.repeat(16)],
        ['CallSid', sid],
        ['CallStatus', name],
      ],
      true,
    );
    const res = await send('POST', '/carriers/twilio/status', headers, body);
    checkAnswer(res, name);
    expect(res.status).toBe(400);
    const row = (await t.sql.get('SELECT carrier_status FROM calls WHERE carrier_call_id = ?', sid)) as { carrier_status: string | null };
    expect(row.carrier_status).toBeNull();
  });

  it('a 10,000-deep array and a 64 KiB run of [ are 400s; 70 KB is 413', async () => {
    const h = { ...t.admin, 'Content-Type': 'application/json' };
    const a = await send('POST', '/api/teams', h, Buffer.from(deep(10_000, '[', ']')));
    checkAnswer(a, 'deep array');
    expect(a.status).toBe(400);
    const b = await send('POST', '/api/teams', h, Buffer.from('['.repeat(64 * 1024 - 1)));
    checkAnswer(b, 'open brackets');
    expect(b.status).toBe(400);
    const c = await send('POST', '/api/teams', h, Buffer.from('['.repeat(70_000)));
    checkAnswer(c, 'too large');
    expect(c.status).toBe(413);
    const d = await send(
      'POST',
      '/carriers/generic/inbound',
      genericRequest('/carriers/generic/inbound', Buffer.from(deep(20_000, '[', ']')), true, 'application/json'),
      Buffer.from(deep(20_000, '[', ']')),
    );
    checkAnswer(d, 'generic deep');
    expect(d.status).toBe(400);
    await alive();
  });
});
