// An unreachable PostgreSQL at start: one line on stderr naming SWITCHBOARD_DB
// (its password masked) and why, exit 1, no stack trace. Needs no PostgreSQL:
// the URL points at a loopback port nobody listens on.
import { describe, expect, it } from 'vitest';
import { freePort, gatewayHooks, spawnGateway } from './server.js';

gatewayHooks();

describe('SWITCHBOARD_DB=postgres://... that does not answer', () => {
  it('exits 1 with one line naming the variable, the password masked', async () => {
    const port = await freePort();
    const p = await spawnGateway({
      SWITCHBOARD_DB: `postgres://sb:very-secret-pw@127.0.0.1:${port}/switchboard`,
      SWITCHBOARD_ADMIN_TOKEN: 'sb_admin_unreachable_012345',
    });
    const exit = await p.exitWithin(20_000);
    expect(exit, 'the process should exit by itself').not.toBeNull();
    expect(exit!.code).toBe(1);
    const lines = p.stderr().trim().split('\n');
    expect(lines, p.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: cannot open SWITCHBOARD_DB=postgres:\/\/sb:\*\*\*@127\.0\.0\.1:\d+\/switchboard: nothing accepts connections/);
    expect(p.stderr() + p.stdout()).not.toContain('very-secret-pw');
    expect(p.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);
  }, 30_000);

  it('in cluster mode too: one line (not one per worker), exit 1', async () => {
    const port = await freePort();
    const p = await spawnGateway({
      SWITCHBOARD_WORKERS: '2',
      SWITCHBOARD_DB: `postgres://sb:very-secret-pw@127.0.0.1:${port}/switchboard`,
      SWITCHBOARD_ADMIN_TOKEN: 'sb_admin_unreachable_012345',
    });
    const exit = await p.exitWithin(20_000);
    expect(exit, 'the primary should exit by itself').not.toBeNull();
    expect(exit!.code).toBe(1);
    const lines = p.stderr().trim().split('\n');
    expect(lines, p.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: cannot open SWITCHBOARD_DB=postgres:\/\/sb:\*\*\*@127\.0\.0\.1:\d+\/switchboard: nothing accepts connections/);
    expect(p.stderr() + p.stdout()).not.toContain('very-secret-pw');
    expect(p.lines.some((l) => l.msg === 'switchboard listening')).toBe(false);
  }, 30_000);
});
