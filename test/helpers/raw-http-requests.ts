/**
 * Building blocks for the raw-socket fuzzer (raw-http-fuzz.ts): well-formed
 * requests to every kind of endpoint the gateway has (the seeds that the
 * mutators then break), a serialiser that writes exactly the bytes asked for,
 * WebSocket client frames, and a catalogue of hostile request targets.
 *
 * Strings in a request head are byte strings (latin1): every character is
 * one byte on the wire, so NUL, CR, bare LF and 0x80-0xff go out unchanged.
 */
import { signGeneric } from '../../src/carriers/generic/index.js';
import type { Rng } from '../e2e/traffic.js';
import { prepareTwilio, voiceParams } from './carrier.js';
import { CONNECTED, twilioStart } from './media.js';

export interface FuzzTarget {
  /** http://127.0.0.1:<port>: the gateway's SWITCHBOARD_PUBLIC_URL (Twilio signs with it). */
  publicUrl: string;
  adminToken: string;
  twilioToken: string;
  genericSecret: string;
  /** The live bridged call: upgrade attempts aim at it too, and must all be refused. */
  live: { callId: string; token: string; sid: string };
  /** A number routed to the fake assistant. */
  routedE164: string;
  /** Wall clock for generic signatures (they expire after 300 s). */
  nowMs: number;
}

