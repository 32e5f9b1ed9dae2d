// The admin token is generated and printed only once the server is listening
// (hardening issue, item 7), with the real process (`node dist/src/main.js`):
//   - a start that fails because the port is taken prints ONE line on stderr
//     naming PORT (no stack trace), exits non-zero, and does not use up the
//     one-time admin token;
//   - the next successful start on the same database prints a token, which works;
//   - a later start without SWITCHBOARD_ADMIN_TOKEN prints no token but a line
//     saying how to get one.
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, gatewayHooks, spawnGateway, tempDir } from './server.js';

gatewayHooks();

describe('the one-time admin token and a port that is taken', () => {
  it('a failed start consumes nothing; the next start prints a working token; later starts say how to get one', async () => {
    const dbPath = join(tempDir('switchboard-admin-once-'), 'data', 'switchboard.db');

    // Somebody else holds the port.
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as AddressInfo).port;
    let failed;
    try {
      failed = await spawnGateway({ PORT: String(port), HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath }, { port: 'env' });
      const exit = await failed.exitWithin(15_000);
      expect(exit, 'the process should exit by itself').not.toBeNull();
      expect(exit!.code, failed.stderr()).not.toBe(0);
      expect(exit!.code).not.toBeNull();
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const stderrLines = failed
      .stderr()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(stderrLines, failed.stderr()).toHaveLength(1);
    expect(stderrLines[0]).toContain(`PORT=${port}`);
    expect(stderrLines[0]).toMatch(/in use/);
    expect(failed.stderr()).not.toMatch(/^\s+at /m); // no stack trace
    expect(failed.stderr()).not.toMatch(/EADDRINUSE.*\n.*Error/);
    // Nothing was generated, printed or listened on.
    expect(failed.lines.some((l) => 'adminToken' in l)).toBe(false);
    expect(failed.stdout()).not.toMatch(/sb_admin_/);
    expect(failed.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);

    // The next start, on a free port, on the same database: the token is printed now, and works.
    const second = await spawnGateway({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath }, { port: 'env' });
    await second.waitListening({ timeoutMs: 15_000 });
    const tokenLine = second.lines.find((l) => typeof l.adminToken === 'string');
    expect(tokenLine, second.stdout()).toBeDefined();
    const adminToken = tokenLine!.adminToken as string;
    // Printed after the listening line: the token exists only once the server is up.
    expect(second.lines.indexOf(tokenLine!)).toBeGreaterThan(second.lines.findIndex((l) => l.msg === 'switchboard listening'));
    const teams = await api(second.base, adminToken, 'GET', '/api/teams');
    expect(teams.status, teams.text).toBe(200);
    expect(await second.stop()).toEqual({ code: 0, signal: null });

    // A later start without SWITCHBOARD_ADMIN_TOKEN: no new token, a line saying how to get one; the first still works.
    const third = await spawnGateway({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_DB: dbPath }, { port: 'env' });
    await third.waitListening({ timeoutMs: 15_000 });
    const hint = await third.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('SWITCHBOARD_ADMIN_TOKEN'), {
      timeoutMs: 5000,
      what: 'the how-to-get-a-token line',
    });
    expect(hint.msg).toMatch(/admin token exists/i);
    expect(third.lines.some((l) => 'adminToken' in l)).toBe(false);
    expect(third.stdout()).not.toContain(adminToken);
    expect((await api(third.base, adminToken, 'GET', '/api/teams')).status).toBe(200);
    expect(await third.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
