// The raw-socket fuzzer's own instruments (raw-socket.ts, raw-fuzz-report.ts),
// against a scripted server in this process: a fuzz test is only worth as much
// as its ability to see a 5xx, a hang or a silent close, however the bytes
// are split.
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FuzzReport, escapeBytes } from '../helpers/raw-fuzz-report.js';
import { ResponseReader, sendRaw, type RawCase } from '../helpers/raw-socket.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server on 127.0.0.1 that does `onSocket` with every connection. */
async function scripted(onSocket: (s: net.Socket) => void): Promise<number> {
  const held: net.Socket[] = [];
  const server = net.createServer((s) => {
    held.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  server.on('close', () => held.forEach((s) => s.destroy()));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const get = (over: Partial<RawCase> = {}): RawCase => ({
  id: 1,
  category: 'self-test',
  note: 'GET /',
  chunks: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
  finish: 'keep',
  methods: ['GET'],
  ...over,
});

describe('ResponseReader', () => {
  const stream = Buffer.from(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/' +
      'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' + // a HEAD answer: no body follows
      'HTTP/1.0 404 Not Found\r\n\r\nrest of the body until the close',
  );

  it('reads every status line, whatever the packet boundaries', () => {
    for (const size of [1, 2, 7, 64, stream.length]) {
      const r = new ResponseReader(['GET', 'POST', 'HEAD', 'GET']);
      for (let i = 0; i < stream.length; i += size) r.push(stream.subarray(i, i + size));
      r.finish();
      expect(
        r.responses.map((x) => x.status),
        `chunks of ${size}`,
      ).toEqual([100, 200, 503, 200, 404]);
      expect(r.garbage).toBeNull();
    }
  });

  it('still finds status lines after bytes that are not a response', () => {
    const r = new ResponseReader(['GET']);
    r.push(Buffer.from('garbage\r\nHTTP/1.1 500 Internal Server Error\r\n\r\n'));
    r.finish();
    expect(r.garbage).toContain('garbage');
    expect(r.responses.map((x) => x.status)).toEqual([500]);
  });

  it('stops at a 101: what follows is WebSocket', () => {
    const r = new ResponseReader(['GET']);
    r.push(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05HTTP/'));
    r.finish();
    expect(r.upgraded).toBe(true);
    expect(r.responses.map((x) => x.status)).toEqual([101]);
  });
});

describe('sendRaw and the report', () => {
  it('sees a 5xx split over packets, and reports the exact request bytes', async () => {
    const port = await scripted((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 5');
        setTimeout(() => s.write('00 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}'), 20);
      }),
    );
    const c = get({ chunks: [Buffer.from('GET /\x00 HTTP/1.1\r\n\r\n', 'latin1')] });
    const r = await sendRaw(port, c, { hangMs: 1000, quietMs: 1000 });
    expect(r.responses.map((x) => x.status)).toEqual([500]);
    const report = new FuzzReport();
    report.record(c, r);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]!.kind).toBe('5xx');
    expect(report.findings[0]!.request).toBe(JSON.stringify('GET /\x00 HTTP/1.1\r\n\r\n'));
  });

  it('counts a socket the server holds after the client half-closed as hung', async () => {
    const port = await scripted(() => {});
    const r = await sendRaw(port, get({ finish: 'end' }), { hangMs: 200, quietMs: 100 });
    expect(r.hung).toBe(true);
    const keep = await sendRaw(port, get(), { hangMs: 200, quietMs: 100 });
    expect(keep).toMatchObject({ hung: true, unanswered: 1 });
  });

  it('accepts a silent close, and stops waiting once every answer came', async () => {
    const silent = await scripted((s) => s.once('data', () => s.end()));
    expect(await sendRaw(silent, get(), { hangMs: 1000, quietMs: 1000 })).toMatchObject({ hung: false, closedByServer: true, responses: [] });
    // Answers and keeps the connection alive, as a keep-alive server does.
    const alive = await scripted((s) => s.on('data', (d: Buffer) => s.write('HTTP/1.1 204 No Content\r\n\r\n'.repeat(d.toString().split('GET ').length - 1))));
    const r = await sendRaw(alive, get({ methods: ['GET', 'GET'], chunks: [Buffer.from('GET / HTTP/1.1\r\n\r\n'.repeat(2))] }), {
      hangMs: 5000,
      quietMs: 5000,
    });
    expect(r.hung).toBe(false);
    expect(r.ms).toBeLessThan(1000);
  });

  it('notices an HTTP response written after a 101', async () => {
    const port = await scripted((s) =>
      s.once('data', () =>
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n\x88\x00HTTP/1.1 404 Not Found\r\n\r\n'),
      ),
    );
    const r = await sendRaw(port, get({ methods: ['GET', 'GET'] }), { hangMs: 300, quietMs: 300 });
    expect(r.responses.map((x) => x.status)).toEqual([200, 101]);
    expect(r.httpAfterUpgrade).toBe(true);
  });

  it('abbreviates long runs in the reported bytes', () => {
    expect(escapeBytes([Buffer.from('GET /' + 'a'.repeat(70_000) + ' HTTP/1.1\r\n')])).toBe(JSON.stringify('GET /<70000 × "a"> HTTP/1.1\r\n'));
  });
});