export interface Req {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** UTF-8 text as a byte string. */
export const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** The request as bytes; no header is added or changed (Content-Length is the caller's). */
export function serialize(r: Req, eol = '\r\n'): Buffer {
  const line = r.version === '' ? `${r.method} ${r.target}` : `${r.method} ${r.target} ${r.version}`;
  const head = [line, ...r.headers.map(([k, v]) => `${k}: ${v}`)].join(eol) + eol + eol;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
}

const hostHeader = (t: FuzzTarget): [string, string] => ['Host', new URL(t.publicUrl).host];

function req(t: FuzzTarget, method: string, target: string, headers: Array<[string, string]> = [], body = ''): Req {
  const b = Buffer.from(body, 'utf8');
  const h: Array<[string, string]> = [hostHeader(t), ...headers];
  if (b.length || method === 'POST' || method === 'PATCH') h.push(['Content-Length', String(b.length)]);
  return { method, target, version: 'HTTP/1.1', headers: h, body: b };
}

const randomSid = (rng: Rng) => rng.callSid();
export const wsKey = (rng: Rng) => Buffer.from(Array.from({ length: 16 }, () => rng.int(0, 255))).toString('base64');

export const wsHeaders = (rng: Rng): Array<[string, string]> => [
  ['Connection', 'Upgrade'],
  ['Upgrade', 'websocket'],
  ['Sec-WebSocket-Version', '13'],
  ['Sec-WebSocket-Key', wsKey(rng)],
];

/** A Twilio webhook signed exactly as Twilio would (never for the live call's CallSid). */
function twilio(t: FuzzTarget, path: string, params: Record<string, string>): Req {
  const p = prepareTwilio(t.publicUrl, path, params, { authToken: t.twilioToken });
  return req(t, 'POST', p.path, Object.entries(p.headers), p.body);
}

export type SeedKind =
  'health' | 'api-get' | 'api-post' | 'twilio-voice' | 'twilio-status' | 'twilio-action' | 'generic' | 'ws-twilio' | 'ws-generic' | 'options';
export const SEED_KINDS: readonly SeedKind[] = [
  'health',
  'api-get',
  'api-post',
  'twilio-voice',
  'twilio-status',
  'twilio-action',
  'generic',
  'ws-twilio',
  'ws-generic',
  'options',
];

/** A well-formed request of the given kind (answered 2xx/4xx today, or upgraded). */
export function seedRequest(rng: Rng, t: FuzzTarget, kind: SeedKind = rng.pick(SEED_KINDS)): Req {
  const auth = (): Array<[string, string]> =>
    rng.chance(0.8) ? [['Authorization', `Bearer ${t.adminToken}`]] : rng.chance(0.5) ? [['Authorization', `Bearer sb_${rng.int(0, 1e9)}`]] : [];
  switch (kind) {
    case 'health':
      return req(t, rng.pick(['GET', 'GET', 'HEAD']), rng.pick(['/healthz', '/readyz', '/healthz', '/metrics']));
    case 'api-get': {
      const path = rng.pick([
        '/api/teams',
        '/api/calls?limit=2',
        `/api/calls/${t.live.callId}`,
        '/api/phone-numbers?status=active',
        '/api/assistants',
        '/api/audit-events?limit=1',
        '/api/teams/nope',
      ]);
      return req(t, rng.pick(['GET', 'GET', 'HEAD']), path, auth());
    }
    case 'api-post': {
      const [path, body] = rng.pick([
        ['/api/phone-numbers/search', JSON.stringify({ filters: { countryCode: 'US', limit: 2 } })],
        ['/api/outbound/caller-id', JSON.stringify({ assistantId: 'nope', to: '+12025550143' })],
        ['/api/teams/nope/tokens', '{}'],
      ] as const);
      return req(t, 'POST', path, [...auth(), ['Content-Type', 'application/json']], body);
    }
    case 'twilio-voice': {
      const to = rng.chance(0.3) ? t.routedE164 : rng.pick(['+12025550100', '+14165550199', 'not-a-number']);
      return twilio(t, '/carriers/twilio/voice', voiceParams({ CallSid: randomSid(rng), To: to }) as Record<string, string>);
    }
    case 'twilio-status':
      return twilio(t, '/carriers/twilio/status', {
        CallSid: randomSid(rng),
        CallStatus: rng.pick(['ringing', 'completed', 'bogus']),
        SequenceNumber: String(rng.int(0, 9)),
      });
    case 'twilio-action':
      return twilio(t, '/carriers/twilio/connect-action', { CallSid: randomSid(rng), AccountSid: 'AC' + 'ab'.repeat(16) });
    case 'generic': {
      const path = rng.pick(['/carriers/generic/inbound', '/carriers/generic/status']);
      const body = path.endsWith('inbound')
        ? JSON.stringify({ callId: `g-${rng.int(0, 1e9)}`, from: '+12025550143', to: rng.chance(0.5) ? t.routedE164 : '+12025550100' })
        : JSON.stringify({ callId: `g-${rng.int(0, 1e9)}`, status: 'completed', sequence: 1 });
      return req(
        t,
        'POST',
        path,
        [
          ['Content-Type', 'application/json'],
          ['X-Switchboard-Signature', signGeneric(t.genericSecret, path, body, t.nowMs)],
        ],
        body,
      );
    }
    case 'ws-twilio':
      return req(t, 'GET', '/media/twilio', wsHeaders(rng));
    case 'ws-generic': {
      const id = rng.pick([t.live.callId, t.live.callId, 'c-' + rng.int(0, 1e6), 'x'.repeat(64)]);
      const token = rng.pick([t.live.token, 'A'.repeat(43), '', '%zz']);
      return req(t, 'GET', `/media/generic/${id}?token=${token}`, wsHeaders(rng));
    }
    case 'options':
      return req(t, 'OPTIONS', rng.pick(['*', '/', '/api/teams', '/carriers/twilio/voice']));
  }
}

/** A chunked body: valid, or with one of the classic chunk-framing mistakes (incomplete ones say so). */
export function chunked(rng: Rng, body: Buffer): { note: string; bytes: Buffer; incomplete?: boolean } {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length;) {
    const n = Math.min(body.length - i, rng.int(1, 40));
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(i, i + n), Buffer.from('\r\n'));
    i += n;
  }
  const ok = Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
  const bad = rng.pick<[string, string | null]>([
    ['valid', null],
    ['bad size', 'zz\r\nab\r\n0\r\n\r\n'],
    ['negative size', '-1\r\nab\r\n0\r\n\r\n'],
    ['huge size', 'ffffffffffffffffff\r\nab\r\n0\r\n\r\n'],
    ['size with 0x', '0x2\r\nab\r\n0\r\n\r\n'],
    ['chunk extension', '2;a=b;c="d"\r\nab\r\n0\r\n\r\n'],
    ['control char in extension', '2;\x00\r\nab\r\n0\r\n\r\n'],
    ['data longer than size', '2\r\nabcdef\r\n0\r\n\r\n'],
    ['LF only', '2\nab\n0\n\n'],
    ['trailers', '0\r\nContent-Length: 5\r\nX: y\r\n\r\n'],
    ['space before size', ' 2\r\nab\r\n0\r\n\r\n'],
    ['no last chunk', '2\r\nab\r\n'],
    ['no final CRLF', '0\r\n'],
  ]);
  if (bad[1] === null) return { note: 'chunked', bytes: ok };
  return { note: `chunked, ${bad[0]}`, bytes: Buffer.from(bad[1], 'latin1'), incomplete: bad[0].startsWith('no ') };
}

// ------------------------------------------------------------------ WebSocket frames (client side)

