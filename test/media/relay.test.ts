// The media relay as a carrier and an assistant see it (api.md section 4,
// carriers.md "Twilio Media Streams"): every frame both ways, in order and
// byte for byte; carrier frames sent before the assistant accepted are queued;
// binary frames never reach a Twilio stream but do reach a generic one; bad
// tokens, duplicate streams and streams without a start are closed with 1008.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Lifecycle } from '../../src/lifecycle.js';
import { newMediaStats } from '../../src/media/bridge.js';
import { Faults } from '../../src/faults.js';
import { buildCarriers } from '../../src/carriers/registry.js';
import { MediaServer } from '../../src/media/media-server.js';
import { LiveCallRegistry } from '../../src/media/registry.js';
import { CallTokens } from '../../src/routing/call-token.js';
import { CARRIER_ENV, assign, callSid, genericInbound, newAssistant, twilioCallTo } from '../helpers/carrier.js';
import { availableNumbers, buyActive, createTeam, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, relayed, STREAM_SID, callRecord as callRecordOf, mediaFrame, twilioStart } from '../helpers/media.js';

// ---------------------------------------------------------------------------
// Local doubles that keep the text/binary flag and the exact bytes.

interface Rx {
  data: Buffer;
  isBinary: boolean;
}

interface Peer {
  ws: WebSocket;
  received: Rx[];
  closed: Promise<{ code: number; reason: string }>;
}

function track(ws: WebSocket): Peer {
  const received: Rx[] = [];
  ws.on('message', (data: Buffer, isBinary) => received.push({ data: Buffer.from(data), isBinary }));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  return { ws, received, closed };
}

interface Assistant {
  url: string;
  conns: Peer[];
  /** Date.now() when each upgrade was accepted. */
  acceptedAt: number[];
  close(): Promise<void>;
}

/**
 * An assistant runtime on port 0. `upgradeDelayMs` holds the HTTP upgrade
 * that long before answering 101; `onMessage` scripts its answers.
 */
