/**
 * The raw-socket fuzzer's generator: seeded, so the same seed gives the same
 * cases in the same order (only the port in Host and Twilio's signed URL, and
 * the generic signature's timestamp, change from run to run). Each category
 * breaks one layer of HTTP/1.x: the request line, the target, header names
 * and values, message framing (Content-Length / Transfer-Encoding), upgrades,
 * old versions, pipelining, truncation, sizes past Node's limits, aborts,
 * slow clients and plain garbage. The cases are shuffled together so that
 * every batch mixes them.
 */
import { prng, type Rng } from '../e2e/traffic.js';
import {
  afterUpgrade,
  bytes,
  chunked,
  hostileTarget,
  seedRequest,
  serialize,
  wsHeaders,
  type FuzzTarget,
  type Req,
  type SeedKind,
} from './raw-http-requests.js';
import type { RawCase } from './raw-socket.js';

/** A generated message: its bytes and the methods of the complete requests in it. */
interface Piece {
  note: string;
  bytes: Buffer;
  methods: string[];
  /** Incomplete on purpose: only a half-close (or a timeout) ends it. */
  incomplete?: boolean;
}
type Gen = (rng: Rng, t: FuzzTarget) => Piece | Omit<RawCase, 'id' | 'category'>;

const NON_WS: SeedKind[] = ['health', 'api-get', 'api-post', 'twilio-voice', 'twilio-status', 'twilio-action', 'generic', 'options'];
const BODY_SEEDS: SeedKind[] = ['api-post', 'twilio-voice', 'twilio-status', 'generic'];
const METHODS = [
  'GET',
  'POST',
  'HEAD',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PRI',
  'get',
  'Get',
  'GETT',
  'G ET',
  'M-SEARCH',
  'PROPFIND',
  'QUERY',
  'SOURCE',
  'PURGE',
  'X'.repeat(40),
  'GET\x00',
  '\x16\x03\x01',
  'POST /x',
];
const VERSIONS = [
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.2',
  'HTTP/1.10',
  'http/1.1',
  'HTTP/ 1.1',
  'HTTP/1.1 x',
  'HTTP/1',
  'HTTP/11',
  '',
  'HTTP/3',
  'HTTP/1.1\x00',
  'HTTP/9.9',
  'HTTP/1.01',
  'RTSP/1.0',
];
const CTL = ['\x00', '\x01', '\x07', '\x08', '\t', '\x0b', '\x0c', '\r', '\n', '\x1b', '\x7f', '\x80', '\xff', '\r\n', '\n\n'];

const piece = (note: string, r: Req, extra: Partial<Piece> = {}, eol?: string): Piece => ({ note, bytes: serialize(r, eol), methods: [r.method], ...extra });
const setHeader = (r: Req, name: string, value: string | null) => {
  r.headers = r.headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
  if (value !== null) r.headers.push([name, value]);
};
const bodyReq = (rng: Rng, t: FuzzTarget) => seedRequest(rng, t, rng.pick(BODY_SEEDS));
const randomBytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(0, 255)));
const insertAt = (s: string, i: number, x: string) => s.slice(0, i) + x + s.slice(i);