/** One client frame; masked unless told otherwise (unmasked client frames are a protocol error). */
export function wsFrame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; claimLength?: number } = {}): Buffer {
  const { fin = true, mask = true } = o;
  const len = o.claimLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else head.push(m | 127, ...Buffer.from(BigInt(len).toString(16).padStart(16, '0'), 'hex'));
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

const text = (s: string) => wsFrame(1, Buffer.from(s, 'utf8'));

/** What a fuzzing client says once its upgrade was accepted. */
export function afterUpgrade(rng: Rng, t: FuzzTarget): Buffer {
  switch (rng.int(0, 9)) {
    case 0: // the live call's own credentials: must be refused (already bridged), never hijack it
      return Buffer.concat([text(CONNECTED), text(twilioStart(t.live.callId, t.live.token, t.live.sid))]);
    case 1:
      return text(twilioStart(t.live.callId, 'A'.repeat(43)));
    case 2:
      return text(
        JSON.stringify({
          event: 'start',
          start: rng.pick([null, 5, 'x', { customParameters: { callId: {}, token: [1] } }, { customParameters: '__proto__' }]),
        }),
      );
    case 3:
      return wsFrame(2, Buffer.from([0, 1, 2, 255]));
    case 4:
      return wsFrame(1, Buffer.from('{"event":"connected"}'), { mask: false });
    case 5:
      return wsFrame(1, Buffer.alloc(8), { claimLength: rng.pick([300 * 1024, 2 ** 53 - 1]) });
    case 6:
      return wsFrame(8, Buffer.from([0x03, 0xe7, 0xff])); // close, code 999, invalid reason
    case 7:
      return Buffer.concat([wsFrame(1, Buffer.from('{"ev'), { fin: false }), wsFrame(0, Buffer.from([0xff, 0xfe]))]);
    case 8:
      return text(rng.pick(['null', '[]', '"start"', '{"event":"media"}', bytes('\u0000\u{1F600}')]));
    default:
      return Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)));
  }
}

// ------------------------------------------------------------------ hostile targets

const ENDPOINTS = [
  '/',
  '/healthz',
  '/readyz',
  '/metrics',
  '/api/teams',
  '/api/calls',
  '/carriers/twilio/voice',
  '/carriers/generic/inbound',
  '/media/twilio',
  '/media/generic/abc',
];

/** A request target that is hard to parse: the ones that crashed a `new URL()` and their relatives. */
export function hostileTarget(rng: Rng, t: FuzzTarget): string {
  const p = rng.pick(ENDPOINTS);
  const port = new URL(t.publicUrl).port;
  const long = (n: number) => '/' + 'a'.repeat(n);
  const ctl = String.fromCharCode(rng.pick([0, 1, 7, 8, 9, 11, 12, 13, 10, 27, 127]));
  const pick = rng.pick<() => string>([
    () => '//',
    () => '//' + p,
    () => '//:99999' + rng.pick(['/media/twilio', '/', '/healthz', '/carriers/twilio/voice']),
    () => '//:0/media/twilio',
    () => '///' + p.slice(1),
    () => '/\\' + p,
    () => '\\\\' + p,
    () => '//%zz' + p,
    () => '//[::1' + p,
    () => '//a%00b' + p,
    () => '//xn--' + p,
    () => '//user:pw@' + p,
    () => p + '%zz',
    () => p + '/%',
    () => p + '%00',
    () => p + '%c0%af',
    () => p + '?%zz=%&a=%E0%A4%A',
    () => p + '?' + rng.pick(['token=%zz', 'limit=-1', 'cursor=!!!', 'teamId=a&teamId=b', '__proto__[x]=1', 'a[b][c]=1']),
    () => p + '#frag',
    () => p + '/..',
    () => '/media/generic/../twilio',
    () => '/media/generic/' + rng.pick(['', '%2e%2e', 'a/b', 'x'.repeat(65), t.live.callId + '/']) + '?token=' + t.live.token,
    () => '/media/twilio/',
    () => '/MEDIA/TWILIO',
    () => '/media/twilio;x=1',
    () => '/media/twilio?' + 'a'.repeat(rng.int(100, 4000)),
    () => 'http://x' + p,
    () => `http://127.0.0.1:${port}${p}`,
    () => 'http://[::1' + p,
    () => 'http://a:99999' + p,
    () => 'https://user@evil.example:443' + p,
    () => 'ws://x/media/twilio',
    () => 'x:' + p,
    () => '*',
    () => '*' + p,
    () => '',
    () => '?',
    () => 'media/twilio',
    () => long(rng.int(1000, 8000)),
    () => p + '/' + ctl + 'x',
    () => p + ctl,
    () => p + bytes('/é/\u{1F600}/\u202E'),
    () => p + '/\xff\xfe\x80',
    () => rng.pick(ENDPOINTS) + rng.pick(ENDPOINTS),
  ]);
  return pick();
}
