// Dead peers are found with ping/pong, and a peer that stops reading cannot
// make the gateway buffer without bound: both end the call, recorded.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { eventually, startGateway } from '../helpers/gateway.js';
import { CONNECTED, carrierSocket, mediaFrame, routedCall, twilioStart, callRecord } from '../helpers/media.js';

/** An assistant runtime whose sockets behave as told. */
async function assistantServer(onConnection: (ws: WebSocket) => void, opts: { autoPong?: boolean } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: opts.autoPong ?? true });
  await new Promise<void>((r) => wss.once('listening', r));
  wss.on('connection', onConnection);
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/stream`,
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

describe('dead peers (ping/pong every 100 ms here; 15 s by default)', () => {
  it('an assistant that stops answering pings ends the call: assistant_timeout, carrier closed with 1001', async () => {
    const t = await startGateway({ media: { pingIntervalMs: 100 } });
    closers.push(() => t.close());
    const base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    const silent = await assistantServer(() => {}, { autoPong: false });
    closers.push(silent.close);
    const token = await routedCall(t, 'dead-assistant', 'asst-1', silent.url);
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart('dead-assistant', token));
    const started = Date.now();
    expect((await c.closed).code).toBe(1001);
    expect(Date.now() - started).toBeLessThan(2000);
    // The sockets close as the end is recorded, not after its commit.
    await eventually(async () => (await callRecord(t, 'dead-assistant')).endReason !== null);
    const rec = await callRecord(t, 'dead-assistant');
    expect(rec.endReason).toBe('assistant_timeout');
    expect(rec.endedAt).not.toBeNull();
    expect(t.gw.liveCalls.size).toBe(0);
  });

  it('a carrier that stops answering pings ends the call: carrier_timeout, the assistant closed with 1001', async () => {
    const t = await startGateway({ media: { pingIntervalMs: 100 } });
    closers.push(() => t.close());
    const base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    let assistantClosed!: Promise<number>;
    const a = await assistantServer((ws) => {
      assistantClosed = new Promise((r) => ws.once('close', (code) => r(code)));
    });
    closers.push(a.close);
    const token = await routedCall(t, 'dead-carrier', 'asst-1', a.url);
    const ws = new WebSocket(`${base}/media/twilio`, { autoPong: false });
    await new Promise((r) => ws.once('open', r));
    ws.send(CONNECTED);
    ws.send(twilioStart('dead-carrier', token));
    await eventually(async () => (await callRecord(t, 'dead-carrier')).endedAt !== null, 3000);
    expect((await callRecord(t, 'dead-carrier')).endReason).toBe('carrier_timeout');
    expect(await assistantClosed).toBe(1001);
    ws.terminate();
  });

  it('peers that answer pings stay connected', async () => {
    const t = await startGateway({ media: { pingIntervalMs: 100 } });
    closers.push(() => t.close());
    const base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    const a = await assistantServer(() => {});
    closers.push(a.close);
    const token = await routedCall(t, 'alive', 'asst-1', a.url);
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart('alive', token));
    await new Promise((r) => setTimeout(r, 700));
    expect(t.gw.liveCalls.size).toBe(1);
    expect((await callRecord(t, 'alive')).endedAt).toBeNull();
    c.ws.close();
  });
});

describe('backpressure', () => {
  it('an assistant that stops reading ends the call once 64 KiB are unread (assistant_stalled), instead of buffering without bound', async () => {
    const t = await startGateway({ media: { maxBufferedBytes: 64 * 1024 } });
    closers.push(() => t.close());
    const base = `ws://127.0.0.1:${(await t.gw.listen()).port}`;
    // Accepts the stream, then never reads another byte.
    const a = await assistantServer((ws) => (ws as unknown as { _socket: { pause(): void } })._socket.pause());
    closers.push(a.close);
    const token = await routedCall(t, 'stalled', 'asst-1', a.url);
    const c = await carrierSocket(`${base}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart('stalled', token));
    await eventually(async () => t.gw.liveCalls.size === 1 && (await callRecord(t, 'stalled')).answeredAt !== null);
    // ~32 MB of audio frames: far more than the kernel's socket buffers hold.
    const big = mediaFrame(3).replace(/"payload":"[^"]*"/, `"payload":"${'A'.repeat(16_000)}"`);
    let sent = 0;
    for (; sent < 2000 && c.ws.readyState === WebSocket.OPEN; sent++) {
      c.ws.send(big);
      if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect((await c.closed).code).toBe(1011);
    // The sockets close as the end is recorded, not after its commit.
    await eventually(async () => (await callRecord(t, 'stalled')).endReason !== null);
    expect((await callRecord(t, 'stalled')).endReason).toBe('assistant_stalled');
    expect(t.gw.liveCalls.size).toBe(0);
    // The call ended while the carrier was still sending: the gateway did not
    // take all 32 MB into its own buffers.
    expect(sent).toBeLessThan(2000);
  });
});