const generators: Record<string, { count: number; gen: Gen }> = {
  'request-line': {
    count: 1000,
    gen(rng, t) {
      const r = seedRequest(rng, t, rng.pick(NON_WS));
      const method = rng.chance(0.4) ? r.method : rng.pick(METHODS);
      const version = rng.chance(0.4) ? 'HTTP/1.1' : rng.pick(VERSIONS);
      const sp = () => (rng.chance(0.8) ? ' ' : rng.pick(['  ', '\t', '', ' \t', '\x0b']));
      const eol = rng.chance(0.7) ? '\r\n' : rng.pick(['\n', '\r', '\n\r', '\r\r\n']);
      const lead = rng.chance(0.1) ? rng.pick(['\r\n', '\r\n\r\n', '\n', ' ']) : '';
      const target = rng.chance(0.25) ? hostileTarget(rng, t) : r.target;
      const line = lead + method + sp() + target + (version ? sp() + version : '');
      const head = [line, ...r.headers.map(([k, v]) => `${k}: ${v}`)].join(eol) + eol + eol;
      return { note: JSON.stringify(line.slice(0, 80)), bytes: Buffer.concat([Buffer.from(head, 'latin1'), r.body]), methods: [method] };
    },
  },
  target: {
    count: 1500,
    gen(rng, t) {
      const r = seedRequest(rng, t);
      r.target = hostileTarget(rng, t);
      const upgrade = r.headers.some(([k]) => k === 'Upgrade') || rng.chance(0.4);
      if (upgrade && !r.headers.some(([k]) => k === 'Upgrade')) {
        setHeader(r, 'Connection', 'Upgrade');
        setHeader(r, 'Upgrade', rng.pick(['x', 'websocket', 'h2c']));
      }
      return piece(`${r.method} ${JSON.stringify(r.target.slice(0, 80))}${upgrade ? ' (upgrade)' : ''}`, r);
    },
  },
  header: {
    count: 1200,
    gen(rng, t) {
      const r = seedRequest(rng, t);
      const notes: string[] = [];
      for (let n = rng.int(1, 3); n > 0; n--) {
        const existing = r.headers.length ? rng.pick(r.headers) : (['X', 'y'] as [string, string]);
        const k = rng.int(0, 9);
        if (k === 0) {
          const name = rng.pick(['', ' X', 'X ', 'X\x00', 'Host\t', 'a:b', '(x)', '\x7f', bytes('é'), 'Content-Length ', 'Transfer-Encoding\x0b', 'X\r\nY']);
          r.headers.splice(rng.int(0, r.headers.length), 0, [name, 'v']);
          notes.push(`bad name ${JSON.stringify(name)}`);
        } else if (k === 1) {
          const [name] = rng.pick(r.headers.length ? r.headers : ([['Host', '']] as Array<[string, string]>));
          r.headers.push([rng.chance(0.5) ? name : name.toUpperCase(), rng.chance(0.5) ? existing[1] : 'other']);
          notes.push(`duplicate ${name}`);
        } else if (k === 2) {
          const c = rng.pick(CTL);
          existing[1] = insertAt(existing[1], rng.int(0, existing[1].length), c);
          notes.push(`${JSON.stringify(c)} in ${existing[0]}`);
        } else if (k === 3) {
          existing[1] += `\r\n${rng.pick([' ', '\t'])}folded`;
          notes.push(`obs-fold in ${existing[0]}`);
        } else if (k === 4) {
          r.headers.push(['X-Long', 'v'.repeat(rng.int(1000, 15000))]);
          notes.push('long value');
        } else if (k === 5) {
          for (let i = rng.int(50, 1200); i > 0; i--) r.headers.push([`X-H${i}`, 'y']);
          notes.push('many headers');
        } else if (k === 6) {
          setHeader(r, 'Host', rng.pick([null, '', '[::1', 'a b', 'evil.example', 'x'.repeat(300), '127.0.0.1:99999', '127.0.0.1, evil']));
          notes.push('odd Host');
        } else {
          const [name, values] = rng.pick<[string, string[]]>([
            [
              'Authorization',
              [
                'Bearer',
                'Bearer ',
                'Basic eDp5',
                'Bearer ' + 'a'.repeat(9000),
                'Bearer \x00',
                `bearer   ${t.adminToken}   `,
                'Bearer ' + bytes('ü'),
                `Bearer ${t.adminToken} x`,
              ],
            ],
            [
              'Content-Type',
              [
                'application/json; charset=utf-16',
                'application/json; charset=',
                'application/x-www-form-urlencoded; charset=latin1',
                'text/plain',
                '',
                ';;;',
                'application/json; boundary="',
                'APPLICATION/X-WWW-FORM-URLENCODED',
              ],
            ],
            ['Content-Encoding', ['gzip', 'br', 'deflate', 'identity', 'x', 'gzip, gzip']],
            ['Expect', ['100-continue', 'x', '100-continue, x']],
            ['Connection', ['close', 'keep-alive, Upgrade', 'TE, close', 'x', 'Content-Length']],
            ['X-Request-Id', ['', 'x'.repeat(5000), '../../etc', bytes('ß'), '\x00']],
            ['X-Twilio-Signature', ['', 'x', 'A'.repeat(28), 'A'.repeat(4000)]],
            [
              'X-Switchboard-Signature',
              [
                't=,v2=',
                't=1',
                ',,,,',
                'v2=' + 'a'.repeat(64) + ',',
                'x'.repeat(1025),
                't=99999999999999999,v2=aa',
                `t=${Math.floor(t.nowMs / 1000)}`,
                '=,=,=',
                't=1e3,v2=1',
              ],
            ],
          ]);
          setHeader(r, name, rng.pick(values));
          notes.push(`odd ${name}`);
        }
      }
      return piece(notes.join(', '), r);
    },
  },
  framing: {
    count: 1500,
    gen(rng, t) {
      const r = rng.chance(0.85) ? bodyReq(rng, t) : seedRequest(rng, t, 'health');
      const n = r.body.length;
      const k = rng.int(0, 8);
      if (k === 0) {
        r.headers.push(['Content-Length', rng.chance(0.5) ? String(n) : String(n + rng.int(1, 5))]);
        return piece('duplicate Content-Length', r);
      }
      if (k === 1) {
        setHeader(
          r,
          'Content-Length',
          rng.pick([
            '-1',
            '+5',
            ` ${n} `,
            '0x10',
            '1e3',
            `${n}.0`,
            '',
            'abc',
            '99999999999999999999',
            '18446744073709551616',
            `00${n}`,
            `${n}, ${n}`,
            `${n},${n + 1}`,
          ]),
        );
        return piece('odd Content-Length', r);
      }
      if (k === 2) {
        // Bytes beyond Content-Length: the server must read them as the next request.
        const smuggled = rng.pick([
          'GET // HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n',
          'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
          'G',
          '\r\n\r\n',
          'GET //:99999/media/twilio HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
        ]);
        r.body = Buffer.concat([r.body, Buffer.from(smuggled)]);
        return piece(`smuggled ${JSON.stringify(smuggled.slice(0, 30))}`, r, {
          methods: [r.method, ...(smuggled.endsWith('\r\n\r\n') && smuggled.length > 4 ? ['GET'] : [])],
        });
      }
      if (k === 3) {
        setHeader(r, 'Content-Length', String(n + rng.int(1, 500)));
        return piece('body shorter than Content-Length', r, { incomplete: true });
      }
      const c = chunked(rng, r.body);
      r.body = c.bytes;
      const te =
        k === 4
          ? rng.pick([
              'chunked, chunked',
              'gzip, chunked',
              'chunked, gzip',
              'identity',
              'gzip',
              ' chunked',
              'Chunked',
              'chunked\t',
              'xchunked',
              'chunked;q=1',
              bytes('chunkéd'),
            ])
          : 'chunked';
      if (k !== 5) setHeader(r, 'Content-Length', null);
      r.headers.push(['Transfer-Encoding', te]);
      if (k === 6) r.headers.push(['Transfer-Encoding', rng.pick(['chunked', 'identity', ''])]);
      if (k === 7) r.version = 'HTTP/1.0';
      return piece(
        `${k === 5 ? 'Content-Length + ' : ''}Transfer-Encoding ${JSON.stringify(te)}${k === 6 ? ' twice' : ''}${k === 7 ? ' in HTTP/1.0' : ''}, ${c.note}`,
        r,
        { incomplete: c.incomplete },
      );
    },
  },
  upgrade: {
    count: 1500,
    gen(rng, t) {
      const r = seedRequest(rng, t, rng.pick(['ws-twilio', 'ws-generic', 'ws-twilio', 'health', 'api-get', 'twilio-voice']));
      const ws = wsHeaders(rng);
      r.headers = r.headers.filter(([k]) => !/^(connection|upgrade|sec-websocket-)/i.test(k));
      r.target = rng.chance(0.6)
        ? r.target
        : rng.pick(['/media/twilio', '//', '//:99999/media/twilio', '/', '*', 'http://x/media/twilio', '/media/twilio?x=%zz', hostileTarget(rng, t)]);
      // Each header is right more often than not, so that a good share of the
      // attempts is accepted and the frames sent after the 101 get exercised too.
      const conn = rng.chance(0.7) ? 'Upgrade' : rng.pick(['upgrade', 'keep-alive, Upgrade', 'Upgrade, close', 'close', 'x', null]);
      const up = rng.chance(0.7)
        ? 'websocket'
        : rng.pick(['WebSocket', 'x', 'h2c', 'websocket, h2c', '', 'tls/1.0', ' websocket ', 'websocket\x00', 'a'.repeat(3000), null]);
      if (conn !== null) r.headers.push(['Connection', conn]);
      if (up !== null) r.headers.push(['Upgrade', up]);
      const version = rng.chance(0.7) ? '13' : rng.pick(['8', '99', '', 'x', null]);
      if (version !== null) r.headers.push(['Sec-WebSocket-Version', version]);
      const key = rng.chance(0.7) ? ws[3]![1] : rng.pick(['', 'short', 'x'.repeat(100), null]);
      if (key !== null) r.headers.push(['Sec-WebSocket-Key', key]);
      if (rng.chance(0.2))
        r.headers.push([
          rng.pick(['Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions']),
          rng.pick(['', ',,', 'a b', 'permessage-deflate; client_max_window_bits', 'x;;;']),
        ]);
      if (rng.chance(0.1)) r.version = 'HTTP/1.0';
      if (rng.chance(0.1)) r.method = rng.pick(['POST', 'HEAD', 'OPTIONS', 'PUT']);
      const note = `${r.method} ${JSON.stringify(r.target.slice(0, 60))} Connection=${JSON.stringify(conn)} Upgrade=${JSON.stringify(up?.slice(0, 20) ?? null)} v=${JSON.stringify(version)}`;
      const frames = afterUpgrade(rng, t);
      // Sometimes the frames ride in the same packet as the handshake (ws's `head`).
      if (rng.chance(0.2)) return { ...piece(note + ', frames in head', r), bytes: Buffer.concat([serialize(r), frames]) };
      return { note, chunks: [serialize(r)], methods: [r.method], finish: 'keep', afterUpgrade: frames };
    },
  },
  'http1.0': {
    count: 500,
    gen(rng, t) {
      const k = rng.int(0, 4);
      if (k === 0) {
        const line = rng.pick(['GET /', 'GET /healthz', 'GET //', 'GET /media/twilio', 'GET', '/']) + rng.pick(['\r\n', '\r\n\r\n', '\n']);
        return { note: `HTTP/0.9-looking ${JSON.stringify(line)}`, bytes: Buffer.from(line), methods: [], incomplete: true };
      }
      const r = seedRequest(rng, t, rng.pick(['health', 'api-get', 'api-post', 'twilio-voice', 'ws-twilio']));
      r.version = 'HTTP/1.0';
      if (rng.chance(0.5)) setHeader(r, 'Host', null);
      if (k === 1) return piece('HTTP/1.0', r);
      if (k === 2) {
        setHeader(r, 'Connection', 'keep-alive');
        const b = serialize(r);
        return { note: 'HTTP/1.0 keep-alive, twice', bytes: Buffer.concat([b, b]), methods: [r.method, r.method] };
      }
      if (k === 3) {
        setHeader(r, 'Content-Length', null);
        r.body = Buffer.from('{"filters":{}}');
        return piece('HTTP/1.0 body without length', r, { incomplete: true });
      }
      return piece('HTTP/1.0 upgrade', r);
    },
  },
  pipelining: {
    count: 600,
    gen(rng, t) {
      const parts: Piece[] = [];
      for (let n = rng.int(2, 8); n > 0; n--) {
        const broken = rng.chance(0.2);
        const p = broken
          ? (generators[rng.pick(['request-line', 'target', 'header'])]!.gen(rng, t) as Piece)
          : piece('seed', seedRequest(rng, t, rng.pick(NON_WS)));
        parts.push(p);
      }
      if (rng.chance(0.3)) parts.push(piece('upgrade last', seedRequest(rng, t, rng.pick(['ws-twilio', 'ws-generic']))));
      const all = Buffer.concat(parts.map((p) => p.bytes));
      // Split anywhere: the server must not care where packets end.
      const cuts = Array.from({ length: rng.int(0, 4) }, () => rng.int(1, all.length - 1)).sort((a, b) => a - b);
      const chunks = [0, ...cuts, all.length]
        .slice(1)
        .map((end, i, a) => all.subarray(i === 0 ? 0 : a[i - 1]!, end))
        .filter((c) => c.length);
      return {
        note: `${parts.length} pipelined: ${parts.map((p) => p.note.slice(0, 30)).join(' | ')}`,
        chunks,
        methods: parts.flatMap((p) => p.methods),
        finish: 'keep',
      };
    },
  },
  truncated: {
    count: 600,
    gen(rng, t) {
      const p = rng.chance(0.7) ? piece('seed', seedRequest(rng, t)) : (generators[rng.pick(['framing', 'header'])]!.gen(rng, t) as Piece);
      const headEnd = p.bytes.indexOf('\r\n\r\n');
      const at = rng.chance(0.2) && headEnd > 0 ? headEnd + 2 : rng.int(1, Math.max(1, p.bytes.length - 1));
      return { note: `cut at ${at}/${p.bytes.length} of ${p.note.slice(0, 60)}`, bytes: p.bytes.subarray(0, at), methods: [], incomplete: true };
    },
  },
  'over-long': {
    count: 300,
    gen(rng, t) {
      const r = seedRequest(rng, t, rng.pick([...BODY_SEEDS, 'ws-twilio', 'health']));
      const big = () => rng.int(16 * 1024, 80 * 1024);
      const k = rng.int(0, 5);
      if (k === 0) r.target = rng.pick(['/', '/media/twilio?', '//', '/api/teams/', '/carriers/twilio/voice?']) + 'a'.repeat(big());
      else if (k === 1) r.headers.push([rng.pick(['X-Big', 'Authorization', 'Cookie', 'Upgrade', 'X-Twilio-Signature']), 'b'.repeat(big())]);
      else if (k === 2) for (let i = rng.int(500, 2500); i > 0; i--) r.headers.push([`X-Header-${i}`, 'v'.repeat(rng.int(0, 30))]);
      else if (k === 3) r.method = 'M'.repeat(big());
      else if (k === 4) {
        r.body = Buffer.alloc(rng.int(65 * 1024, 200 * 1024), rng.pick(['a', '{', '%', '&']));
        setHeader(r, 'Content-Length', String(r.body.length));
      } else {
        const c = chunked(rng, Buffer.alloc(rng.int(65 * 1024, 120 * 1024), 'x'));
        setHeader(r, 'Content-Length', null);
        r.headers.push(['Transfer-Encoding', 'chunked']);
        r.body = c.bytes;
      }
      return piece(['long target', 'long header', 'many headers', 'long method', 'body > 64 KiB', 'chunked body > 64 KiB'][k]!, r);
    },
  },
  aborted: {
    count: 400,
    gen(rng, t) {
      const r = rng.chance(0.8) ? bodyReq(rng, t) : seedRequest(rng, t, 'ws-twilio');
      const b = serialize(r);
      const headEnd = b.indexOf('\r\n\r\n') + 4;
      const at = rng.pick([headEnd, rng.int(headEnd, b.length), rng.int(1, headEnd), b.length]);
      const finish = rng.chance(0.6) ? 'destroy' : 'reset';
      return { note: `${finish} after ${at}/${b.length} bytes of ${r.method} ${r.target.slice(0, 40)}`, chunks: [b.subarray(0, at)], methods: [], finish };
    },
  },
  random: {
    count: 1000,
    gen(rng, t) {
      const k = rng.int(0, 9);
      if (k < 3) return { note: 'random bytes', bytes: randomBytes(rng, rng.int(1, 3000)), methods: [], incomplete: true };
      if (k < 5) {
        const lines = Array.from({ length: rng.int(1, 20) }, () =>
          Array.from({ length: rng.int(0, 80) }, () => String.fromCharCode(rng.int(32, 126))).join(''),
        );
        return { note: 'random text lines', bytes: Buffer.from(lines.join('\r\n') + '\r\n\r\n'), methods: [], incomplete: true };
      }
      // A valid request with a few bytes flipped, inserted, deleted or repeated.
      const r = seedRequest(rng, t);
      let b = serialize(r);
      for (let n = rng.int(1, 4); n > 0; n--) {
        const i = rng.int(0, b.length - 1);
        const op = rng.int(0, 3);
        if (op === 0) b[i] = rng.int(0, 255);
        else if (op === 1) b = Buffer.concat([b.subarray(0, i), randomBytes(rng, rng.int(1, 8)), b.subarray(i)]);
        else if (op === 2) b = Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + rng.int(1, 16)))]);
        else b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + rng.int(1, 64)), b.subarray(i)]);
      }
      return { note: `mutated ${r.method} ${r.target.slice(0, 40)}`, bytes: b, methods: [r.method] };
    },
  },
};

