// The spliced relay (src/media/splice.ts): once a Twilio stream is bridged,
// frames cross as raw bytes instead of through ws. What a carrier and an
// assistant see must not change: frames complete, in order and byte for
// byte however TCP splits them, pings answered by the gateway, control frames
// never crossing over, close and protocol errors ending the call with the
// same reasons and codes as before.
import crypto from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { CallBridge } from '../../src/media/bridge.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CONNECTED, callRecord, mediaFrame, routedCall, twilioStart } from '../helpers/media.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One WebSocket frame; masked with a random mask when `mask`. */
function frame(op: number, payload: Buffer | string, o: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = o.mask ?? true;
  const len = data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = ((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | op;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, body]);
}

interface RxFrame {
  op: number;
  fin: boolean;
  data: Buffer;
}

/** A carrier written by hand over TCP: raw frames out, parsed frames in. */
async function rawCarrier(port: number, path: string) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const frames: RxFrame[] = [];
  // Pings are answered, but only between two of our own frames (never inside one being dribbled).
  let busy = false;
  const pongs: Buffer[] = [];
  const flushPongs = () => {
    for (const p of pongs.splice(0)) sock.write(frame(10, p));
  };
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let ended = false;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      expect(buf.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
      buf = buf.subarray(i + 4);
      upgraded = true;
    }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      expect(buf[1]! & 0x80).toBe(0); // server frames are never masked
      if (buf.length < off + len) return;
      const f = { op: buf[0]! & 0x0f, fin: (buf[0]! & 0x80) !== 0, data: Buffer.from(buf.subarray(off, off + len)) };
      frames.push(f);
      if (f.op === 9) {
        pongs.push(f.data);
        if (!busy) flushPongs();
      }
      buf = buf.subarray(off + len);
    }
  });
  const ended$ = new Promise<void>((r) => sock.once('close', () => ((ended = true), r())));
  await eventually(() => upgraded);
  return {
    sock,
    frames,
    texts: () => frames.filter((f) => f.op === 1).map((f) => f.data.toString()),
    close: () => frames.find((f) => f.op === 8),
    ended: () => ended,
    endedP: ended$,
    /** Writes `bytes` in pieces of 1..maxPiece bytes, yielding between them so they reach the gateway as separate reads. */
    async dribble(bytes: Buffer, maxPiece = 7) {
      busy = true;
      for (let i = 0; i < bytes.length;) {
        const n = 1 + Math.floor(Math.random() * maxPiece);
        sock.write(bytes.subarray(i, i + n));
        i += n;
        await new Promise((r) => setTimeout(r, 0));
      }
      busy = false;
      flushPongs();
    },
  };
}

const closeCode = (f: RxFrame | undefined) => (f ? { code: f.data.readUInt16BE(0), reason: f.data.subarray(2).toString() } : undefined);