async function assistantServer(o: { upgradeDelayMs?: number; onMessage?: (ws: WebSocket, data: Buffer, isBinary: boolean) => void } = {}): Promise<Assistant> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const conns: Peer[] = [];
  const acceptedAt: number[] = [];
  server.on('upgrade', (req, socket, head) => {
    setTimeout(() => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        acceptedAt.push(Date.now());
        const p = track(ws);
        conns.push(p);
        if (o.onMessage) ws.on('message', (d: Buffer, b) => o.onMessage!(ws, d, b));
      });
    }, o.upgradeDelayMs ?? 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/stream`,
    conns,
    acceptedAt,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function connect(url: string): Promise<Peer> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const p = track(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return p;
}

const texts = (rx: Rx[]) => rx.map((r) => (r.isBinary ? `<binary ${r.data.toString('hex')}>` : r.data.toString('utf8')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------

describe('media relay', () => {
  let t: TestGateway;
  let base: string;
  let team: Awaited<ReturnType<typeof createTeam>>;
  let numberId: string;
  let e164: string;
  const servers: Assistant[] = [];

  beforeAll(async () => {
    t = await startGateway({ env: { ...CARRIER_ENV } });
    const addr = await t.gw.listen();
    base = `ws://127.0.0.1:${addr.port}`;
    team = await createTeam(t, 'relay', 'pro');
    [e164] = (await availableNumbers(t, 'US', 1)) as [string];
    numberId = await buyActive(t, team, e164);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await t.close();
  });

  async function newServer(o: Parameters<typeof assistantServer>[0] = {}) {
    const s = await assistantServer(o);
    servers.push(s);
    return s;
  }

  /** Points the number at a new assistant that talks to `server`; returns the assistant id. */
  async function routeTo(server: Assistant, name: string): Promise<string> {
    const id = await newAssistant(t, team, name, server.url);
    await assign(t, team, id, [numberId]);
    return id;
  }

  /** A real signed Twilio webhook; returns the call's id, token and CallSid from the TwiML. */
  async function twilioCall() {
    const call = await twilioCallTo(t, e164);
    expect(new URL(call.streamUrl).pathname).toBe('/media/twilio');
    return call;
  }

  /** A real signed generic webhook; returns the gateway call id and the media path + query. */
  async function genericCall() {
    const res = await genericInbound(t, { callId: `sip-${callSid()}`, from: '+12025550143', to: e164 });
    expect(res.status).toBe(200);
    expect(res.body.action).toBe('connect');
    const u = new URL(res.body.mediaUrl as string);
    return { callId: res.body.callId as string, path: u.pathname + u.search, token: u.searchParams.get('token')! };
  }

  const record = (id: string) => callRecordOf(t, id);

  it("relays 600 frames each way in order, and the assistant's mark and clear reach the carrier byte for byte", async () => {
    // The assistant echoes every media frame; after every 50th it sends a
    // mark, after every 100th a clear, written with odd spacing, key order
    // and non-ASCII text that any parse/re-encode would change.
    const expectedAtCarrier: string[] = [];
    let streamSid = '';
    let n = 0;
    const server = await newServer({
      onMessage(ws, data) {
        const msg = JSON.parse(data.toString('utf8'));
        if (msg.event === 'start') streamSid = msg.streamSid;
        if (msg.event !== 'media') return;
        n++;
        const out = [JSON.stringify({ event: 'media', streamSid, media: { payload: msg.media.payload } })];
        if (n % 50 === 0) out.push(`{ "mark": {"name": "après-${n} ☎ \\u00e9"},  "event":"mark", "streamSid":"${streamSid}" }`);
        if (n % 100 === 0) out.push(`{"streamSid":"${streamSid}",\n "event": "clear"}`);
        for (const f of out) {
          expectedAtCarrier.push(f);
          ws.send(f);
        }
      },
    });
    await routeTo(server, 'echo');
    const call = await twilioCall();
    const c = await connect(`${base}/media/twilio`);
    const sent = [CONNECTED, twilioStart(call.callId, call.token, call.sid)];
    for (let i = 3; i < 603; i++) sent.push(mediaFrame(i));
    for (const f of sent) c.ws.send(f);

    await eventually(() => c.received.length === 600 + 12 + 6, 10_000);
    // The assistant saw exactly what the carrier sent, starting with connected and start (less the media token).
    expect(texts(server.conns[0]!.received)).toEqual(relayed(sent));
    expect(server.conns[0]!.received.every((r) => !r.isBinary)).toBe(true);
    // The carrier saw exactly what the assistant sent, in order, as text frames.
    expect(c.received.every((r) => !r.isBinary)).toBe(true);
    expect(c.received.length).toBe(expectedAtCarrier.length);
    c.received.forEach((r, i) => expect(r.data.equals(Buffer.from(expectedAtCarrier[i]!, 'utf8')), `frame ${i}`).toBe(true));
    const marks = c.received.filter((r) => r.data.includes('"mark"'));
    expect(marks.map((m) => JSON.parse(m.data.toString()).mark.name)).toEqual(
      [50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600].map((k) => `après-${k} ☎ é`),
    );
    expect(c.received.filter((r) => r.data.includes('"clear"')).length).toBe(6);

    c.ws.close(1000);
    await c.closed;
    await eventually(async () => (await record(call.callId)).endedAt !== null);
  });

  it('queues carrier frames sent before the assistant accepted (300 ms late) and delivers them in order', async () => {
    const server = await newServer({ upgradeDelayMs: 300 });
    await routeTo(server, 'slow');
    const call = await twilioCall();
    const c = await connect(`${base}/media/twilio`);
    const sent = [CONNECTED, twilioStart(call.callId, call.token, call.sid)];
    for (let i = 3; i < 53; i++) sent.push(mediaFrame(i));
    for (const f of sent) c.ws.send(f);
    const sentAt = Date.now();

    await eventually(() => server.conns[0]?.received.length === sent.length, 5000);
    // The frames really were sent while the assistant was still connecting.
    expect(server.acceptedAt[0]! - sentAt).toBeGreaterThanOrEqual(200);
    expect(texts(server.conns[0]!.received)).toEqual(relayed(sent));
    // And frames after the bridge opened follow them.
    c.ws.send(mediaFrame(53));
    await eventually(() => server.conns[0]!.received.length === sent.length + 1);
    expect(texts(server.conns[0]!.received).at(-1)).toBe(mediaFrame(53));
    c.ws.close(1000);
    await server.conns[0]!.closed;
  });

  it('does not forward binary frames from the assistant to a Twilio stream, and the call goes on', async () => {
    const server = await newServer();
    await routeTo(server, 'binary-twilio');
    const call = await twilioCall();
    const c = await connect(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(call.callId, call.token, call.sid));
    await eventually(() => server.conns[0]?.received.length === 2);
    const a = server.conns[0]!.ws;
    const before = JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'before' } });
    const after = JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'after' } });
    a.send(before);
    a.send(Buffer.from([0xff, 0x7f, 0x00, 0x01]), { binary: true });
    a.send(Buffer.from('{"event":"media"}'), { binary: true });
    a.send(after);
    // Frames keep their order, so once "after" is in, a forwarded binary frame would be too.
    await eventually(() => c.received.length >= 2);
    await sleep(50);
    expect(texts(c.received)).toEqual([before, after]);
    expect(c.received.some((r) => r.isBinary)).toBe(false);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    // Carrier to assistant still flows.
    c.ws.send(mediaFrame(3));
    await eventually(() => server.conns[0]!.received.length === 3);
    c.ws.close(1000);
    await server.conns[0]!.closed;
  });

  it('relays the generic stream unchanged both ways: text, binary and invalid UTF-8', async () => {
    const server = await newServer();
    await routeTo(server, 'generic');
    const g = await genericCall();
    const c = await connect(`${base}${g.path}`);
    await eventually(() => server.conns.length === 1 && server.conns[0]!.ws.readyState === WebSocket.OPEN);
    await eventually(async () => (await record(g.callId)).answeredAt !== null);
    const a = server.conns[0]!;

    const fromCarrier: Rx[] = [
      { data: Buffer.from('hello, not JSON at all  '), isBinary: false },
      { data: Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff)), isBinary: true },
      { data: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), isBinary: true }, // not UTF-8
      { data: Buffer.from('{"event":"media","x":"ü"}'), isBinary: false },
    ];
    for (let i = 0; i < 200; i++) fromCarrier.push({ data: Buffer.alloc(160, i), isBinary: true });
    const fromAssistant: Rx[] = [
      { data: Buffer.from(Array.from({ length: 320 }, (_, i) => (i * 11) & 0xff)), isBinary: true },
      { data: Buffer.from('  {"event":"clear"}  '), isBinary: false },
      { data: Buffer.from([0x00, 0xff, 0xfe]), isBinary: true },
    ];
    for (let i = 0; i < 200; i++) {
      fromAssistant.push(i % 2 === 0 ? { data: Buffer.alloc(80, 255 - i), isBinary: true } : { data: Buffer.from(`text ${i} ☎`), isBinary: false });
    }

    for (const f of fromCarrier) c.ws.send(f.data, { binary: f.isBinary });
    for (const f of fromAssistant) a.ws.send(f.data, { binary: f.isBinary });
    await eventually(() => a.received.length === fromCarrier.length && c.received.length === fromAssistant.length, 5000);

    const same = (got: Rx[], want: Rx[]) =>
      got.forEach((r, i) => {
        expect(r.isBinary, `frame ${i} flag`).toBe(want[i]!.isBinary);
        expect(r.data.equals(want[i]!.data), `frame ${i} bytes`).toBe(true);
      });
    same(a.received, fromCarrier);
    same(c.received, fromAssistant);
    c.ws.close(1000);
    expect((await a.closed).code).toBe(1000);
  });

  it("closes a generic stream with a forged, missing or other call's token with 1008; nothing reaches the assistant", async () => {
    const server = await newServer();
    await routeTo(server, 'guarded');
    const g = await genericCall();
    const other = await genericCall();
    const path = `/media/generic/${g.callId}`;
    const forgedSameShape = g.token.slice(0, -2) + (g.token.endsWith('AA') ? 'BB' : 'AA');
    for (const q of ['', '?token=', `?token=${'A'.repeat(43)}`, `?token=${forgedSameShape}`, `?token=${other.token}`]) {
      const c = await connect(`${base}${path}${q}`);
      c.ws.send('hello');
      c.ws.send(Buffer.alloc(160, 1), { binary: true });
      const closed = await c.closed;
      expect(closed.code, `query ${q}`).toBe(1008);
    }
    // A token for another call does not open this one; an unknown call id is refused the same way.
    const unknown = await connect(`${base}/media/generic/00000000-0000-4000-8000-000000000000?token=${g.token}`);
    expect((await unknown.closed).code).toBe(1008);
    await sleep(100);
    expect(server.conns.length).toBe(0);
    expect((await record(g.callId)).answeredAt).toBeNull();
    expect((await record(g.callId)).status).toBe('routed');
    // The real token still works afterwards.
    const ok = await connect(`${base}${path}?token=${g.token}`);
    ok.ws.send('first');
    await eventually(() => server.conns[0]?.received.length === 1);
    expect(texts(server.conns[0]!.received)).toEqual(['first']);
    ok.ws.close(1000);
    await server.conns[0]!.closed;
  });

  it('refuses a second stream for a call that is live with 1008, and the first keeps relaying', async () => {
    const server = await newServer();
    await routeTo(server, 'dup');
    const call = await twilioCall();
    const first = await connect(`${base}/media/twilio`);
    first.ws.send(CONNECTED);
    first.ws.send(twilioStart(call.callId, call.token, call.sid));
    await eventually(() => server.conns[0]?.received.length === 2);

    const second = await connect(`${base}/media/twilio`);
    second.ws.send(CONNECTED);
    second.ws.send(twilioStart(call.callId, call.token, call.sid));
    second.ws.send(mediaFrame(99));
    expect((await second.closed).code).toBe(1008);

    // The same for the generic endpoint.
    const g = await genericCall();
    const g1 = await connect(`${base}${g.path}`);
    await eventually(() => server.conns.length === 2);
    const g2 = await connect(`${base}${g.path}`);
    expect((await g2.closed).code).toBe(1008);

    first.ws.send(mediaFrame(3));
    g1.ws.send('still here');
    await eventually(() => server.conns[0]!.received.length === 3 && server.conns[1]!.received.length === 1);
    expect(texts(server.conns[0]!.received)).toEqual(relayed([CONNECTED, twilioStart(call.callId, call.token, call.sid), mediaFrame(3)]));
    expect(texts(server.conns[1]!.received)).toEqual(['still here']);
    expect(server.conns.length).toBe(2);
    expect(first.ws.readyState).toBe(WebSocket.OPEN);

    // Once the call has ended, its stream cannot be reopened either.
    first.ws.close(1000);
    await server.conns[0]!.closed;
    await eventually(async () => (await record(call.callId)).endedAt !== null);
    const again = await connect(`${base}/media/twilio`);
    again.ws.send(CONNECTED);
    again.ws.send(twilioStart(call.callId, call.token, call.sid));
    expect((await again.closed).code).toBe(1008);
    expect(server.conns.length).toBe(2);
    g1.ws.close(1000);
    await server.conns[1]!.closed;
  });

  it('closes a Twilio stream whose first message is not connected/start with 1008, relaying nothing', async () => {
    const server = await newServer();
    await routeTo(server, 'nostart');
    const call = await twilioCall();
    const cases: Array<Array<string | Buffer>> = [
      [mediaFrame(3), twilioStart(call.callId, call.token, call.sid)],
      [CONNECTED, mediaFrame(3), twilioStart(call.callId, call.token, call.sid)],
      [Buffer.from(twilioStart(call.callId, call.token, call.sid))], // the right message, but binary
      ['not json', twilioStart(call.callId, call.token, call.sid)],
    ];
    for (const frames of cases) {
      const c = await connect(`${base}/media/twilio`);
      for (const f of frames) c.ws.send(f, { binary: Buffer.isBuffer(f) });
      expect((await c.closed).code).toBe(1008);
    }
    await sleep(100);
    expect(server.conns.length).toBe(0);
    expect((await record(call.callId)).status).toBe('routed');
    // The call can still be bridged properly.
    const ok = await connect(`${base}/media/twilio`);
    ok.ws.send(CONNECTED);
    ok.ws.send(twilioStart(call.callId, call.token, call.sid));
    await eventually(() => server.conns[0]?.received.length === 2);
    ok.ws.close(1000);
    await server.conns[0]!.closed;
  });
});