/** A trickled request: a few bytes every few ms (slowloris-style headers, or a slow body). */
function slowCase(rng: Rng, t: FuzzTarget): Omit<RawCase, 'id' | 'category'> {
  const r = seedRequest(rng, t, rng.pick(['api-post', 'twilio-voice', 'generic', 'ws-twilio', 'health']));
  const b = serialize(r);
  const pauseMs = rng.int(10, 40);
  const size = Math.max(rng.int(1, 20), Math.ceil(b.length / Math.floor(1500 / pauseMs)));
  const chunks: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) chunks.push(b.subarray(i, i + size));
  const cut = rng.chance(0.25);
  return {
    note: `${r.method} ${r.target.slice(0, 40)} in ${chunks.length} chunks every ${pauseMs} ms${cut ? ', stopped early' : ''}`,
    chunks: cut ? chunks.slice(0, rng.int(1, chunks.length - 1)) : chunks,
    pauseMs,
    methods: cut ? [] : [r.method],
    finish: cut ? 'end' : 'keep',
  };
}

const toCase = (p: ReturnType<Gen>): Omit<RawCase, 'id' | 'category'> =>
  'bytes' in p ? { note: p.note, chunks: [p.bytes], methods: p.methods, finish: p.incomplete ? 'end' : 'keep' } : p;

export const SLOW_CASES = 40;
export const CATEGORY_COUNTS: Record<string, number> = Object.fromEntries([...Object.entries(generators).map(([k, v]) => [k, v.count]), ['slow', SLOW_CASES]]);

/** Every case for a seed: the shuffled main list, and the slow ones (run on a lane of their own). */
export function generateCases(seed: number, t: FuzzTarget): { cases: RawCase[]; slow: RawCase[] } {
  const rng = prng(seed);
  const all: Array<Omit<RawCase, 'id'>> = [];
  for (const [category, g] of Object.entries(generators)) for (let i = 0; i < g.count; i++) all.push({ category, ...toCase(g.gen(rng, t)) });
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const slow = Array.from({ length: SLOW_CASES }, (_, i) => ({ id: all.length + i, category: 'slow', ...slowCase(rng, t) }));
  return { cases: all.map((c, id) => ({ id, ...c })), slow };
}