/** An assistant runtime; every connection's messages (reassembled by ws) and its close are kept. */
async function assistantServer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', r));
  const conns: Array<{ ws: WebSocket; rx: Array<{ data: Buffer; isBinary: boolean }>; pongs: Buffer[]; closed: Promise<{ code: number; reason: string }> }> =
    [];
  wss.on('connection', (ws) => {
    const rx: Array<{ data: Buffer; isBinary: boolean }> = [];
    const pongs: Buffer[] = [];
    ws.on('message', (data: Buffer, isBinary) => rx.push({ data: Buffer.from(data), isBinary }));
    ws.on('pong', (d) => pongs.push(d));
    ws.on('error', () => {});
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    conns.push({ ws, rx, pongs, closed });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/stream`,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A gateway, an assistant, and a raw carrier whose Twilio stream is bridged with both directions spliced. */
async function splicedCall(id: string, opts: { pingIntervalMs?: number } = {}) {
  const t: TestGateway = await startGateway({ media: { ...opts } });
  closers.push(() => t.close());
  const port = (await t.gw.listen()).port;
  const a = await assistantServer();
  closers.push(a.close);
  const token = await routedCall(t, id, 'asst-1', a.url);
  const c = await rawCarrier(port, '/media/twilio');
  closers.push(async () => void c.sock.destroy());
  c.sock.write(Buffer.concat([frame(1, CONNECTED), frame(1, twilioStart(id, token))]));
  await eventually(() => a.conns.length === 1 && a.conns[0]!.rx.length === 2);
  const bridge = () => t.gw.liveCalls.get(id) as CallBridge | undefined;
  await eventually(() => bridge()?.spliced.fromCarrier === true && bridge()?.spliced.fromAssistant === true);
  return { t, a, c, asst: a.conns[0]!, bridge };
}

describe('spliced relay (Twilio, once bridged)', () => {
  it('carrier → assistant: frames split anywhere (headers too) arrive whole, in order; fragments and pings in between', async () => {
    const { t, c, asst } = await splicedCall('splice-c2a');
    const before = t.gw.mediaStats.framesToAssistant;
    const sent: string[] = [];
    const parts: Buffer[] = [];
    for (let i = 3; i < 43; i++) {
      const m = mediaFrame(i);
      sent.push(m);
      parts.push(frame(1, m));
    }
    // 16-bit and 64-bit length headers.
    const big = mediaFrame(50).replace(/"payload":"[^"]*"/, `"payload":"${'B'.repeat(70_000)}"`);
    sent.push(big);
    parts.push(frame(1, big));
    // A message in three fragments, a ping between two of them.
    sent.push('{"event":"mark","mark":{"name":"fragmented ☎"}}');
    parts.push(
      frame(1, '{"event":"mark",', { fin: false }),
      frame(9, 'are-you-there'),
      frame(0, '"mark":{"name":', { fin: false }),
      frame(0, '"fragmented ☎"}}'),
    );
    await c.dribble(Buffer.concat(parts.slice(0, 20)));
    await c.dribble(Buffer.concat(parts.slice(20)), 4000);
    await eventually(() => asst.rx.length === 2 + sent.length);
    expect(asst.rx.slice(2).map((r) => r.data.toString())).toEqual(sent);
    expect(asst.rx.every((r) => !r.isBinary)).toBe(true);
    expect(t.gw.mediaStats.framesToAssistant - before).toBe(sent.length);
    // The gateway answered the ping itself; the assistant never saw it.
    await eventually(() => c.frames.some((f) => f.op === 10));
    expect(c.frames.find((f) => f.op === 10)!.data.toString()).toBe('are-you-there');
    expect(asst.pongs).toEqual([]);
  });

  it('assistant → carrier: raw server frames split anywhere arrive whole; binary ones are dropped for Twilio', async () => {
    const { t, c, asst } = await splicedCall('splice-a2c');
    const before = { to: t.gw.mediaStats.framesToCarrier, dropped: t.gw.mediaStats.droppedBinaryToCarrier };
    const sock = (asst.ws as unknown as { _socket: net.Socket })._socket;
    const expected: string[] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const m = `{"event":"media","media":{"payload":"${i}"}}`;
      expected.push(m);
      parts.push(frame(1, m, { mask: false }));
      if (i % 10 === 5) parts.push(frame(2, Buffer.from([1, 2, 3]), { mask: false }));
      if (i === 12) parts.push(frame(2, 'bin-', { fin: false, mask: false }), frame(0, 'ary', { mask: false }));
    }
    expected.push('{"event":"clear"}');
    parts.push(frame(1, '{"event":', { fin: false, mask: false }), frame(10, 'unsolicited', { mask: false }), frame(0, '"clear"}', { mask: false }));
    const bytes = Buffer.concat(parts);
    for (let i = 0; i < bytes.length;) {
      const n = 1 + Math.floor(Math.random() * 9);
      sock.write(bytes.subarray(i, i + n));
      i += n;
      await new Promise((r) => setTimeout(r, 0));
    }
    await eventually(() => c.texts().length + c.frames.filter((f) => f.op === 0).length >= expected.length);
    await sleep(50);
    // Reassemble what the carrier got (fragments cross as fragments).
    const msgs: string[] = [];
    let cur = '';
    for (const f of c.frames) {
      expect(f.op).not.toBe(2);
      if (f.op !== 1 && f.op !== 0) continue;
      cur += f.data.toString();
      if (f.fin) {
        msgs.push(cur);
        cur = '';
      }
    }
    expect(msgs).toEqual(expected);
    expect(c.frames.some((f) => f.op === 10)).toBe(false); // control frames never cross
    expect(t.gw.mediaStats.framesToCarrier - before.to).toBe(expected.length);
    expect(t.gw.mediaStats.droppedBinaryToCarrier - before.dropped).toBe(4);
  });

  it('a close frame from the carrier: the close handshake as before, carrier_hangup, the assistant closed 1000', async () => {
    const { t, c, asst } = await splicedCall('splice-close');
    const closeBody = Buffer.alloc(2);
    closeBody.writeUInt16BE(1000);
    // A media frame and the close in one write; anything after the close is ignored.
    c.sock.write(Buffer.concat([frame(1, mediaFrame(3)), frame(8, closeBody), frame(1, mediaFrame(4))]));
    expect(await asst.closed).toEqual({ code: 1000, reason: 'carrier_hangup' });
    await eventually(() => closeCode(c.close()) !== undefined);
    expect(closeCode(c.close())!.code).toBe(1000);
    await c.endedP;
    expect(asst.rx.map((r) => r.data.toString()).slice(2)).toEqual([mediaFrame(3)]);
    await eventually(async () => (await callRecord(t, 'splice-close')).endReason === 'carrier_hangup');
    expect(t.gw.liveCalls.size).toBe(0);
  });

  it('the assistant closes: assistant_hangup, the carrier closed 1000 with that reason', async () => {
    const { t, c, asst } = await splicedCall('splice-asst-close');
    asst.ws.close(1000, 'bye');
    await eventually(() => closeCode(c.close()) !== undefined);
    expect(closeCode(c.close())).toEqual({ code: 1000, reason: 'assistant_hangup' });
    await eventually(async () => (await callRecord(t, 'splice-asst-close')).endReason === 'assistant_hangup');
  });

  it.each([
    ['an unmasked frame', () => frame(1, mediaFrame(3), { mask: false }), 1002],
    ['a reserved bit', () => frame(1, mediaFrame(3), { rsv: 0x40 }), 1002],
    ['a continuation with no message under way', () => frame(0, 'x'), 1002],
    ['an unknown opcode', () => frame(3, 'x'), 1002],
    ['a fragmented ping', () => frame(9, 'x', { fin: false }), 1002],
    ['a frame over maxPayload (256 KiB)', () => frame(1, Buffer.alloc(300 * 1024, 0x41)), 1009],
  ])('%s from the carrier: ws fails it as before (%#), carrier_error, the assistant closed 1011', async (_what, bad, code) => {
    const id = `splice-bad-${Math.random().toString(36).slice(2, 8)}`;
    const { t, c, asst } = await splicedCall(id);
    c.sock.write(Buffer.concat([frame(1, mediaFrame(3)), bad()]));
    expect(await asst.closed).toEqual({ code: 1011, reason: 'carrier_error' });
    await eventually(() => closeCode(c.close()) !== undefined);
    expect(closeCode(c.close())!.code).toBe(code);
    expect(asst.rx.map((r) => r.data.toString()).slice(2)).toEqual([mediaFrame(3)]);
    await eventually(async () => (await callRecord(t, id)).endReason === 'carrier_error');
  });

  it('heartbeat: pings from the gateway reach both peers at frame boundaries, their pongs keep the call alive', async () => {
    const { t, c, asst, bridge } = await splicedCall('splice-ping', { pingIntervalMs: 100 });
    // The carrier dribbles frames (answering each ping between two of its frames) while the gateway pings both sides.
    const sent: string[] = [];
    for (let i = 3; i < 23; i++) {
      sent.push(mediaFrame(i));
      await c.dribble(frame(1, mediaFrame(i)), 40);
    }
    await eventually(() => asst.rx.length === 2 + sent.length);
    expect(asst.rx.slice(2).map((r) => r.data.toString())).toEqual(sent);
    await sleep(300);
    expect(c.frames.filter((f) => f.op === 9).length).toBeGreaterThan(2);
    expect(asst.pongs.length).toBe(0);
    expect(bridge()?.isOpen).toBe(true);
    expect((await callRecord(t, 'splice-ping')).endedAt).toBeNull();
  });

  it('SWITCHBOARD_MEDIA_SPLICE=0: the same call stays on ws both ways, and still relays', async () => {
    const t: TestGateway = await startGateway({ env: { SWITCHBOARD_MEDIA_SPLICE: '0' } });
    closers.push(() => t.close());
    const port = (await t.gw.listen()).port;
    const a = await assistantServer();
    closers.push(a.close);
    const id = 'splice-off';
    const token = await routedCall(t, id, 'asst-1', a.url);
    const c = await rawCarrier(port, '/media/twilio');
    closers.push(async () => void c.sock.destroy());
    c.sock.write(Buffer.concat([frame(1, CONNECTED), frame(1, twilioStart(id, token))]));
    await eventually(() => a.conns.length === 1 && a.conns[0]!.rx.length === 2);
    const bridge = t.gw.liveCalls.get(id) as CallBridge;
    for (let i = 3; i < 13; i++) c.sock.write(frame(1, mediaFrame(i)));
    await eventually(() => a.conns[0]!.rx.length === 12);
    a.conns[0]!.ws.send('{"event":"mark","mark":{"name":"back"}}');
    await eventually(() => c.frames.some((f) => f.data.toString().includes('"back"')));
    await sleep(50);
    expect(bridge.spliced).toEqual({ fromCarrier: false, fromAssistant: false });
  });
});
