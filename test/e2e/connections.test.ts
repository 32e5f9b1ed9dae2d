// Connection exhaustion (the real process, on loopback): with the common
// 1,024 open-files limit, one address holding 1,100 idle sockets must not lock
// anybody else out. The per-address cap (a quarter of the limit by default:
// 256) closes the excess at once, and the carrier-sized headers timeout closes
// the idle ones that were let in. Other clients (from 127.0.0.2, still
// loopback) get their answers throughout.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { gatewayHooks, sleep, spawnGateway, until } from './server.js';

gatewayHooks();

/** A plain request from another loopback address; resolves with the status line's code. */
async function requestFrom(localAddress: string, port: number, path: string): Promise<number> {
  return (await exchange(localAddress, port, path)).status;
}

/** GET over a raw socket bound to localAddress; the status and the raw response. */
function exchange(localAddress: string, port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    let data = '';
    s.setTimeout(3000, () => s.destroy(new Error(`no answer to ${path} within 3 s`)));
    s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => (data += d));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) resolve({ status: Number(m[1]), text: data });
      else reject(new Error(`no status line for ${path}: ${JSON.stringify(data.slice(0, 80))}`));
    });
  });
}

describe('connection exhaustion', () => {
  it('1,100 idle sockets from one address under a 1,024 fd limit: the excess is closed at once, other clients are answered, the idle ones time out', async () => {
    const p = await spawnGateway(
      { SWITCHBOARD_ADMIN_TOKEN: 'sb_admin_conn_test_0123456789', SWITCHBOARD_HEADERS_TIMEOUT_MS: '6000', SWITCHBOARD_REQUEST_TIMEOUT_MS: '8000' },
      { wrapper: ['prlimit', '--nofile=1024:1024', '--'] },
    );
    await p.waitListening();
    const limitLine = p.lines.find((l) => l.openFiles !== undefined);
    expect(limitLine).toMatchObject({ openFiles: 1024, hardLimit: 1024, connectionsPerAddress: 256, level: 'warn' });

    const idle: net.Socket[] = [];
    let closedEarly = 0;
    try {
      await Promise.all(
        Array.from(
          { length: 1100 },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ host: '127.0.0.1', port: p.port });
              idle.push(s);
              s.on('error', () => {});
              s.once('connect', () => resolve());
              s.once('close', () => {
                closedEarly++;
                resolve();
              });
            }),
        ),
      );
      // The server closes what is over the cap as soon as it accepts it (well
      // before the 6 s silence timeout), and holds exactly the cap.
      const connectedAt = Date.now();
      await until(() => closedEarly >= 1100 - 256, 'the sockets over the cap to be closed', 2000);
      await sleep(200);
      expect(idle.filter((s) => !s.destroyed && !s.closed).length).toBe(256);
      expect(p.isAlive()).toBe(true);

      // Meanwhile, everybody else is served.
      for (let i = 0; i < 5; i++) {
        expect(await requestFrom('127.0.0.2', p.port, '/healthz')).toBe(200);
        expect(await requestFrom('127.0.0.3', p.port, '/api/teams')).toBe(401);
      }
      // (From another address: 127.0.0.1 is still at its cap here.)
      const metrics = (await exchange('127.0.0.2', p.port, '/metrics')).text;
      const refused = Number(/^switchboard_connections_refused_total (\d+)/m.exec(metrics)?.[1]);
      expect(refused).toBeGreaterThanOrEqual(1100 - 256);
      // All of that happened while the 256 were still held.
      expect(Date.now() - connectedAt).toBeLessThan(5000);
      expect(idle.filter((s) => !s.destroyed && !s.closed).length).toBe(256);

      // And the 256 idle sockets that were let in are closed by the headers timeout.
      await until(() => idle.every((s) => s.destroyed || s.closed), 'the idle sockets to time out', 15_000);
      await sleep(100);
      expect(await requestFrom('127.0.0.1', p.port, '/healthz')).toBe(200);
      expect(p.lines.some((l) => l.level === 'error' || l.level === 50)).toBe(false);
    } finally {
      for (const s of idle) s.destroy();
    }
  }, 40_000);
});
