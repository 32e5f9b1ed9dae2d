/**
 * Media baseline: a minimal `ws` relay. Every WebSocket it accepts is joined
 * to a new WebSocket to the assistant simulator, and each message is sent on
 * as received (ws parses and re-frames it). The options are the gateway's
 * own (no compression, no UTF-8 validation, the all-zero mask on the
 * assistant leg, see src/media/bridge.ts), so the difference to the gateway
 * is the gateway's own work, not a ws setting.
 *
 * env PORT, RELAY_TARGET_PORT (on 127.0.0.1).
 */
import WebSocket, { WebSocketServer } from 'ws';

const target = `ws://127.0.0.1:${process.env.RELAY_TARGET_PORT}/assistant`;
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.PORT),
  backlog: 4096,
  perMessageDeflate: false,
  skipUTF8Validation: true,
  clientTracking: false,
  maxPayload: 256 * 1024,
});
wss.on('listening', () => process.send?.({ ready: wss.address().port }));
wss.on('connection', (c) => {
  const a = new WebSocket(target, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 1024 * 1024, generateMask: (m) => void m.fill(0) });
  let queue = [];
  c.on('message', (data, isBinary) => {
    if (queue) queue.push([data, isBinary]);
    else a.send(data, { binary: isBinary });
  });
  a.on('open', () => {
    for (const [d, b] of queue) a.send(d, { binary: b });
    queue = null;
  });
  a.on('message', (data, isBinary) => c.send(data, { binary: isBinary }));
  const end = () => {
    c.terminate();
    a.terminate();
  };
  c.on('close', end);
  a.on('close', end);
  c.on('error', end);
  a.on('error', end);
});
process.on('SIGTERM', () => process.exit(0));
