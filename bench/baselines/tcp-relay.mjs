/**
 * Media baseline: the floor. A raw node:net TCP relay: every connection it
 * accepts is joined to a new connection to the assistant simulator, and
 * bytes are forwarded both ways as they arrive (the WebSocket handshake and
 * frames pass through untouched; no WebSocket work at all). What any relay
 * written in Node costs per frame on this machine: reads, writes, libuv.
 *
 * env PORT, RELAY_TARGET_PORT (on 127.0.0.1).
 */
import net from 'node:net';

const target = Number(process.env.RELAY_TARGET_PORT);
const server = net.createServer({ noDelay: true }, (c) => {
  const a = net.connect({ host: '127.0.0.1', port: target, noDelay: true });
  c.setNoDelay(true);
  c.on('data', (d) => a.write(d));
  a.on('data', (d) => c.write(d));
  const end = () => {
    c.destroy();
    a.destroy();
  };
  c.on('close', end);
  a.on('close', end);
  c.on('error', end);
  a.on('error', end);
});
server.maxConnections = 100_000;
server.listen({ host: '127.0.0.1', port: Number(process.env.PORT), backlog: 4096 }, () => process.send?.({ ready: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