describe('media server start timeout', () => {
  // startGateway cannot set the start timeout, so this uses the MediaServer
  // itself on a real http server, with a short one.
  let server: http.Server;
  let media: MediaServer;
  let base: string;
  const asked: string[] = [];

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.writeHead(404).end());
    const tokens = new CallTokens('another-secret-0123456789abcdef0123');
    media = new MediaServer({
      carriers: buildCarriers(
        { twilioAuthToken: undefined, telnyxPublicKey: undefined, webhookSecret: undefined },
        { publicUrl: () => 'http://127.0.0.1', signToken: (c, a, at) => tokens.sign(c, a, at), now: () => Date.now() },
      ),
      lifecycle: new Lifecycle(),
      tokens,
      registry: new LiveCallRegistry(),
      stats: newMediaStats(),
      calls: {
        forMedia: async (id) => {
          asked.push(id);
          return undefined;
        },
        markAnswered: async () => {},
        markEnded: async () => {},
        bindCarrierCallId: async () => {},
        claimMedia: async () => true,
      },
      now: () => Date.now(),
      tokenTtlS: 60,
      log: pino({ level: 'silent' }),
      faults: new Faults(pino({ level: 'silent' })),
      connections: { exempt: () => {}, busy: () => false },
      allowedNetworks: null,
      startTimeoutMs: 300,
    });
    media.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    media.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('closes a stream that sends connected but never start with 1008 after the timeout', async () => {
    const c = await connect(`${base}/media/twilio`);
    const opened = Date.now();
    c.ws.send(CONNECTED);
    const closed = await c.closed;
    const took = Date.now() - opened;
    expect(closed.code).toBe(1008);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
    expect(asked).toEqual([]);
  });

  it('closes a silent stream with 1008 after the timeout', async () => {
    const c = await connect(`${base}/media/twilio`);
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
  });
});
